"""Findings of the database area: each judged against ``database.thresholds`` (and the
baseline for slow shapes), with its evidence and the production-checklist items it bears on."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pandas as pd

from opsreview.findings import Finding, Severity, peak_window
from opsreview.localtime import local_iso

if TYPE_CHECKING:
    from opsreview.database.review import DatabaseReview

AREA = "database"

# Production-checklist items (exact texts of the checklist).
PERFORMANCE = "Monitor database performance"
QUERY_MONITORING = "Database query monitoring"
INDEXES = "Database indexes on all query fields"
MONGO_INDEXES = "MongoDB indexes"
QUERY_FIELDS = "Query optimization (select only needed fields)"
EFFICIENT = "Efficient MongoDB queries"
POOLING = "Connection pooling (Mongoose default)"
DB_POOLING = "Database connection pooling"
REPLICATION = "Database replication"
SOFT_DELETES = ("Soft deletes for data retention", "Soft deletes")
VALIDATION = "Data validation"
BCRYPT = "Password hashing with bcrypt"
RETRY = "Connection retry logic"
ALL_ITEMS = (
    PERFORMANCE,
    QUERY_MONITORING,
    INDEXES,
    MONGO_INDEXES,
    QUERY_FIELDS,
    EFFICIENT,
    POOLING,
    DB_POOLING,
    REPLICATION,
    *SOFT_DELETES,
    VALIDATION,
    BCRYPT,
    RETRY,
)

# Check ids and the items they bear on (checklist.py lists them per item).
CHECKS: dict[str, tuple[str, ...]] = {
    "database.connections": (PERFORMANCE, POOLING, DB_POOLING),
    "database.connection_churn": (POOLING, DB_POOLING),
    "database.cache": (PERFORMANCE,),
    "database.queue": (PERFORMANCE,),
    "database.long_op": (PERFORMANCE, EFFICIENT),
    "database.disk_full": (PERFORMANCE,),
    "database.slow_shape": (PERFORMANCE, QUERY_MONITORING, EFFICIENT),
    "database.new_slow_shape": (QUERY_MONITORING, EFFICIENT),
    "database.slow_shape_regression": (PERFORMANCE, QUERY_MONITORING),
    "database.collscan": (INDEXES, MONGO_INDEXES, EFFICIENT),
    "database.index_suggestion": (INDEXES, MONGO_INDEXES),
    "database.unused_index": (MONGO_INDEXES,),
    "database.redundant_index": (MONGO_INDEXES,),
    "database.no_projection": (QUERY_FIELDS,),
    "database.repl_lag": (REPLICATION,),
    "database.member_unhealthy": (REPLICATION,),
    "database.oplog_window": (REPLICATION,),
    "database.standalone": (REPLICATION,),
    "database.no_validator": (VALIDATION,),
    "database.password_hash": (BCRYPT,),
    "database.soft_delete": SOFT_DELETES,
    "database.oversize_docs": (EFFICIENT,),
    "database.excess_privileges": (),
    "database.no_auth": (),
    "database.collector_error": (),
}


def _finding(
    check: str,
    severity: Severity,
    title: str,
    value: Any = None,
    threshold: Any = None,
    *,
    subject: str = "",
    window: tuple[str, str] | None = None,
    **evidence: Any,
) -> Finding:
    """A finding of ``check``; ``window`` its local ISO (start, end) when it has one."""
    clean = {k: v for k, v in evidence.items() if v is not None}
    start, end = window or (None, None)
    return Finding(AREA, check, severity, title, value, threshold, clean, CHECKS[check], subject, start, end)


def _at(ts: Any, tz: Any, seconds_before: float = 0.0) -> tuple[str, str] | None:
    """A window ending at ``ts`` (a point when ``seconds_before`` is 0); none without a time."""
    if ts is None or pd.isna(ts):
        return None
    end = pd.Timestamp(ts)
    return local_iso(end - pd.Timedelta(seconds=seconds_before), tz), local_iso(end, tz)


def _span(first: Any, last: Any, tz: Any) -> tuple[str, str] | None:
    if first is None or last is None or pd.isna(first) or pd.isna(last):
        return None
    return local_iso(first, tz), local_iso(last, tz)


def _shape_subject(row: dict[str, Any]) -> str:
    """A query shape: its operation, namespace and shape key (stable across days)."""
    return f"{row['op']} {row['ns']} {row.get('shape_key') or row.get('shape')}"


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def server_findings(review: DatabaseReview) -> list[Finding]:
    t = review.params.thresholds
    out: list[Finding] = []
    for row in review.extremes.to_dict("records"):
        host = row["host"]
        used = _num(row.get("conn_used_max"))
        if used is not None and used >= t.connections_warning:
            severity = Severity.critical if used >= t.connections_critical else Severity.warning
            out.append(
                _finding(
                    "database.connections",
                    severity,
                    f"{host}: {_pct(used)} of its connections in use at {local_iso(row['conn_used_at'], review.tz)}",
                    round(used, 4),
                    t.connections_warning,
                    subject=host,
                    window=_at(row["conn_used_at"], review.tz),
                    host=host,
                    at=local_iso(row["conn_used_at"], review.tz),
                )
            )
        dirty = _num(row.get("cache_dirty_max"))
        if dirty is not None and dirty >= t.cache_dirty_warning:
            severity = Severity.critical if dirty >= t.cache_dirty_critical else Severity.warning
            out.append(
                _finding(
                    "database.cache",
                    severity,
                    f"{host}: WiredTiger cache {_pct(dirty)} dirty at {local_iso(row['cache_dirty_at'], review.tz)}",
                    round(dirty, 4),
                    t.cache_dirty_warning,
                    subject=f"{host} dirty",  # the cache's other finding (full) has "<host> full"
                    window=_at(row["cache_dirty_at"], review.tz),
                    host=host,
                    at=local_iso(row["cache_dirty_at"], review.tz),
                )
            )
        queue = _num(row.get("queue_max"))
        if queue is not None and queue >= t.queue_warning:
            out.append(
                _finding(
                    "database.queue",
                    Severity.warning,
                    f"{host}: {queue:.0f} operations queued on the global lock at {local_iso(row['queue_at'], review.tz)}",
                    queue,
                    t.queue_warning,
                    subject=host,
                    window=_at(row.get("queue_at"), review.tz),
                    host=host,
                )
            )
    for row in review.state.to_dict("records"):
        used = _num(row.get("cache_used"))
        if used is not None and used >= t.cache_used_warning:
            out.append(
                _finding(
                    "database.cache",
                    Severity.warning,
                    f"{row['host']}: WiredTiger cache {_pct(used)} full (eviction trigger 95%)",
                    round(used, 4),
                    t.cache_used_warning,
                    subject=f"{row['host']} full",
                    host=row["host"],
                )
            )
        window = _num(row.get("oplog_window_h"))
        if window is not None and window < t.oplog_window_hours:
            out.append(
                _finding(
                    "database.oplog_window",
                    Severity.warning,
                    f"{row['host']}: the oplog covers {window:.1f} h; a secondary down longer needs a full resync",
                    round(window, 2),
                    t.oplog_window_hours,
                    subject=str(row["host"]),
                    host=row["host"],
                )
            )
        if row.get("role") == "standalone":
            out.append(
                _finding(
                    "database.standalone",
                    Severity.warning,
                    f"{row['host']} is a standalone server: no replication, no failover",
                    subject=str(row["host"]),
                    host=row["host"],
                )
            )
    churn = review.connection_churn
    for host, per_s in churn.items():
        if per_s >= t.connection_churn_per_s:
            out.append(
                _finding(
                    "database.connection_churn",
                    Severity.warning,
                    f"{host}: {per_s:.1f} new connections per second over the day (a pool reuses its connections)",
                    round(per_s, 2),
                    t.connection_churn_per_s,
                    subject=str(host),
                    host=host,
                )
            )
    ops = review.current_ops
    if len(ops):  # one operation seen by several snapshots is one finding, at its longest
        ops = ops.sort_values("secs_running").drop_duplicates(["host", "opid"], keep="last")
    for row in ops.to_dict("records"):
        secs = _num(row.get("secs_running")) or 0.0
        if secs >= t.current_op_secs:
            out.append(
                _finding(
                    "database.long_op",
                    Severity.warning,
                    f"{row['host']}: {row['op']} on {row['ns']} running for {secs:.0f} s",
                    secs,
                    t.current_op_secs,
                    subject=f"{row['host']} {row['op']} {row['ns']}",
                    window=_at(row["ts"], review.tz, secs),  # running since ts - secs
                    host=row["host"],
                    ns=row["ns"],
                    plan=row.get("plan_summary"),
                    shape=row.get("shape"),
                    app=row.get("app_name"),
                    at=local_iso(row["ts"], review.tz),
                )
            )
    forecast = review.disk
    days_left = _num(forecast.get("days_until_full"))
    if days_left is not None and days_left < t.disk_days_warning:
        severity = Severity.critical if days_left < t.disk_days_critical else Severity.warning
        out.append(
            _finding(
                "database.disk_full",
                severity,
                f"The data disk fills in about {days_left:.0f} days at the recent growth",
                round(days_left, 1),
                t.disk_days_warning,
                subject="data disk",
                growth_bytes_per_day=forecast.get("growth_bytes_per_day"),
                used_bytes=forecast.get("current_bytes"),
                total_bytes=forecast.get("disk_total_bytes"),
                reason=forecast.get("reason"),
            )
        )
    return out


def replication_findings(review: DatabaseReview) -> list[Finding]:
    t = review.params.thresholds
    out = []
    for row in review.member_lag.to_dict("records"):
        lag = _num(row.get("lag_max_s"))
        if lag is None or lag < t.lag_warning_s:
            continue
        episodes = review.lag_episodes[review.lag_episodes["member"] == row["member"]]
        spans = [
            f"{local_iso(e['start'], review.tz)} – {local_iso(e['end'], review.tz)}"
            for e in episodes.to_dict("records")
        ]
        window = _lag_window(episodes, row.get("lag_max_at"), review.tz)
        out.append(
            _finding(
                "database.repl_lag",
                Severity.critical if lag >= t.lag_critical_s else Severity.warning,
                f"{row['member']} lagged {lag:.0f} s behind the primary (at {local_iso(row['lag_max_at'], review.tz)})",
                round(lag, 1),
                t.lag_warning_s,
                subject=str(row["member"]),
                window=window,
                member=row["member"],
                p95_s=_num(row.get("lag_p95_s")),
                episodes=spans[:5],
            )
        )
    for row in review.unhealthy.to_dict("records"):
        still = bool(row["at_end"])
        out.append(
            _finding(
                "database.member_unhealthy",
                Severity.critical if still else Severity.warning,
                f"{row['member']} was {row['state_str']} in {int(row['samples'])} snapshot(s) from "
                f"{local_iso(row['first'], review.tz)} to {local_iso(row['last'], review.tz)}"
                + (" and still is at the last one" if still else ""),
                int(row["samples"]),
                0,
                subject=str(row["member"]),
                window=_span(row["first"], row["last"], review.tz),
                member=row["member"],
                state=row["state_str"],
                first=local_iso(row["first"], review.tz),
                last=local_iso(row["last"], review.tz),
            )
        )
    return out


def _lag_window(episodes: pd.DataFrame, peak: Any, tz: Any) -> tuple[str, str] | None:
    """The lag episode holding the peak (else the longest one) as the finding's window."""
    if episodes.empty:
        return None
    rows = episodes.to_dict("records")
    if peak is not None and not pd.isna(peak):
        at = pd.Timestamp(peak)
        holding = [e for e in rows if pd.Timestamp(e["start"]) <= at <= pd.Timestamp(e["end"])]
        if holding:
            return _span(holding[0]["start"], holding[0]["end"], tz)
    longest = max(rows, key=lambda e: pd.Timestamp(e["end"]) - pd.Timestamp(e["start"]))
    return _span(longest["start"], longest["end"], tz)


