"""Route templates: group request paths the way the app's router does.

``/api/products/123?x=1`` -> ``/api/products/:id``. The query string (and fragment) is
dropped, then each path segment that looks like an id becomes ``:id``:

- a decimal number (``123``),
- a UUID (``3f1c...-....``, any version),
- a hex string of 8+ characters holding at least one digit (Mongo ObjectIds are 24 hex
  characters; SHA/MD5 digests, short hashes) - so words such as ``deadbeef`` or ``facade``
  stay as they are.

Explicit templates from params (``logs.routes``, Express syntax: ``/api/users/:userId/orders``,
``*`` for "anything") win over the automatic rules. (Without them, the review and ``logs
summary`` infer the parameters that do not look like ids from the data and apply them as such
a list: :mod:`opsreview.logs.access.route_inference`.) When several explicit templates match, the
one with the most literal segments wins (``/api/users/me`` before ``/api/users/:id``), then
the earlier in the list. Matching is case-sensitive and tolerates one trailing slash.

Two implementations that agree (tested on one table): :func:`route_template` for a single
path in Python, and :func:`route_template_sql` - a DuckDB expression - for millions of rows.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

__all__ = ["ID_PLACEHOLDER", "compile_routes", "route_template", "route_template_sql", "with_route_sql"]

ID_PLACEHOLDER = ":id"

# The automatic rules, written once in the RE2/Python common subset.
_NUMBER = r"[0-9]+"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_HEX_WITH_DIGIT = r"[0-9a-fA-F]*[0-9][0-9a-fA-F]*"
_MIN_HEX_LEN = 8
_ID_SEGMENT = re.compile(f"{_NUMBER}|{_UUID}")
_HEX_SEGMENT = re.compile(_HEX_WITH_DIGIT)

_PARAM = re.compile(r"^:[A-Za-z_][A-Za-z0-9_]*\??$")


def _is_id_segment(segment: str) -> bool:
    if _ID_SEGMENT.fullmatch(segment):
        return True
    return len(segment) >= _MIN_HEX_LEN and _HEX_SEGMENT.fullmatch(segment) is not None


def strip_query(url: str) -> str:
    """The path part of a logged URL: everything before ``?`` or ``#``."""
    cut = len(url)
    for mark in ("?", "#"):
        at = url.find(mark)
        if at != -1 and at < cut:
            cut = at
    return url[:cut]


# A parameter inside a segment, as Express 4 writes them: `/flights/:from-:to`,
# `/plantae/:genus.:species`, `/users/:id(\\d+)` (a custom pattern, RE2 syntax).
_INNER_PARAM = re.compile(r"([.-]?):([A-Za-z_][A-Za-z0-9_]*)(\((?:[^()]|\([^()]*\))*\))?(\??)")


def _segment_regex(segment: str) -> str:
    """Regex of one segment holding literal text, ``*`` and parameters; an optional one
    (``/:id.:format?``) takes the ``.`` or ``-`` before it along, as Express does."""
    out, pos = [], 0
    for match in _INNER_PARAM.finditer(segment):
        out.append(".*".join(re.escape(piece) for piece in segment[pos : match.start()].split("*")))
        lead, _, pattern, optional = match.groups()
        value = f"(?:{pattern[1:-1]})" if pattern else "[^/]+?"
        out.append(f"(?:{re.escape(lead)}{value})?" if optional else f"{re.escape(lead)}{value}")
        pos = match.end()
    out.append(".*".join(re.escape(piece) for piece in segment[pos:].split("*")))
    return "".join(out)


def _template_regex(template: str) -> str:
    """An anchored regex (RE2 and Python compatible) for one Express-style route template."""
    segments = template.strip().rstrip("/").split("/")
    body = ".*".join(re.escape(piece) for piece in segments[0].split("*"))
    for segment in segments[1:]:
        if _PARAM.match(segment):
            # Express: an optional parameter takes its slash with it (`/items/:id?` matches `/items`)
            body += "(/[^/]+)?" if segment.endswith("?") else "/[^/]+"
        else:
            body += "/" + _segment_regex(segment)
    return f"^{body}/?$" if body else "^/?$"


