"""`opsreview logs summary`: totals of access-log files without a params file or a store.

The files are parsed exactly as the `access_logs` source does (same fast path and fallback)
into a throw-away store, then aggregated with DuckDB. Percentiles interpolate linearly
(DuckDB ``quantile_cont`` = numpy's default) and are null when the format logs no
response time. A route is method + template (``GET /api/orders`` and ``POST /api/orders`` are
two); without explicit routes the templates' parameters are inferred from the files' paths
(:mod:`opsreview.logs.access.route_inference`) and listed, with the params YAML to fix them.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from opsreview.logs.access.analysis import route_map
from opsreview.logs.access.morgan import MorganFormat, compile_format
from opsreview.logs.access.parse import Format, connect
from opsreview.logs.access.route_inference import RouteInference
from opsreview.logs.access.source import REQUESTS, ingest_access_file
from opsreview.logs.files import expand_paths
from opsreview.logs.params import JSON_ACCESS_FIELDS
from opsreview.logs.thresholds import LogThresholds
from opsreview.relations import quote
from opsreview.store import Store, part_key

__all__ = ["summarize_access_logs", "format_summary"]

# What the summary reads of each request: the scratch store keeps nothing else.
SUMMARY_COLUMNS = ("ts", "method", "path", "status", "response_time_ms")


def _window_sql(since: dt.datetime | None, until: dt.datetime | None) -> str:
    conditions = ["true"]
    if since is not None:
        conditions.append(f"ts >= '{since.isoformat()}'::TIMESTAMPTZ")
    if until is not None:
        conditions.append(f"ts < '{until.isoformat()}'::TIMESTAMPTZ")
    return " AND ".join(conditions)


def summarize_access_logs(
    paths: Sequence[str | Path],
    fmt: str = "combined",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    tz: str = "UTC",
    routes: Sequence[str] = (),
    host: str | None = None,
    json_fields: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Summary of access-log files (files, globs or folders); see the module docstring.

    ``since``/``until`` bound the requests counted by status/method/route (naive datetimes
    are taken in ``tz``); ``files`` and the line totals always cover whole files.
    """
    zone = ZoneInfo(tz)
    since = since.replace(tzinfo=zone) if since is not None and since.tzinfo is None else since
    until = until.replace(tzinfo=zone) if until is not None and until.tzinfo is None else until
    compiled: Format = {**JSON_ACCESS_FIELDS, **(json_fields or {})} if fmt == "json" else compile_format(fmt)
    has_rt = compiled.has_response_time if isinstance(compiled, MorganFormat) else True
    files: list[dict[str, Any]] = []
    for pattern in paths:
        found, problems = expand_paths([pattern])
        files.extend(
            {
                "path": problem.split(": ", 1)[0],
                "host": host,
                "lines": 0,
                "parsed": 0,
                "unparsed": 0,
                "non_requests": 0,
                "error": problem,
            }
            for problem in problems
        )
        for info in found:
            files.append({"info": info})
    with tempfile.TemporaryDirectory(prefix="opsreview-summary-") as scratch:
        store = Store(scratch)
        seen: set[Path] = set()
        for entry in files:
            info = entry.pop("info", None)
            if info is None:
                continue
            if info.path in seen:
                continue
            seen.add(info.path)
            label = host or info.path.parent.name
            key = part_key(str(info.path), label)
            ingested = ingest_access_file(store, info, label, compiled, fmt, zone, part=key, columns=SUMMARY_COLUMNS)
            parse = ingested.parse
            assert parse is not None
            entry.update(
                path=str(info.path),
                host=label,
                lines=parse.lines,
                parsed=parse.parsed,
                unparsed=parse.unparsed,
                non_requests=parse.non_requests,
                error=parse.error,
            )
        files = [f for f in files if "path" in f]
        summary: dict[str, Any] = {
            "files": files,
            "total_lines": sum(f["lines"] for f in files),
            "parsed": sum(f["parsed"] for f in files),
            "unparsed": sum(f["unparsed"] for f in files),
            "non_requests": sum(f["non_requests"] for f in files),
        }
        summary.update(_aggregate(store, routes, _window_sql(since, until), has_rt, zone))
    return summary


