"""Pure functions over the backups tables (:mod:`opsreview.backups.models`): no I/O, no printing.

``inv`` is a ``backup_inventory`` frame (times tz-aware UTC), ``as_of`` the moment the review
judges at (the end of the review day). Every function returns a small frame of what it found.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

SYSTEM_DATABASES = ("admin", "config", "local")
NOT_READ = "not_read"  # an archive left unread at the read deadline: no evidence either way


def _ts(value: object) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def before(inv: pd.DataFrame, as_of: object) -> pd.DataFrame:
    """Backups finished before ``as_of``, oldest first."""
    if inv.empty:
        return inv
    finished = pd.to_datetime(inv["finished_at"], utc=True)
    return inv[finished.notna() & (finished < _ts(as_of))].sort_values("finished_at").reset_index(drop=True)


def good(inv: pd.DataFrame) -> pd.Series:
    """Which rows are good backups, reconciled across sources: a row is good when it is ok and no
    row of the same name is not ok (a truncated archive overrides the manifest that says ok).
    A backup still running says nothing yet."""
    if inv.empty:
        return pd.Series([], dtype=bool, index=inv.index)
    ok = inv["ok"].fillna(False).astype(bool)
    bad_names = set(inv.loc[~ok & (inv["status"] != "running") & (inv["status"] != NOT_READ), "name"].astype(str))
    return ok & ~inv["name"].astype(str).isin(bad_names)


def reconcile(inv: pd.DataFrame) -> pd.DataFrame:
    """``inv`` with every ok row whose name another source contradicts marked not ok, its error
    naming the evidence (e.g. ``archive <file> truncated``)."""
    if inv.empty:
        return inv
    out = inv.copy()
    keep = good(out)
    ok = out["ok"].fillna(False).astype(bool)
    contradicted = ok & ~keep
    if not contradicted.any():
        return out
    bad = out[~ok & (out["status"] != "running") & (out["status"] != NOT_READ)]
    for index in out.index[contradicted]:
        name = str(out.at[index, "name"])
        evidence = bad[bad["name"].astype(str) == name].iloc[0]
        where = evidence["location"] if isinstance(evidence["location"], str) and evidence["location"] else name
        label = where.rsplit("/", 1)[-1] if evidence["kind"] == "archive" else where
        out.at[index, "ok"] = False
        out.at[index, "status"] = str(evidence["status"])
        out.at[index, "error"] = f"{evidence['kind']} {label} {evidence['status']}"
    return out


def last_good(inv: pd.DataFrame, as_of: object) -> pd.Series | None:
    """The newest good backup finished before ``as_of`` (None: there is none); a name is good only
    when no source contradicts it (:func:`good`)."""
    done = before(inv, as_of)
    ok = done[good(done)] if len(done) else done
    return None if ok.empty else ok.iloc[-1]


def age_hours(inv: pd.DataFrame, as_of: object) -> float | None:
    """Hours from the newest good backup to ``as_of`` (None: no good backup)."""
    row = last_good(inv, as_of)
    if row is None:
        return None
    return float((_ts(as_of) - _ts(row["finished_at"])) / pd.Timedelta(hours=1))


def schedule_gaps(inv: pd.DataFrame, as_of: object, schedule_hours: float, tolerance: float) -> pd.DataFrame:
    """Intervals between consecutive backups (any source, good or not: a failed run still ran)
    longer than ``schedule_hours × (1 + tolerance)``: nights the job did not run."""
    columns = ["start", "end", "hours", "after", "before", "missed"]
    done = before(inv, as_of)
    if len(done) < 2:
        return pd.DataFrame(columns=columns)
    done = done.drop_duplicates("finished_at")
    times = pd.to_datetime(done["finished_at"], utc=True).reset_index(drop=True)
    names = done["name"].reset_index(drop=True)
    hours = times.diff() / pd.Timedelta(hours=1)
    limit = schedule_hours * (1 + tolerance)
    rows = [
        {
            "start": times[i - 1],
            "end": times[i],
            "hours": float(hours[i]),
            "after": names[i - 1],
            "before": names[i],
            "missed": max(1, round(float(hours[i]) / schedule_hours) - 1),
        }
        for i in range(1, len(times))
        if hours[i] > limit
    ]
    return pd.DataFrame(rows, columns=columns)


def size_drops(inv: pd.DataFrame, as_of: object, ratio: float, median_of: int) -> pd.DataFrame:
    """Backups far smaller than the median of the good backups before them in the same series
    (same kind and source): a sudden drop is a likely partial dump."""
    columns = ["name", "kind", "source", "finished_at", "size_bytes", "median_bytes", "ratio", "ok"]
    done = before(inv, as_of)
    rows = []
    if len(done):
        done = done.assign(_good=good(done))
    for _, series in done.groupby(["kind", "source"], sort=True) if len(done) else []:
        series = series.sort_values("finished_at")
        good_sizes: list[int] = []
        for _, row in series.iterrows():
            size = row["size_bytes"]
            if pd.isna(size):
                continue
            trailing = good_sizes[-median_of:]
            if len(trailing) >= 2:
                median = float(pd.Series(trailing).median())
                if median > 0 and size < ratio * median:
                    rows.append(
                        {
                            "name": row["name"],
                            "kind": row["kind"],
                            "source": row["source"],
                            "finished_at": row["finished_at"],
                            "size_bytes": int(size),
                            "median_bytes": median,
                            "ratio": float(size) / median,
                            "ok": bool(row["ok"]),
                        }
                    )
                    continue  # a partial dump is not part of the next backups' baseline
            if bool(row["_good"]):
                good_sizes.append(int(size))
    return pd.DataFrame(rows, columns=columns)


def failed(inv: pd.DataFrame, as_of: object) -> pd.DataFrame:
    """Backups that are not good: unreadable, truncated or corrupt archives, failed PBM or manifest runs."""
    done = before(inv, as_of)
    if done.empty:
        return done
    not_ok = ~done["ok"].fillna(False).astype(bool) & ~done["status"].isin(["running", NOT_READ])
    return done[not_ok].reset_index(drop=True)


def manifest_mismatches(inv: pd.DataFrame, as_of: object, tolerance: float = 0.01) -> pd.DataFrame:
    """Manifest entries the archives contradict: the archive of that name is missing, or its
    size differs from what the job recorded (by more than ``tolerance``)."""
    columns = ["name", "finished_at", "manifest_bytes", "archive_bytes", "problem"]
    done = before(inv, as_of)
    if done.empty or not (done["kind"] == "archive").any():
        return pd.DataFrame(columns=columns)
    archives = done[done["kind"] == "archive"].drop_duplicates("name").set_index("name")
    first_archive = pd.to_datetime(archives["finished_at"], utc=True).min()
    rows = []
    for _, entry in done[(done["kind"] == "manifest") & done["ok"].fillna(False).astype(bool)].iterrows():
        name = str(entry["name"])
        if name not in archives.index:
            if _ts(entry["finished_at"]) >= first_archive:  # older ones may be out of the folder's retention
                rows.append({"name": name, "finished_at": entry["finished_at"], "problem": "no archive of that name"})
            continue
        recorded, actual = entry["size_bytes"], archives.loc[name, "size_bytes"]
        if (
            pd.notna(recorded)
            and pd.notna(actual)
            and abs(int(actual) - int(recorded)) > tolerance * max(int(recorded), 1)
        ):
            rows.append(
                {
                    "name": name,
                    "finished_at": entry["finished_at"],
                    "manifest_bytes": int(recorded),
                    "archive_bytes": int(actual),
                    "problem": "size differs from the manifest",
                }
            )
    return pd.DataFrame(rows, columns=columns)


def expected_collections(db_collections: pd.DataFrame, databases: Iterable[str], exclude: Iterable[str]) -> list[str]:
    """The collections a full backup should hold: those the database review saw (``db_collections``:
    ``ns``, ``db``, ``type``), of ``databases`` (empty: every one but admin, config, local), without
    views, ``system.*`` and ``exclude``."""
    if db_collections.empty:
        return []
    wanted = set(databases)
    skip = set(exclude)
    out = set()
    for row in db_collections.itertuples(index=False):
        db, ns, kind = str(row.db), str(row.ns), str(getattr(row, "type", "collection") or "collection")
        coll = ns.split(".", 1)[1] if "." in ns else ns
        if (wanted and db not in wanted) or (not wanted and db in SYSTEM_DATABASES):
            continue
        if kind == "view" or coll.startswith("system.") or ns in skip:
            continue
        out.add(ns)
    return sorted(out)


def missing_collections(backup_collections: Iterable[str], expected: Iterable[str]) -> list[str]:
    """Expected collections the backup does not hold."""
    held = set(backup_collections)
    return sorted(ns for ns in expected if ns not in held)


def newest_readable(inv: pd.DataFrame, as_of: object) -> pd.Series | None:
    """The newest archive whose prelude was read (its collection list is known)."""
    done = before(inv, as_of)
    if done.empty:
        return None
    read = done[(done["kind"] == "archive") & ~done["status"].isin(["unreadable", NOT_READ])]
    read = read[read["collections"].map(lambda c: hasattr(c, "__len__") and len(c) > 0)]
    return None if read.empty else read.iloc[-1]


def pbm_node_problems(pbm: pd.DataFrame) -> pd.DataFrame:
    """PBM agents that are not OK (an error, or no agent), arbiters excepted (PBM does not run there)."""
    if pbm.empty:
        return pbm
    nodes = pbm[(pbm["kind"] == "node") & (pbm["role"] != "A")]
    return nodes[~nodes["ok"].fillna(False).astype(bool)].reset_index(drop=True)


def _pitr_enabled(pbm: pd.DataFrame) -> bool | None:
    """Whether PBM's status says PITR is configured (None: no status read)."""
    status = pbm[pbm["kind"] == "pitr"]
    return None if status.empty else bool(status["enabled"].fillna(False).astype(bool).any())