def _literal_segments(template: str) -> int:
    return sum(1 for s in template.split("/") if s and ":" not in s and "*" not in s)


@functools.lru_cache(maxsize=64)
def _compiled(routes: tuple[str, ...]) -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    ordered = sorted(enumerate(routes), key=lambda item: (-_literal_segments(item[1]), item[0]))
    out = []
    for _, template in ordered:
        regex = _template_regex(template)
        out.append((template.strip(), regex, re.compile(regex)))
    return tuple(out)


def compile_routes(routes: Sequence[str]) -> list[tuple[str, str]]:
    """(template, regex) pairs in the order they are tried. Raises ValueError on an empty template."""
    for template in routes:
        if not template.strip().startswith(("/", "*")):
            raise ValueError(f"route template {template!r} must start with '/'")
    return [(t, r) for t, r, _ in _compiled(tuple(routes))]


def route_template(path: str | None, routes: Sequence[str] = ()) -> str | None:
    """The route template of one logged URL or path (None stays None)."""
    if path is None:
        return None
    path = strip_query(path)
    for template, _, pattern in _compiled(tuple(routes)):
        if pattern.search(path):
            return template
    if len(path) > 1 and path.endswith("/"):  # Express (not strict): /items/ is /items
        path = path[:-1]
    return "/".join(ID_PLACEHOLDER if _is_id_segment(s) else s for s in path.split("/"))


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def route_template_sql(column: str, routes: Sequence[str] = ()) -> str:
    """A DuckDB SQL expression computing :func:`route_template` of ``column`` (vectorised).

    ``column`` is inserted as is (quote it yourself if needed, e.g. ``'"path"'``).
    """
    compile_routes(routes)  # validate
    path = f"split_part(split_part({column}, '?', 1), '#', 1)"
    segment_is_id = (
        f"(regexp_full_match(s, {_sql_string(_NUMBER + '|' + _UUID)}) "
        f"OR (length(s) >= {_MIN_HEX_LEN} AND regexp_full_match(s, {_sql_string(_HEX_WITH_DIGIT)})))"
    )
    trimmed = f"regexp_replace({path}, '(.)/$', '\\1')"  # /items/ is /items (not the root)
    auto = (
        f"array_to_string(list_transform(string_split({trimmed}, '/'), "
        f"lambda s: CASE WHEN {segment_is_id} THEN {_sql_string(ID_PLACEHOLDER)} ELSE s END), '/')"
    )
    if not routes:
        return f"(CASE WHEN {column} IS NULL THEN NULL ELSE {auto} END)"
    whens = " ".join(
        f"WHEN regexp_matches({path}, {_sql_string(regex)}) THEN {_sql_string(template)}"
        for template, regex, _ in _compiled(tuple(routes))
    )
    return f"(CASE WHEN {column} IS NULL THEN NULL {whens} ELSE {auto} END)"


def with_route_sql(source: str, routes: Sequence[str] = (), path_column: str = "path") -> str:
    """``SELECT *, route FROM source``, templating each *distinct* path once.

    Much cheaper than :func:`route_template_sql` per row when paths repeat (a day of traffic
    has far fewer distinct paths than requests). ``source`` is a table name or a
    parenthesised subquery; it is scanned twice (distinct paths, then the rows).
    """
    mapping = (
        f"SELECT _p, {route_template_sql('_p', routes)} AS route "
        f"FROM (SELECT DISTINCT {path_column} AS _p FROM {source} _s1)"
    )
    return f"SELECT _s2.*, _m.route FROM {source} _s2 LEFT JOIN ({mapping}) _m ON _s2.{path_column} = _m._p"