def _aggregate(store: Store, routes: Sequence[str], window: str, has_rt: bool, zone: ZoneInfo) -> dict[str, Any]:
    empty: dict[str, Any] = {
        "requests": 0,
        "by_status": {},
        "by_method": {},
        "routes": [],
        "time_range": {"first": None, "last": None},
        "inferred_routes": None if routes else _inferred(RouteInference()),
    }
    files = store.files(REQUESTS, store.days(REQUESTS))
    if not files:
        return empty
    con = connect(parsing=False)
    listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    con.execute(f"CREATE TEMP VIEW r AS SELECT * FROM read_parquet([{listing}]) WHERE {window}")
    total, first, last = con.execute("SELECT count(*), min(ts), max(ts) FROM r").fetchall()[0]
    by_status = con.execute("SELECT status, count(*) FROM r GROUP BY 1 ORDER BY 1 NULLS LAST").fetchall()
    by_method = con.execute("SELECT method, count(*) FROM r GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
    pct = "quantile_cont(response_time_ms, [0.5, 0.95, 0.99])" if has_rt else "[NULL, NULL, NULL]::DOUBLE[]"
    # a route is method + template (GET /x and POST /x are two); without --route the templates'
    # parameters are inferred from these paths (the table masks a token in a path)
    table = route_map([con.table("r")], routes, infer=None if routes else LogThresholds(), con=con)
    rows = con.execute(
        "SELECT coalesce(r.method, '-') AS method, coalesce(m._template, '-') AS template, count(*) AS n, "
        f"count(*) FILTER (WHERE status >= 500) AS e, {pct} AS q "
        f"FROM r LEFT JOIN {quote(table.name)} m ON r.path IS NOT DISTINCT FROM m._p "
        "GROUP BY 1, 2 ORDER BY n DESC, 2, 1"
    ).fetchall()
    con.close()

    def ms(value: float | None) -> float | None:
        return None if value is None else float(value)

    return {
        "requests": total,
        "by_status": {("-" if s is None else str(s)): n for s, n in by_status},
        "by_method": {("-" if m is None else m): n for m, n in by_method},
        "routes": [
            {
                "route": f"{method} {template}",
                "method": method,
                "template": template,
                "count": n,
                "errors_5xx": e,
                "error_rate": (e / n) if n else 0.0,
                "p50_ms": ms(q[0]) if q else None,
                "p95_ms": ms(q[1]) if q else None,
                "p99_ms": ms(q[2]) if q else None,
            }
            for method, template, n, e, q in rows
        ],
        "time_range": {
            "first": first.astimezone(zone).isoformat() if first else None,
            "last": last.astimezone(zone).isoformat() if last else None,
        },
        "inferred_routes": _inferred(table.inference),
    }


def _inferred(inference: RouteInference | None) -> dict[str, Any] | None:
    """The inferred route list (None with explicit routes): templates, kinds, examples, YAML."""
    if inference is None:
        return None
    return {
        "routes": inference.table().to_dict("records"),
        "parameters": list(inference.parameters),
        "yaml": inference.yaml(),
    }


def format_summary(summary: dict[str, Any], out: TextIO, top: int = 30) -> None:
    """Human-readable summary (the CLI's default output)."""
    w = out.write
    for f in summary["files"]:
        error = f"  ERROR: {f['error']}" if f.get("error") else ""
        other = f", {f['non_requests']} not requests" if f.get("non_requests") else ""
        w(
            f"{f['path']} [{f['host']}]: {f['lines']} lines, {f['parsed']} parsed, {f['unparsed']} unparsed"
            f"{other}{error}\n"
        )
    total = summary["total_lines"]
    share = f" ({summary['unparsed'] / total:.2%} unparsed)" if total else ""
    other = f", {summary['non_requests']} not requests" if summary.get("non_requests") else ""
    w(f"\ntotal: {total} lines, {summary['parsed']} parsed, {summary['unparsed']} unparsed{other}{share}\n")
    tr = summary["time_range"]
    if tr["first"]:
        w(f"time range: {tr['first']} .. {tr['last']}\n")
    w("\nby status: " + ", ".join(f"{k}: {v}" for k, v in summary["by_status"].items()) + "\n")
    w("by method: " + ", ".join(f"{k}: {v}" for k, v in summary["by_method"].items()) + "\n\n")

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    w(f"{'route':<48} {'count':>9} {'5xx':>7} {'err%':>7} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}\n")
    for r in summary["routes"][:top]:
        w(
            f"{r['route'][:48]:<48} {r['count']:>9} {r['errors_5xx']:>7} {r['error_rate']:>7.2%} "
            f"{num(r['p50_ms']):>9} {num(r['p95_ms']):>9} {num(r['p99_ms']):>9}\n"
        )
    if len(summary["routes"]) > top:
        w(f"... {len(summary['routes']) - top} more routes (--json for all)\n")
    inferred = summary.get("inferred_routes")
    if inferred and inferred["routes"]:
        w("\nroute templates inferred from the paths (--routes prints them as params YAML):\n")
        for r in inferred["routes"]:
            joined = f"  (joined :id: {r['examples']})" if r["examples"] else ""
            w(f"  {r['route']}  [{r['kind']}, {r['requests']} requests]{joined}\n")