def pitr_gaps(
    pbm: pd.DataFrame, since: object = None, as_of: object = None, tolerance_s: float = 1.0, lag_s: float = 1800.0
) -> pd.DataFrame:
    """Holes between consecutive PITR ranges within [``since``, ``as_of``] (ranges are clipped to
    it; a point in time inside a hole cannot be restored), and the hole at the end: from the last
    range's end to ``as_of`` (or to when PBM was read, if earlier) when longer than ``lag_s``
    (PBM slices the oplog every 10 minutes by default) and PITR is not disabled in PBM's status.
    ``kind``: between | tail."""
    columns = ["start", "end", "seconds", "kind"]
    if pbm.empty:
        return pd.DataFrame(columns=columns)
    lo = _ts(since) if since is not None else None
    hi = _ts(as_of) if as_of is not None else None
    ranges = pbm[pbm["kind"] == "pitr_range"].dropna(subset=["start", "end"]).sort_values("start")
    rows = []
    reach = None
    for row in ranges.itertuples(index=False):
        start, end = _ts(row.start), _ts(row.end)
        if (lo is not None and end < lo) or (hi is not None and start > hi):
            continue
        start = max(start, lo) if lo is not None else start
        end = min(end, hi) if hi is not None else end
        if reach is not None and (start - reach).total_seconds() > tolerance_s:
            rows.append({"start": reach, "end": start, "seconds": (start - reach).total_seconds(), "kind": "between"})
        reach = end if reach is None else max(reach, end)
    if hi is not None and _pitr_enabled(pbm) is not False and len(ranges):
        read_at = pd.to_datetime(pbm["ts"], utc=True).max()
        until = min(hi, read_at) if pd.notna(read_at) else hi
        last = reach if reach is not None else lo
        if last is not None and (until - last).total_seconds() > lag_s:
            rows.append({"start": last, "end": until, "seconds": (until - last).total_seconds(), "kind": "tail"})
    return pd.DataFrame(rows, columns=columns)