def query_findings(review: DatabaseReview) -> list[Finding]:
    t = review.params.thresholds
    out = []
    shapes = review.shapes
    counts = review.collection_counts
    sizes = review.collection_obj_sizes
    for row in shapes.to_dict("records"):
        evidence = {
            "ns": row["ns"],
            "op": row["op"],
            "shape": row["shape"],
            "plan": row["plan_summary"],
            "count": int(row["count"]),
            "mean_ms": round(float(row["mean_ms"]), 1),
            "p95_ms": round(float(row["p95_ms"]), 1),
            "docs_examined": int(row["docs_examined"]),
            "nreturned": int(row["nreturned"]),
            "example": row.get("example"),
            "apps": row.get("app_names"),
        }
        total_s = float(row["total_ms"]) / 1000.0
        # the window of a new or regressed shape: its peak hour when its runs came in a burst;
        # first and last seen stay in the evidence
        start, end, is_peak = peak_window(row.get("first_seen"), row.get("last_seen"), row.get("peak"), row["count"])
        about: dict[str, Any] = {
            "subject": _shape_subject(row),
            "window": _span(start, end, review.tz),
        }
        seen = _span(row.get("first_seen"), row.get("last_seen"), review.tz)
        if seen is not None:
            about["first_seen"], about["last_seen"] = seen
        if is_peak:
            about["peak_count"] = int(row["peak"]["n"])
        if float(row["p95_ms"]) > t.slow_shape_p95_ms or total_s > t.slow_shape_total_s:
            out.append(
                _finding(
                    "database.slow_shape",
                    Severity.warning,
                    f"{row['op']} on {row['ns']}: {int(row['count'])} slow runs, p95 {float(row['p95_ms']):.0f} ms, {total_s:.1f} s in all",
                    round(float(row["p95_ms"]), 1),
                    t.slow_shape_p95_ms,
                    subject=about["subject"],  # slow all day long is no anomaly window: new and regressed shapes are
                    **evidence,
                )
            )
        if row.get("new") is True:
            severity = Severity.warning if int(row["count"]) >= t.new_shape_min_count else Severity.info
            out.append(
                _finding(
                    "database.new_slow_shape",
                    severity,
                    f"New slow query shape on {row['ns']} ({row['op']}, {int(row['count'])} runs): not seen in the baseline",
                    int(row["count"]),
                    t.new_shape_min_count,
                    **about,
                    **evidence,
                )
            )
        base = _num(row.get("baseline_total_ms"))
        if (
            base is not None
            and base > 0
            and float(row["total_ms"]) >= t.regression_factor * base
            and total_s >= t.slow_shape_total_s / 4
        ):
            out.append(
                _finding(
                    "database.slow_shape_regression",
                    Severity.warning,
                    f"{row['op']} on {row['ns']} spent {total_s:.1f} s in slow runs, "
                    f"{float(row['total_ms']) / base:.1f}× its baseline day ({base / 1000:.1f} s)",
                    round(total_s, 1),
                    round(t.regression_factor * base / 1000, 1),
                    baseline_days=_num(row.get("baseline_days")),
                    baseline_count=_num(row.get("baseline_count")),
                    **about,
                    **evidence,
                )
            )
        docs = counts.get(row["ns"])
        if bool(row["collscan"]) and (docs is None or docs > t.collscan_min_docs):
            out.append(
                _finding(
                    "database.collscan",
                    Severity.warning,
                    f"Collection scan on {row['ns']}"
                    + (f" ({docs:,} documents)" if docs is not None else "")
                    + f": {int(row['count'])} runs, {int(row['docs_examined']):,} documents examined for {int(row['nreturned']):,} returned",
                    int(row["docs_examined"]),
                    t.collscan_min_docs,
                    collection_docs=docs,
                    subject=_shape_subject(row),
                    **evidence,
                )
            )
        avg = sizes.get(row["ns"])
        shape = _shape(row["shape"])
        if (
            row["op"] == "find"
            and "projection" not in shape
            and avg is not None
            and avg > t.no_projection_min_obj_bytes
        ):
            out.append(
                _finding(
                    "database.no_projection",
                    Severity.warning,
                    f"Slow find on {row['ns']} returns whole documents (average {avg / 1024:.0f} KiB): select only the fields needed",
                    round(avg),
                    t.no_projection_min_obj_bytes,
                    subject=_shape_subject(row),
                    **evidence,
                )
            )
    for row in review.advice.head(10).to_dict("records"):
        if not row.get("command"):
            continue
        out.append(
            _finding(
                "database.index_suggestion",
                Severity.warning,
                f"Index suggested on {row['ns']}: {row['command']}",
                int(row["impact_bytes"]) if _num(row.get("impact_bytes")) is not None else None,
                None,
                subject=f"{row['ns']} {row['command']}",
                ns=row["ns"],
                command=row["command"],
                shape=row["shape"],
                wasted_docs=_num(row.get("wasted_docs")),
                impact_bytes=_num(row.get("impact_bytes")),
                runs=_num(row.get("count")),
            )
        )
    return out


