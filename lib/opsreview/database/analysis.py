"""Pure functions over the database tables: rates the way mongostat computes them, the state
at the latest snapshot, replication lag, slow shapes against the baseline.

Counters in serverStatus are cumulative since the server started. Two snapshots of one host
give a rate: Δcounter / Δt; the mean latency of an operation type is Δlatency / Δops
(``opLatencies`` in µs). A pair across a restart (uptime went down, a counter went down) is
no rate and is dropped.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

OPS = ("insert", "query", "update", "delete", "getmore", "command")
LATENCIES = ("reads", "writes", "commands", "transactions")
_COUNTERS = (
    *(f"op_{op}" for op in OPS),
    "repl_insert",
    "repl_update",
    "repl_delete",
    "conn_total_created",
    "net_bytes_in",
    "net_bytes_out",
    "net_requests",
    "page_faults",
    "asserts_regular",
    "asserts_warning",
    "asserts_user",
    "txn_total_committed",
    "txn_total_aborted",
)
HEALTHY_STATES = {1: "PRIMARY", 2: "SECONDARY", 7: "ARBITER"}


def rates(server: pd.DataFrame, min_interval_s: float = 1.0) -> pd.DataFrame:
    """Per host, one row per pair of consecutive snapshots: ``<counter>_per_s`` for every
    cumulative counter, ``<type>_ms_per_op`` for every latency type (None when no op of that
    type ran), ``interval_s``; indexed by the later snapshot's ``ts``."""
    columns = [
        "ts",
        "host",
        "interval_s",
        *(f"{c}_per_s" for c in _COUNTERS),
        *(f"{t}_ms_per_op" for t in LATENCIES),
        *(f"{t}_ops_per_s" for t in LATENCIES),
    ]
    if server.empty:
        return pd.DataFrame(columns=columns)
    frames = []
    for host, rows in server.sort_values("ts").groupby("host", sort=True):
        rows = rows.reset_index(drop=True)
        if len(rows) < 2:
            continue
        out = pd.DataFrame({"ts": rows["ts"], "host": host})
        out["interval_s"] = rows["ts"].diff().dt.total_seconds()
        restart = rows["uptime_s"].diff() < 0
        for counter in _COUNTERS:
            delta = rows[counter].astype("float64").diff()
            restart |= delta < 0
        for counter in _COUNTERS:
            out[f"{counter}_per_s"] = rows[counter].astype("float64").diff() / out["interval_s"]
        for kind in LATENCIES:
            d_us = rows[f"lat_{kind}_us"].astype("float64").diff()
            d_ops = rows[f"lat_{kind}_ops"].astype("float64").diff()
            restart |= (d_us < 0) | (d_ops < 0)
            out[f"{kind}_ms_per_op"] = (d_us / d_ops / 1000.0).where(d_ops > 0)
            out[f"{kind}_ops_per_s"] = d_ops / out["interval_s"]
        keep = (~restart) & (out["interval_s"] >= min_interval_s)
        keep.iloc[0] = False
        frames.append(out[keep])
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def day_means(server: pd.DataFrame) -> pd.DataFrame:
    """Per host over the day: all operations per second (Σ opcounters between the first and
    last snapshot of one uptime, ÷ the seconds between them) and the mean read and write
    latency (Σ Δlatency ÷ Σ Δops, not a mean of per-interval means)."""
    columns = ["host", "ops_per_s", "reads_ms", "writes_ms"]
    pairs = rates(server)
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for host, g in pairs.groupby("host", sort=True):
        seconds = float(g["interval_s"].sum())
        ops = sum(float((g[f"op_{op}_per_s"] * g["interval_s"]).sum()) for op in OPS)
        row: dict[str, object] = {"host": host, "ops_per_s": ops / seconds if seconds > 0 else None}
        for kind in ("reads", "writes"):
            ms = g[f"{kind}_ms_per_op"]
            # Δlatency and Δops per pair are recovered from the per-op mean and the pair's ops
            d_ops = g[f"{kind}_ops_per_s"] * g["interval_s"] if f"{kind}_ops_per_s" in g else None
            if d_ops is None:
                row[f"{kind}_ms"] = None
                continue
            total_ops = float(d_ops.sum())
            row[f"{kind}_ms"] = float((ms.fillna(0) * d_ops).sum()) / total_ops if total_ops > 0 else None
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def latest_per_host(df: pd.DataFrame) -> pd.DataFrame:
    """The last row of each host (by ``ts``)."""
    if df.empty:
        return df
    return df.sort_values("ts").groupby("host", sort=True).tail(1).reset_index(drop=True)