def pitr_problems(pbm: pd.DataFrame) -> pd.DataFrame:
    """The PITR status's error or PITR configured but not running (``conf: true, run: false``: no
    oplog is being saved), ranges with an error, ranges without a base snapshot."""
    if pbm.empty:
        return pbm
    rows = pbm[pbm["kind"].isin(["pitr", "pitr_range"])]
    stopped = (
        (rows["kind"] == "pitr")
        & rows["enabled"].fillna(False).astype(bool)
        & ~rows["running"].fillna(False).astype(bool)
    )
    bad = ~rows["ok"].fillna(True).astype(bool) | rows["no_base_snapshot"].fillna(False).astype(bool) | stopped
    return rows[bad].reset_index(drop=True)


def drill_summary(drills: pd.DataFrame) -> pd.DataFrame:
    """One row per restore drill: when, backup, target, what it recorded and what its per-collection
    comparison says, newest last. ``evidence``: at least one collection compared with both counts;
    ``ok`` is all three: recorded ok, evidence, and no count or ``dbHash`` mismatch (a drill that
    compared nothing is no proof that the backup restores)."""
    columns = [
        "drill",
        "ts",
        "backup",
        "target",
        "recorded_ok",
        "collections",
        "count_mismatches",
        "hash_mismatches",
        "evidence",
        "ok",
        "error",
    ]
    if drills.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for drill, group in drills.groupby("drill", sort=False):
        first = group.iloc[0]
        compared = group[group["ns"].notna()]
        counts = compared[
            compared["source_count"].notna()
            & compared["restored_count"].notna()
            & (compared["source_count"] != compared["restored_count"])
        ]
        hashes = compared[compared["hash_match"].notna() & ~compared["hash_match"].fillna(True).astype(bool)]
        counted = compared[compared["source_count"].notna() & compared["restored_count"].notna()]
        recorded = bool(first["ok"])
        rows.append(
            {
                "drill": drill,
                "ts": first["ts"],
                "backup": first["backup"],
                "target": first["target"],
                "recorded_ok": recorded,
                "collections": len(compared),
                "count_mismatches": sorted(counts["ns"].astype(str)),
                "hash_mismatches": sorted(hashes["ns"].astype(str)),
                "evidence": len(counted) > 0,
                "ok": recorded and counts.empty and hashes.empty and len(counted) > 0,
                "error": first["error"],
            }
        )
    return pd.DataFrame(rows, columns=columns).sort_values("ts").reset_index(drop=True)


def drill_age_days(summary: pd.DataFrame, as_of: object) -> float | None:
    """Days from the last good drill to ``as_of`` (None: no good drill)."""
    good = summary[summary["ok"].astype(bool)] if len(summary) else summary
    if good.empty:
        return None
    return float((_ts(as_of) - _ts(good["ts"].max())) / pd.Timedelta(days=1))