def _shape(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def index_findings(review: DatabaseReview) -> list[Finding]:
    t = review.params.thresholds
    out = []
    unused = review.unused
    if "judged" in unused.columns:
        unused = unused[unused["judged"].astype(bool)]
    for row in unused.to_dict("records"):
        other = _num(row.get("ops_other_hosts"))
        if other is not None and other > 0:
            continue  # used on another member (index counters are per node): not unused
        unique = row.get("unique") is True
        out.append(
            _finding(
                "database.unused_index",
                Severity.info if unique else Severity.warning,
                f"Index {row['name']} on {row['ns']} unused on {row['host']} since {local_iso(row['since'], review.tz)}"
                + (" (unique: it still enforces a constraint)" if unique else ""),
                0,
                t.unused_index_days,
                subject=f"{row['host']} {row['ns']} {row['name']}",
                ns=row["ns"],
                index=row["name"],
                key=row.get("key"),
                host=row["host"],
                size_bytes=_num(row.get("size_bytes")),
            )
        )
    for row in review.redundant.to_dict("records"):
        out.append(
            _finding(
                "database.redundant_index",
                Severity.warning,
                f"Index {row['index']} on {row['ns']} is redundant: {row['covered_by']} starts with the same keys",
                subject=f"{row['ns']} {row['index']}",
                ns=row["ns"],
                index=row["index"],
                key=row.get("key"),
                covered_by=row["covered_by"],
                covered_key=row.get("covered_key"),
                size_bytes=_num(row.get("size_bytes")),
            )
        )
    return out


def hygiene_findings(review: DatabaseReview) -> list[Finding]:
    h = review.params.hygiene
    out = []
    plain = review.no_validator
    if len(plain):
        names = sorted(plain["ns"])
        out.append(
            _finding(
                "database.no_validator",
                Severity.warning,
                f"{len(names)} collection(s) without a schema validator: {', '.join(names[:8])}",
                len(names),
                0,
                subject="collections",
                collections=names,
            )
        )
    hygiene = review.hygiene
    for row in hygiene.to_dict("records"):
        ns = row["ns"]
        values = int(row.get("password_values") or 0)
        if values:
            md5 = int(row.get("md5_like") or 0)
            not_bcrypt = int(row.get("not_bcrypt") or 0)
            strong = int(row.get("other_strong") or 0)
            weak = not_bcrypt - strong
            low = int(row.get("bcrypt_low_cost") or 0)
            evidence = {
                "ns": ns,
                "field": row.get("password_field"),
                "sampled": int(row.get("sampled") or 0),
                "hashes": values,
                "md5_like": md5,
                "not_bcrypt": not_bcrypt,
                "other_strong": strong,
                "bcrypt_low_cost": low,
            }
            if weak > 0:
                kind = f"{md5} look like unsalted MD5/SHA digests" if md5 else "not bcrypt"
                out.append(
                    _finding(
                        "database.password_hash",
                        Severity.critical,
                        f"{ns}: {weak} of {values} sampled password hashes are weak ({kind})",
                        weak,
                        0,
                        subject=f"{ns} {row.get('password_field')}",
                        **evidence,
                    )
                )
            if low > 0:
                out.append(
                    _finding(
                        "database.password_hash",
                        Severity.warning,
                        f"{ns}: {low} of {values} sampled bcrypt hashes have a cost below {h.min_bcrypt_cost}",
                        low,
                        0,
                        subject=f"{ns} {row.get('password_field')}",
                        **evidence,
                    )
                )
            if strong > 0 and weak == 0:
                out.append(
                    _finding(
                        "database.password_hash",
                        Severity.info,
                        f"{ns}: {strong} of {values} sampled password hashes are argon2/scrypt/pbkdf2, not bcrypt",
                        strong,
                        0,
                        subject=f"{ns} {row.get('password_field')}",
                        **evidence,
                    )
                )
        oversize = int(row.get("oversize_docs") or 0)
        if oversize:
            out.append(
                _finding(
                    "database.oversize_docs",
                    Severity.info,
                    f"{ns}: {oversize} of {int(row['sampled'])} sampled documents are over {h.max_doc_bytes:,} bytes",
                    oversize,
                    h.max_doc_bytes,
                    subject=ns,
                    ns=ns,
                    max_doc_bytes=_num(row.get("max_doc_bytes")),
                )
            )
    if len(hygiene) and not hygiene["soft_delete_field"].notna().any():
        out.append(
            _finding(
                "database.soft_delete",
                Severity.warning,
                f"No sampled collection has a soft-delete field ({', '.join(h.soft_delete_fields)})",
                0,
                None,
                subject="collections",
                collections=sorted(hygiene["ns"]),
            )
        )
    return out


def collector_findings(review: DatabaseReview) -> list[Finding]:
    out = []
    for row in review.privileges.to_dict("records"):
        if not row.get("user"):
            out.append(
                _finding(
                    "database.no_auth",
                    Severity.critical,
                    f"{row['host']} answered the review with no login: anyone who reaches its port can read and write",
                    subject=str(row["host"]),
                    host=row["host"],
                )
            )
        elif row.get("read_only") is False:
            roles = json.loads(row.get("excess_roles") or "[]")
            actions = json.loads(row.get("excess_actions") or "[]")
            out.append(
                _finding(
                    "database.excess_privileges",
                    Severity.warning,
                    f"The review's login {row['user']} holds more than clusterMonitor + read: "
                    + ", ".join([*roles, *actions[:6]]),
                    subject=f"{row['host']} {row['user']}",
                    host=row["host"],
                    excess_roles=roles,
                    excess_actions=actions[:20],
                )
            )
    errors = review.errors
    if len(errors):
        grouped = errors.groupby(["command", "error"], dropna=False).size().reset_index(name="times")
        lines = [f"{r['command']}: {r['error']} (×{r['times']})" for r in grouped.head(8).to_dict("records")]
        out.append(
            _finding(
                "database.collector_error",
                Severity.warning,
                f"{len(grouped)} collector command(s) failed: {lines[0]}" + (" …" if len(lines) > 1 else ""),
                int(len(errors)),
                0,
                subject="collector",
                errors=lines,
            )
        )
    return out


def all_findings(review: DatabaseReview) -> list[Finding]:
    return [
        *server_findings(review),
        *replication_findings(review),
        *query_findings(review),
        *index_findings(review),
        *hygiene_findings(review),
        *collector_findings(review),
    ]
