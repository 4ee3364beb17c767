"""Fields the access-log format does not log, as :class:`~opsreview.findings.Coverage` facts of
the sections that need them (``combined`` and ``common`` log no response time, ``common``,
``short``, ``tiny`` and ``dev`` no user agent, ``tiny`` and ``dev`` no client address, ``tiny``,
``short`` and ``dev`` no date). Days without any line: :meth:`SectionedReview.no_lines`.

A field is missing for a host when none of the host's requests of the day carries it (a few
``-`` values are normal: morgan writes ``-`` for a response that never finished). The detail
names the host and its format, the remedy the morgan token (or JSON field mapping) that logs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from opsreview.display import Section
from opsreview.findings import Coverage
from opsreview.logs.access.morgan import PREDEFINED_FORMATS, FormatError, compile_format
from opsreview.logs.params import JSON_ACCESS_FIELDS, AccessLogSource
from opsreview.relations import Relation, quote, run_sql

__all__ = ["FIELDS", "field_counts", "missing_field"]


@dataclass(frozen=True)
class LoggedField:
    """An optional column of `requests`, as people call it and as morgan logs it."""

    plural: str  # "response times"
    singular: str  # "response time"
    morgan: str  # what to add to a morgan format to log it


FIELDS: dict[str, LoggedField] = {
    "response_time_ms": LoggedField(
        "response times", "response time", "add ` :response-time ms` to the morgan format (or use `combined_rt`)"
    ),
    "user_agent": LoggedField(
        "user agents", "user agent", 'log `":user-agent"` in the morgan format (`combined` and `combined_rt` do)'
    ),
    "remote_addr": LoggedField(
        "client addresses", "client address", "log `:remote-addr` in the morgan format (`combined`, `common` and `short` do)"
    ),
    "ts": LoggedField(
        "request times", "date", "log `[:date[clf]]` in the morgan format (`combined` and `common` do)"
    ),
}  # fmt: skip


def field_counts(rel: Relation) -> pd.DataFrame:
    """Per host: the day's requests and how many carry each field of :data:`FIELDS` (one scan)."""
    counts = ", ".join(f"count({quote(c)}) AS {quote(c)}" for c in FIELDS)
    return run_sql(rel, f"SELECT host, count(*) AS requests, {counts} FROM t GROUP BY host ORDER BY host")


def _format_name(fmt: str) -> str:
    return fmt if fmt in PREDEFINED_FORMATS or fmt == "json" else f'"{fmt[:60]}"'


def _logs_column(fmt: str, column: str) -> bool:
    if fmt == "json":
        return True  # a JSON line may carry any field: only the data tells
    try:
        return column in compile_format(fmt).columns
    except FormatError:  # params validation compiles every format first
        return False


def _host_detail(host: str, column: str, sources: Sequence[AccessLogSource]) -> str:
    """Why one host's requests lack ``column``: its format, or its lines."""
    name = FIELDS[column].singular
    formats = list(dict.fromkeys(s.format for s in sources if s.host == host))
    lacking = [f for f in formats if not _logs_column(f, column)]
    if lacking:
        return f"{host} (format {', '.join(_format_name(f) for f in lacking)}) logs no {name}"
    paths = [s.json_mapping[column] for s in sources if s.host == host and s.format == "json"]
    if paths:
        return f"{host} (format json) has no `{paths[0]}` field in its lines"
    if formats:
        return f"{host} logged `-` for every {name}"
    return f"{host} logs no {name}"


def _remedy(column: str, hosts: Sequence[str], sources: Sequence[AccessLogSource]) -> str:
    kinds = {"json" if s.format == "json" else "morgan" for s in sources if s.host in hosts} or {"morgan"}
    parts = []
    if "morgan" in kinds:
        parts.append(f"{FIELDS[column].morgan}, and set the host's `format:` under `logs.access` to match")
    if "json" in kinds:
        parts.append(
            f"point `json_fields: {{{column}: …}}` of the host under `logs.access` at the field that holds it "
            f"(default `{JSON_ACCESS_FIELDS[column]}`)"
        )
    return "; for JSON logs ".join(parts) if len(parts) == 2 else parts[0]


def missing_field(
    section: Section,
    column: str,
    counts: pd.DataFrame,
    sources: Sequence[AccessLogSource],
    checklist: Sequence[str] = (),
    effect: str = "",
) -> Coverage | None:
    """A fact when some host's requests of the day all lack ``column`` (``counts`` from
    :func:`field_counts`); None when every host with requests logs it. ``effect`` says
    what the section cannot show without it."""
    with_rows = counts[counts["requests"] > 0]
    lacking = [str(h) for h in with_rows.loc[with_rows[column] == 0, "host"]]
    if not lacking:
        return None
    covered = [str(h) for h in with_rows.loc[with_rows[column] > 0, "host"]]
    detail = "; ".join(_host_detail(h, column, sources) for h in lacking)
    if covered:
        detail += (
            f"; only {', '.join(covered)} {'does' if len(covered) == 1 else 'do'}, and the section shows that alone"
        )
    remedy = _remedy(column, lacking, sources)
    return section.not_verifiable("logs", f"No {FIELDS[column].plural}", detail, remedy, lacking, checklist, effect)