def latest_snapshot(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of each host's latest snapshot time (a snapshot's rows share one ``ts``)."""
    if df.empty:
        return df
    last = df.groupby("host")["ts"].transform("max")
    return df[df["ts"] == last].reset_index(drop=True)


def server_state(server: pd.DataFrame) -> pd.DataFrame:
    """Per host at its latest snapshot: the ratios findings judge. The oplog window comes from
    the latest snapshot that read the oplog (a rate's second look reads serverStatus only)."""
    latest = latest_per_host(server)
    if len(latest) and "oplog_first" in server.columns:
        read = server.dropna(subset=["oplog_first", "oplog_last"])
        oplog = latest_per_host(read)[["host", "oplog_first", "oplog_last"]] if len(read) else None
        latest = latest.drop(columns=["oplog_first", "oplog_last"])
        if oplog is not None:
            latest = latest.merge(oplog, on="host", how="left")
        else:
            latest["oplog_first"], latest["oplog_last"] = pd.NaT, pd.NaT
    if latest.empty:
        return pd.DataFrame(
            columns=[
                "ts",
                "host",
                "role",
                "version",
                "conn_current",
                "conn_available",
                "conn_used",
                "cache_used",
                "cache_dirty",
                "queue_total",
                "oplog_window_h",
            ]
        )
    out = latest[["ts", "host", "role", "version", "conn_current", "conn_available", "queue_total"]].copy()
    total = latest["conn_current"].astype("float64") + latest["conn_available"].astype("float64")
    out["conn_used"] = latest["conn_current"].astype("float64") / total.where(total > 0)
    cache_max = latest["cache_max_bytes"].astype("float64").where(latest["cache_max_bytes"] > 0)
    out["cache_used"] = latest["cache_bytes"].astype("float64") / cache_max
    out["cache_dirty"] = latest["cache_dirty_bytes"].astype("float64") / cache_max
    window = pd.to_datetime(latest["oplog_last"], utc=True) - pd.to_datetime(latest["oplog_first"], utc=True)
    out["oplog_window_h"] = window.dt.total_seconds() / 3600.0
    return out


def day_extremes(server: pd.DataFrame) -> pd.DataFrame:
    """Per host over the day: the worst connection use, dirty cache and queue seen."""
    if server.empty:
        return pd.DataFrame(
            columns=[
                "host",
                "conn_used_max",
                "conn_used_at",
                "cache_dirty_max",
                "cache_dirty_at",
                "queue_max",
                "queue_at",
            ]
        )
    df = server.copy()
    total = df["conn_current"].astype("float64") + df["conn_available"].astype("float64")
    df["conn_used"] = df["conn_current"].astype("float64") / total.where(total > 0)
    df["cache_dirty"] = df["cache_dirty_bytes"].astype("float64") / df["cache_max_bytes"].astype("float64").where(
        df["cache_max_bytes"] > 0
    )
    df["queue"] = df["queue_total"].astype("float64")
    rows = []
    for host, g in df.groupby("host", sort=True):
        row: dict[str, object] = {"host": host}
        for column, name in (("conn_used", "conn_used"), ("cache_dirty", "cache_dirty"), ("queue", "queue")):
            values = g[column]
            if values.notna().any():
                at = values.idxmax()
                row[f"{name}_max"], row[f"{name}_at"] = float(values[at]), g.loc[at, "ts"]
            else:
                row[f"{name}_max"], row[f"{name}_at"] = None, None
        rows.append(row)
    return pd.DataFrame(rows)


def member_lag(members: pd.DataFrame) -> pd.DataFrame:
    """Per member over the day: max and p95 lag, when the max was seen, last state and health."""
    columns = ["member", "set_name", "state_str", "health", "lag_max_s", "lag_p95_s", "lag_max_at", "samples"]
    if members.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for member, g in members.sort_values("ts").groupby("member", sort=True):
        last = g.iloc[-1]
        lag = g["lag_s"].astype("float64")
        has_lag = lag.notna().any()
        rows.append(
            {
                "member": member,
                "set_name": last["set_name"],
                "state_str": last["state_str"],
                "health": last["health"],
                "lag_max_s": float(lag.max()) if has_lag else None,
                "lag_p95_s": float(np.nanpercentile(lag, 95)) if has_lag else None,
                "lag_max_at": g.loc[lag.idxmax(), "ts"] if has_lag else None,
                "samples": len(g),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def lag_episodes(members: pd.DataFrame, threshold_s: float) -> pd.DataFrame:
    """Runs of consecutive samples where a member lagged more than ``threshold_s``."""
    columns = ["member", "start", "end", "max_lag_s", "samples"]
    if members.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for member, g in members.sort_values("ts").groupby("member", sort=True):
        over = (g["lag_s"].astype("float64") > threshold_s).to_numpy()
        ts = g["ts"].to_numpy()
        lag = g["lag_s"].astype("float64").to_numpy()
        start = None
        for i, flag in enumerate([*over, False]):
            if flag and start is None:
                start = i
            elif not flag and start is not None:
                rows.append(
                    {
                        "member": member,
                        "start": pd.Timestamp(ts[start]),
                        "end": pd.Timestamp(ts[i - 1]),
                        "max_lag_s": float(np.nanmax(lag[start:i])),
                        "samples": i - start,
                    }
                )
                start = None
    return pd.DataFrame(rows, columns=columns)


def unhealthy_members(members: pd.DataFrame) -> pd.DataFrame:
    """Members that were not PRIMARY/SECONDARY/ARBITER, or had health 0, at some snapshot of
    the day: how many snapshots, the first and last, the state, and whether still at the end."""
    columns = ["member", "state_str", "health", "samples", "first", "last", "at_end", "ts"]
    if members.empty:
        return pd.DataFrame(columns=columns)
    bad = (members["health"].astype("float64") < 1) | ~members["state"].isin(list(HEALTHY_STATES))
    last_ts = members.groupby("member")["ts"].transform("max")
    rows = []
    for member, g in members[bad].sort_values("ts").groupby("member", sort=True):
        rows.append(
            {
                "member": member,
                "state_str": g["state_str"].iloc[-1],
                "health": g["health"].iloc[-1],
                "samples": len(g),
                "first": g["ts"].iloc[0],
                "last": g["ts"].iloc[-1],
                "at_end": bool((g["ts"] == last_ts[g.index]).any()),
                "ts": g["ts"].iloc[-1],
            }
        )
    return pd.DataFrame(rows, columns=columns)


def primaries_seen(members: pd.DataFrame) -> list[str]:
    """Members that were primary at some point of the day, in order of first appearance (an
    election changes it)."""
    if members.empty:
        return []
    primary = members[members["state"] == 1].sort_values("ts")
    return list(dict.fromkeys(primary["member"]))


def mark_new_shapes(shapes: pd.DataFrame, baseline: pd.DataFrame, baseline_input: bool = True) -> pd.DataFrame:
    """``shapes`` with ``new``: the (namespace, operation, shape) was not seen on any baseline
    day (``queryHash`` and friends do not include the collection: the key is the triple).
    Without slow-query input on the baseline days nothing can be new: ``new`` is NA."""
    out = shapes.copy()
    if not len(out):
        out["new"] = pd.Series(dtype="boolean")
        return out
    if not baseline_input:
        out["new"] = pd.array([pd.NA] * len(out), dtype="boolean")
        return out
    seen = set(zip(baseline["ns"], baseline["op"], baseline["shape_key"], strict=True)) if len(baseline) else set()
    keys = zip(out["ns"], out["op"], out["shape_key"], strict=True)
    out["new"] = pd.array([key not in seen for key in keys], dtype="boolean")
    return out


def baseline_shape_stats(daily: pd.DataFrame) -> pd.DataFrame:
    """Per (ns, op, shape): the median daily count and total ms over the baseline days it was
    seen on (from a frame of ns, op, shape_key, day, count, total_ms)."""
    keys = ["ns", "op", "shape_key"]
    if daily.empty:
        return pd.DataFrame(columns=[*keys, "baseline_count", "baseline_total_ms", "baseline_days"])
    grouped = daily.groupby(keys)
    return pd.DataFrame(
        {
            "baseline_count": grouped["count"].median(),
            "baseline_total_ms": grouped["total_ms"].median(),
            "baseline_days": grouped["day"].nunique(),
        }
    ).reset_index()


def collections_without_validator(collections: pd.DataFrame) -> pd.DataFrame:
    latest = latest_snapshot(collections)
    if latest.empty:
        return latest
    plain = latest[
        (latest["type"].fillna("collection") == "collection") & ~latest["has_validator"].fillna(False).astype(bool)
    ]
    return plain[["ns", "count", "size", "host"]].drop_duplicates("ns").reset_index(drop=True)


def window_filter(df: pd.DataFrame, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    if df.empty:
        return df
    ts = pd.to_datetime(df["ts"], utc=True)
    return df[(ts >= start) & (ts < end)].reset_index(drop=True)
