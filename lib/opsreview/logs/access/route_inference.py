"""Route templates inferred from the traffic, for when the params list no routes.

The automatic rules of :mod:`opsreview.logs.access.routes` template what looks like an id
(numbers, UUIDs, long hex). Express's ``/api/products/:id`` matches any segment, though -
``abc``, ``undefined``, ``null``, ``-1``, ``12abc``, slugs - and without a route list each of
those came out as a route of its own. This module finds the parameter positions in the
day's distinct paths:

1. Segment positions are judged left to right, each under its prefix as templated so far
   (``/api/users/:id/orders`` is one prefix for every user).
2. A position is a parameter when at least ``route_param_min_values`` of its distinct values
   are id-shaped or were answered other than 404 (scanner junk such as ``/.env`` is answered
   404, so it never turns the root into a parameter). A value with that many distinct
   segments below it names a collection (``/api/products``) and does not count.
3. At a parameter position every value becomes ``:id``, except a plain word (letters, ``-``,
   ``_``) answered other than 404 with at least ``route_literal_min_requests`` requests and
   ``route_literal_min_share`` of the position's requests: a literal route such as
   ``/api/users/me`` or ``/api/products/featured``. ``undefined``, ``null`` and ``NaN`` (what
   a client sends when its id variable is unset) are never literal.

The outcome is a route list (:attr:`RouteInference.routes`): the templates the app answered
(some request other than 404) with a parameter the automatic rules do not see, and the literal
routes those would otherwise capture. Every path's route is what that list gives as explicit
``logs.routes`` (:attr:`RouteInference.mapping` is computed from the list, not from the steps
above), so pasting :meth:`RouteInference.yaml` into the params reproduces the report's routes.

Only distinct paths are read, grouped by their automatic template, with at most
``route_param_min_values`` sample values per id position (enough to decide every threshold
exactly): a day of ten million requests with ids is a few hundred groups. Where one prefix has
more than :data:`FOLD_KEEP` distinct last segments (free-text search terms, file names), its
busiest keep their own group and the rest are folded into one that counts their answered
values, so that the Python side stays small (:func:`path_groups_sql`; :func:`path_groups` is
its Python twin, for tests and small inputs). A day with more than :data:`MAX_GROUPS` groups even
so (a high-cardinality segment inside paths: ``/users/<name>/avatar`` for a million names) is
inferred from its :data:`MAX_GROUPS` busiest; the list found still applies to every path.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import duckdb
import pandas as pd
import yaml

from opsreview.logs.access.routes import ID_PLACEHOLDER, route_template, strip_query
from opsreview.logs.thresholds import LogThresholds
from opsreview.masking import masked
from opsreview.relations import quote, sql_string

log = logging.getLogger("opsreview")

__all__ = ["PathGroup", "RouteInference", "infer_routes", "path_groups", "path_groups_sql"]

_WORD = re.compile(r"[A-Za-z]+(?:[-_][A-Za-z]+)*")
# What a JavaScript client puts in a URL when its id variable is unset: never a route's own word.
_UNSET = frozenset({"undefined", "null", "NaN"})
_MAX_EXAMPLES = 5
# Leaves of one prefix beyond its FOLD_KEEP busiest are folded into one group, whose last
# segment is this (no path has it; a literal word of a route could only be among the busiest).
FOLD_KEEP = 500
_FOLDED = "\x01"
# The busiest groups inferred from (about 20 µs and 2 kB of Python each): a bound on the cost.
MAX_GROUPS = 20_000


@dataclass(frozen=True)
class PathGroup:
    """The distinct paths of one automatic template (``/api/orders/:id``)."""

    template: str
    requests: int
    answered: bool  # some request was answered other than 404
    # index of an id segment in ``template.split("/")`` -> up to `route_param_min_values` of its raw values
    values: dict[int, frozenset[str]] = field(default_factory=dict)
    folded: int = 0  # a folded group (last segment _FOLDED): its answered values, up to the cap


def _fold(groups: list[PathGroup], cap: int, keep: int) -> list[PathGroup]:
    """Fold the leaves of each prefix beyond its ``keep`` busiest (what :func:`path_groups_sql` does)."""
    keep = max(keep, cap)
    leaves: dict[str, list[PathGroup]] = defaultdict(list)
    out = []
    for group in groups:
        parent, sep, last = group.template.rpartition("/")
        if sep and last != ID_PLACEHOLDER:
            leaves[parent].append(group)
        else:
            out.append(group)
    for parent, members in leaves.items():
        members.sort(key=lambda g: (-g.requests, g.template))
        out += members[:keep]
        rest = members[keep:]
        if rest:
            values: dict[int, set[str]] = defaultdict(set)
            for group in rest:
                for i, v in group.values.items():
                    values[i] |= v
            out.append(
                PathGroup(
                    f"{parent}/{_FOLDED}",
                    sum(g.requests for g in rest),
                    any(g.answered for g in rest),
                    {i: frozenset(sorted(v)[:cap]) for i, v in values.items()},
                    min(sum(g.answered for g in rest), cap),
                )
            )
    return sorted(out, key=lambda g: g.template)


def _trimmed(path: str) -> str:
    """The path as templated: no query, and /items/ is /items (as :func:`route_template`)."""
    path = strip_query(path)
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


def path_groups(
    requests: Iterable[tuple[str | None, int | None]],
    cap: int,
    fold_keep: int = FOLD_KEEP,
    max_groups: int = MAX_GROUPS,
) -> list[PathGroup]:
    """Groups of ``(path, status)`` requests by automatic template (the twin of :func:`path_groups_sql`)."""
    paths: dict[str, list[int]] = {}
    for path, status in requests:
        if path is None:
            continue
        entry = paths.setdefault(_trimmed(path), [0, 0])
        entry[0] += 1
        entry[1] |= status is not None and status != 404
    groups: dict[str, tuple[list[int], dict[int, set[str]]]] = {}
    for path, (n, answered) in paths.items():
        template = str(route_template(path))
        totals, values = groups.setdefault(template, ([0, 0], defaultdict(set)))
        totals[0] += n
        totals[1] |= answered
        for i, (raw, seg) in enumerate(zip(path.split("/"), template.split("/"), strict=True)):
            if seg == ID_PLACEHOLDER and raw != ID_PLACEHOLDER:
                values[i].add(raw)
    found = [
        PathGroup(t, n, bool(a), {i: frozenset(sorted(v)[:cap]) for i, v in values.items()})
        for t, ((n, a), values) in groups.items()
    ]
    busiest = sorted(_fold(found, cap, fold_keep), key=lambda g: (-g.requests, g.template))[:max_groups]
    return sorted(busiest, key=lambda g: g.template)


def path_groups_sql(
    con: duckdb.DuckDBPyConnection, table: str, cap: int, fold_keep: int = FOLD_KEEP, max_groups: int = MAX_GROUPS
) -> list[PathGroup]:
    """Groups from ``table`` (one row per distinct path: ``_p``, its automatic template
    ``_auto``, ``n`` requests, ``answered``), with the ``cap`` smallest values per id position,
    folded as the module docstring says."""
    source = quote(table)
    path = "split_part(split_part(_p, '?', 1), '#', 1)"  # as :func:`route_template` reads it
    keep, folded = max(int(fold_keep), int(cap)), sql_string(_FOLDED)
    rows = con.execute(
        f"""
        WITH g AS (
            SELECT _auto, sum(n)::BIGINT AS n, bool_or(answered) AS answered FROM {source}
            WHERE _p IS NOT NULL GROUP BY _auto
        ), segs AS (
            SELECT DISTINCT _auto, i, v FROM (
                SELECT _auto, generate_subscripts(s, 1) - 1 AS i, unnest(s) AS v, unnest(t) AS tv
                FROM (
                    SELECT _auto, string_split(regexp_replace({path}, '(.)/$', '\\1'), '/') AS s,
                           string_split(_auto, '/') AS t
                    FROM {source} WHERE _p IS NOT NULL AND contains(_auto, '{ID_PLACEHOLDER}')
                )
            ) WHERE tv = '{ID_PLACEHOLDER}' AND v <> '{ID_PLACEHOLDER}'
        ), v AS (SELECT _auto, i, min(v, {int(cap)}) AS vals FROM segs GROUP BY _auto, i),
        ranked AS (  -- which groups are folded: the plain columns first, the value lists for the few kept
            SELECT *, parent IS NOT NULL AND row_number() OVER (
                PARTITION BY parent ORDER BY n DESC, _auto) > {keep} AS fold
            FROM (
                SELECT *, CASE WHEN contains(_auto, '/') AND NOT ends_with(_auto, '/{ID_PLACEHOLDER}')
                               THEN regexp_extract(_auto, '^(.*)/[^/]*$', 1) END AS parent
                FROM g
            )
        ), top AS (
            SELECT * FROM (
                SELECT _auto AS template, n, answered, 0 AS folded, _auto, NULL AS parent FROM ranked WHERE NOT fold
                UNION ALL
                SELECT parent || '/' || {folded}, sum(n)::BIGINT, bool_or(answered),
                       least(count(*) FILTER (WHERE answered), {int(cap)}), NULL, parent
                FROM ranked WHERE fold GROUP BY parent
            ) ORDER BY n DESC, template LIMIT {int(max_groups)}
        ), kept_values AS (
            SELECT _auto, list({{'i': i, 'vals': vals}}) AS pairs FROM v
            WHERE _auto IN (SELECT _auto FROM top) GROUP BY _auto
        ), folded_values AS (
            SELECT parent, list({{'i': i, 'vals': vals}}) AS pairs FROM (
                SELECT parent, i, min(x, {int(cap)}) AS vals FROM (
                    SELECT DISTINCT r.parent, v.i, unnest(v.vals) AS x
                    FROM ranked r JOIN v USING (_auto) WHERE r.fold AND r.parent IN (SELECT parent FROM top)
                ) GROUP BY parent, i
            ) GROUP BY parent
        )
        SELECT top.template, top.n, top.answered, coalesce(k.pairs, f.pairs), top.folded
        FROM top LEFT JOIN kept_values k USING (_auto) LEFT JOIN folded_values f USING (parent)
        """
    ).fetchall()
    if len(rows) >= max_groups:
        log.info("route inference: %d busiest path groups of %s used (the rest are rarer)", len(rows), table)
    rows.sort(key=lambda row: row[0])
    return [
        PathGroup(t, int(n), bool(a), {int(p["i"]): frozenset(p["vals"]) for p in (pairs or [])}, int(f))
        for t, n, a, pairs, f in rows
    ]


@dataclass
class _Item:
    """A group on its way through the positions: its segments as templated so far."""

    group: PathGroup
    segs: list[str]
    joined: list[str] = field(default_factory=list)  # its words that became :id
    kept: bool = False  # a word of it stayed literal at a parameter position


@dataclass
class _Word:
    requests: int = 0
    answered: bool = False
    items: list[_Item] = field(default_factory=list)


def _is_id(item: _Item, depth: int) -> bool:
    return depth in item.group.values or item.segs[depth] == ID_PLACEHOLDER


def _names_collection(items: list[_Item], depth: int, cap: int) -> bool:
    """Whether these paths have at least ``cap`` distinct segments at ``depth``."""
    below: set[str] = set()
    for item in items:
        if len(item.segs) > depth:
            below |= item.group.values.get(depth, {item.segs[depth]})
            if len(below) >= cap:
                return True
    return False


def _judge(here: list[_Item], depth: int, th: LogThresholds, parameters: list[str]) -> None:
    """Decide whether ``depth`` is a parameter position of these items (one prefix); if so,
    turn their words at it into :id, but for literal routes."""
    cap = th.route_param_min_values
    ids: set[str] = set()
    words: dict[str, _Word] = {}
    for item in here:
        if _is_id(item, depth):
            ids |= item.group.values.get(depth, frozenset())
        else:
            word = words.setdefault(item.segs[depth], _Word())
            word.requests += item.group.requests
            word.answered |= item.group.answered
            word.items.append(item)
    # a folded group stands for the answered values folded into it
    folded = sum(item.group.folded for item in words[_FOLDED].items) if _FOLDED in words else 0
    if len(ids) + len(words) + folded < cap:
        return
    counted = min(len(ids), cap) + min(folded, cap)
    for value, word in words.items():
        if counted >= cap:
            break
        if value != _FOLDED:
            counted += word.answered and not _names_collection(word.items, depth + 1, cap)
    if counted < cap:
        return
    parameters.append("/".join([*here[0].segs[:depth], ID_PLACEHOLDER]))
    total = sum(item.group.requests for item in here)
    for value, word in words.items():
        literal = (
            word.requests >= th.route_literal_min_requests
            and word.requests >= th.route_literal_min_share * total
            and word.answered
            and value not in _UNSET
            and _WORD.fullmatch(value) is not None
        )
        for item in word.items:
            if literal:
                item.kept = True
            else:
                item.segs[depth] = ID_PLACEHOLDER
                item.joined.append(value)


def _listable(template: str) -> bool:
    """Whether a template means itself in ``logs.routes``: no ``*`` or ``:`` inside a literal
    segment (Express syntax would read them), and nothing that masking would hide."""
    if not template.startswith("/") or _FOLDED in template:
        return False
    if any(("*" in s or ":" in s) for s in template.split("/") if s != ID_PLACEHOLDER):
        return False
    return masked(template) == template


class _Node:
    __slots__ = ("children", "ends")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.ends: list[tuple[int, int, str]] = []


class _Matcher:
    """:func:`~opsreview.logs.access.routes.route_template` of an automatic template with a
    list of plain templates (literal or ``:id`` segments), in a trie: the template with the most
    literal segments wins, then the earlier in the list. (A parameter matches any non-empty
    segment, ``:id`` included; a literal only itself - and never ``:id``, as literals are plain.)"""

    def __init__(self, routes: Sequence[str]) -> None:
        self.root = _Node()
        for index, template in enumerate(routes):
            node = self.root
            segs = template.split("/")
            for seg in segs:
                node = node.children.setdefault(seg, _Node())
            node.ends.append((-sum(1 for s in segs if s and s != ID_PLACEHOLDER), index, template))

    def route(self, template: str) -> str | None:
        segs = template.split("/")
        best: tuple[int, int, str] | None = None
        stack = [(self.root, 0)]
        while stack:
            node, depth = stack.pop()
            if depth == len(segs):
                for end in node.ends:
                    best = end if best is None or end < best else best
                continue
            seg = segs[depth]
            literal = node.children.get(seg)
            if literal is not None and seg != ID_PLACEHOLDER:
                stack.append((literal, depth + 1))
            param = node.children.get(ID_PLACEHOLDER)
            if param is not None and seg:
                stack.append((param, depth + 1))
        return None if best is None else best[2]


def _route_order(templates: Iterable[str]) -> list[str]:
    """The list as written to params: most literal segments first (the order they are tried in)."""
    return sorted(set(templates), key=lambda t: (-sum(1 for s in t.split("/") if s and s != ID_PLACEHOLDER), t))


@dataclass(frozen=True)
class RouteInference:
    """Route templates inferred from the data: the list to paste into ``logs.routes``, and
    what it does to each automatic template seen."""

    routes: tuple[str, ...] = ()
    # automatic template -> route, for every template seen that the list changes
    mapping: dict[str, str] = field(default_factory=dict)
    # parameter positions found ("/api/products/:id"), also those the automatic rules covered
    parameters: tuple[str, ...] = ()
    # per listed template: "parameter" (values that are not id-shaped joined :id) or "literal"
    kinds: dict[str, str] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    examples: dict[str, tuple[str, ...]] = field(default_factory=dict)  # masked

    def route(self, template: str) -> str:
        """The route of an automatic template."""
        return self.mapping.get(template, template)

    def yaml(self) -> str:
        """The list as params YAML: its ``routes:`` goes under ``logs:`` (empty: nothing inferred)."""
        if not self.routes:
            return ""
        body = yaml.safe_dump({"logs": {"routes": list(self.routes)}}, sort_keys=False, default_flow_style=False)
        return "# route templates inferred from the access logs (opsreview); paste `routes:` under `logs:`\n" + body

    def table(self) -> pd.DataFrame:
        """One row per listed template: kind, requests, and the values that joined its ``:id``."""
        return pd.DataFrame(
            {
                "route": list(self.routes),
                "kind": [self.kinds.get(t, "literal") for t in self.routes],
                "requests": [self.requests.get(t, 0) for t in self.routes],
                "examples": [", ".join(self.examples.get(t, ())) for t in self.routes],
            }
        )


def infer_routes(groups: Sequence[PathGroup], th: LogThresholds | None = None) -> RouteInference:
    """The route list inferred from ``groups`` (see the module docstring)."""
    th = th or LogThresholds()
    items = [_Item(g, g.template.split("/")) for g in groups]
    parameters: list[str] = []
    stack: list[tuple[list[_Item], int]] = [(items, 1)]
    while stack:
        node, depth = stack.pop()
        here = [item for item in node if len(item.segs) > depth]
        if not here:
            continue
        _judge(here, depth, th, parameters)
        children: dict[str, list[_Item]] = defaultdict(list)
        for item in here:
            children[item.segs[depth]].append(item)
        stack.extend((kids, depth + 1) for kids in children.values())

    wanted = {item.group.template: "/".join(item.segs) for item in items}
    listable: dict[str, bool] = {}  # masking is costly: once per distinct template

    def may_list(template: str) -> bool:
        if template not in listable:
            listable[template] = _listable(template)
        return listable[template]

    # a template is listed when a parameter was inferred in it and the app answered it (some
    # request other than 404): /api/articles/:id, not a scanner's /api/articles/:id/wp-login.php
    answered = {wanted[i.group.template] for i in items if i.group.answered}
    listed = {wanted[i.group.template] for i in items if i.joined}
    listed = {t for t in listed if t in answered and may_list(t)}
    # A listed template may capture a path that should keep its own route (a literal kept at a
    # parameter position, /api/articles/featured): list that route too, until nothing changes.
    # What stays unlisted (unanswered junk) gets what the list gives, as a pasted list would.
    for attempt in range(6):
        matcher = _Matcher(_route_order(listed))
        got = {template: matcher.route(template) or template for template in wanted}
        missing = {w for t, w in wanted.items() if got[t] != w and w in answered and w not in listed and may_list(w)}
        if not missing or attempt == 5:
            break
        listed |= missing
    routes = _route_order(listed)
    mapping = {template: route for template, route in got.items() if route != template}
    kinds: dict[str, str] = {}
    requests: dict[str, int] = defaultdict(int)
    # a few values that joined each route's :id, unset ids first (they point at a client's bug)
    examples: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for item in items:
        route = got[item.group.template]
        if route not in listed:
            continue
        requests[route] += item.group.requests
        if item.joined:
            kinds[route] = "parameter"
            for value in item.joined:
                if value == _FOLDED:
                    continue
                shown = examples[route][value not in _UNSET]
                if len(shown) < _MAX_EXAMPLES and (text := masked(value)) not in shown:
                    shown.append(text)
    return RouteInference(
        routes=tuple(routes),
        mapping=mapping,
        parameters=tuple(sorted({masked(p) for p in parameters})),
        kinds={t: kinds.get(t, "literal") for t in routes},
        requests=dict(requests),
        examples={t: tuple((unset + other)[:_MAX_EXAMPLES]) for t, (unset, other) in examples.items()},
    )
