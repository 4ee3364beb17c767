"""Data hygiene from a ``$sample`` of documents, and the disk forecast from dbStats over days.

:func:`hygiene_row` turns the sampled documents of one collection into one ``db_hygiene`` row:
counts only. No value of a document - least of all a password hash - is returned, logged or
put in an exception: values are classified in place and only the counts leave this module.

- **Soft delete**: the first of ``soft_delete_fields`` (params order; dotted paths such as
  ``meta.deletedAt`` allowed) present in any sampled document; a document is soft-deleted
  when that field holds ``true``, a date, a BSON timestamp, a non-zero number (epoch time) or
  an ISO-8601 date string. ``null``, ``false``, ``0`` and ``""`` are "not deleted".
- **Password hashes**: the first of ``password_fields`` (params order, dotted paths allowed,
  e.g. Meteor's ``services.password.bcrypt``) that holds a string in any sampled document.
  Each string value is classified:

  - bcrypt: ``$2a$``/``$2b$``/``$2y$``, a two-digit cost, ``$`` and 53 characters of bcrypt's
    base64 (22 of salt, 31 of hash). ``bcrypt_low_cost`` counts those with a cost below
    ``min_bcrypt_cost`` (OWASP: 10 or more).
  - ``not_bcrypt``: every other string. Two subsets of it are counted apart:
  - ``md5_like``: 32, 40 or 64 hexadecimal characters - an unsalted MD5, SHA-1 or SHA-256
    digest (fast hashes, crackable by the billion per second).
  - ``other_strong``: argon2 (``$argon2id$v=19$m=…``, also ``argon2i``/``argon2d``), scrypt
    (``$scrypt$ln=…`` of passlib, ``$7$`` of crypt(3)), PBKDF2 (``$pbkdf2-sha256$…`` of
    passlib, ``pbkdf2:sha256:…`` of Werkzeug) and Django's ``pbkdf2_sha256$…``,
    ``argon2$argon2id$…``, ``scrypt$…`` and ``bcrypt_sha256$…`` formats: strong, just not
    bcrypt (not a finding by themselves).

  Anything else in ``not_bcrypt`` (plain text, sha512-crypt ``$6$``, base64 digests, …) is
  neither, and deserves a look.
- **Document size**: the BSON size of each document (``bson.encode``; a ``RawBSONDocument``
  is measured as is); ``oversize_docs`` counts those above ``max_doc_bytes``. A document that
  cannot be encoded (never the case for documents read through pymongo) is left out of the
  size columns rather than reported, since the encoder's error message would quote the value.

Paths: a dotted path walks embedded documents only; an array on the way counts as "absent"
(``items.deletedAt`` does not look inside ``items[]``).

:func:`disk_forecast` fits the growth of data + indexes per host over the days of
``db_databases`` snapshots and tells how many days are left on the data disk.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

import bson
import numpy as np
import pandas as pd
from bson.raw_bson import RawBSONDocument

from opsreview.database.params import HygieneParams

# bcrypt's modular crypt format: $2a$/$2b$/$2y$, cost (two digits), $, 22 salt + 31 hash chars.
_BCRYPT = re.compile(r"\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}")
# Unsalted hex digests: MD5 (32), SHA-1 (40), SHA-256 (64).
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_B64 = r"[A-Za-z0-9+/.=_-]"
_STRONG = (
    # argon2 (PHC string format), as written by argon2-cffi, libsodium, node-argon2, passlib.
    re.compile(rf"\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+\${_B64}+\${_B64}+"),
    # Django's argon2 wraps the PHC string: argon2$argon2id$v=19$m=...,t=...,p=...$salt$hash.
    re.compile(rf"argon2\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+\${_B64}+\${_B64}+"),
    # passlib scrypt: $scrypt$ln=16,r=8,p=1$salt$hash; crypt(3)/libxcrypt scrypt: $7$...
    re.compile(rf"\$scrypt\$ln=\d+,r=\d+,p=\d+\${_B64}+\${_B64}+"),
    re.compile(r"\$7\$[./A-Za-z0-9]{11,}\$[./A-Za-z0-9]{43}"),
    # Django scrypt: scrypt$16384$salt$8$1$hash.
    re.compile(rf"scrypt\$\d+\${_B64}+\$\d+\$\d+\${_B64}+"),
    # passlib pbkdf2: $pbkdf2$rounds$salt$hash, $pbkdf2-sha256$..., $pbkdf2-sha512$...
    re.compile(rf"\$pbkdf2(?:-sha(?:1|256|512))?\$\d+\${_B64}+\${_B64}+"),
    # Django pbkdf2: pbkdf2_sha256$600000$salt$hash (also pbkdf2_sha1).
    re.compile(rf"pbkdf2_sha(?:1|256|512)\$\d+\$[^$]+\${_B64}+"),  # Django salts: anything but "$"
    # Werkzeug: pbkdf2:sha256:600000$salt$hexhash (also scrypt:32768:8:1$salt$hexhash).
    re.compile(r"pbkdf2:sha(?:1|256|512)(?::\d+)?\$[^$]+\$[0-9a-f]+"),
    re.compile(r"scrypt:\d+:\d+:\d+\$[^$]+\$[0-9a-f]+"),
    # Django bcrypt_sha256$$2b$12$... (bcrypt over a SHA-256 of the password).
    re.compile(r"bcrypt(?:_sha256)?\$\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}"),
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")

_MISSING = object()


def _get(doc: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of embedded documents, or ``_MISSING``."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _soft_deleted(value: Any) -> bool:
    if value is None or value is _MISSING or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, dt.datetime | dt.date | bson.Timestamp | bson.datetime_ms.DatetimeMS):
        return True
    if isinstance(value, int | float):
        return value != 0 and value == value  # a non-zero epoch time (NaN is not a date)
    if isinstance(value, str):
        return _ISO_DATE.fullmatch(value.strip()) is not None
    return False


def _doc_bytes(doc: Any) -> int | None:
    if isinstance(doc, RawBSONDocument):
        return len(doc.raw)
    try:
        return len(bson.encode(doc))
    except (bson.errors.InvalidDocument, TypeError, ValueError, OverflowError):
        # The message would quote the offending value: nothing of it leaves this function.
        return None


def _classify(value: str, min_cost: int) -> tuple[bool, bool, bool, bool]:
    """(not_bcrypt, bcrypt_low_cost, md5_like, other_strong) of one password value."""
    match = _BCRYPT.fullmatch(value)
    if match:
        return False, int(match.group(1)) < min_cost, False, False
    md5_like = _HEX_DIGEST.fullmatch(value) is not None
    strong = not md5_like and any(p.fullmatch(value) for p in _STRONG)
    return True, False, md5_like, strong


def hygiene_row(ns: str, docs: Sequence[Mapping[str, Any]], params: HygieneParams) -> dict[str, Any]:
    """The ``db_hygiene`` columns (all but ``ts``/``host``) of one collection's sample.

    Only counts and the field names chosen from ``params`` are returned; ``max_doc_bytes`` is
    None when no document was sampled (or none could be measured).
    """
    docs = list(docs)
    soft_field = next((f for f in params.soft_delete_fields if any(_get(d, f) is not _MISSING for d in docs)), None)
    soft_deleted = sum(_soft_deleted(_get(d, soft_field)) for d in docs) if soft_field else 0

    pw_field = next(
        (f for f in params.password_fields if any(isinstance(v := _get(d, f), str) and v.strip() for d in docs)), None
    )
    counts = [0, 0, 0, 0]
    values = 0
    if pw_field:
        for d in docs:
            value = _get(d, pw_field)
            if isinstance(value, str):
                values += 1
                for i, flag in enumerate(_classify(value, params.min_bcrypt_cost)):
                    counts[i] += flag

    sizes = [s for s in (_doc_bytes(d) for d in docs) if s is not None]
    return {
        "ns": ns,
        "sampled": len(docs),
        "soft_delete_field": soft_field,
        "soft_deleted": int(soft_deleted),
        "password_field": pw_field,
        "password_values": values,
        "not_bcrypt": counts[0],
        "bcrypt_low_cost": counts[1],
        "md5_like": counts[2],
        "other_strong": counts[3],
        "max_doc_bytes": max(sizes) if sizes else None,
        "oversize_docs": sum(s > params.max_doc_bytes for s in sizes),
    }


def _slope_per_day(days: np.ndarray, values: np.ndarray) -> float:
    """Least-squares slope of values (bytes) over days."""
    x = days - days.mean()
    return float((x * (values - values.mean())).sum() / (x * x).sum())


def _host_forecast(frame: pd.DataFrame, disk_total_bytes: int | None) -> dict[str, Any]:
    """One host's snapshots (every db of every snapshot) → its forecast."""
    frame = frame.assign(
        day=frame["ts"].dt.floor("D"), data=frame["storage_size"].fillna(0) + frame["index_size"].fillna(0)
    )
    # The latest snapshot of each day stands for the day (every db of that snapshot summed).
    latest = frame.groupby("day")["ts"].transform("max")
    frame = frame[frame["ts"] == latest]
    daily = frame.groupby("day", sort=True).agg(
        ts=("ts", "max"), data=("data", "sum"), fs_used=("fs_used_size", "max"), fs_total=("fs_total_size", "max")
    )
    last = daily.iloc[-1]
    current = int(last["data"])
    fs_total = None if pd.isna(last["fs_total"]) else int(last["fs_total"])
    fs_used = None if pd.isna(last["fs_used"]) else int(last["fs_used"])
    total = fs_total if fs_total else disk_total_bytes
    # Free space: what the file system reports, else the disk size less our data (a best case:
    # the journal, the oplog of `local` and anything else on the disk are not counted).
    used = fs_used if (fs_total and fs_used is not None) else current
    result: dict[str, Any] = {
        "host": frame["host"].iloc[0],
        "days_observed": len(daily),
        "current_bytes": current,
        "disk_total_bytes": total,
        "disk_total_source": "fsTotalSize" if fs_total else ("params" if disk_total_bytes else None),
        "disk_used_bytes": used if total else None,
        "growth_bytes_per_day": None,
        "days_until_full": None,
        "reason": None,
    }
    if len(daily) >= 2:
        days = (daily["ts"] - daily["ts"].iloc[0]).dt.total_seconds().to_numpy() / 86400.0
        result["growth_bytes_per_day"] = _slope_per_day(days, daily["data"].to_numpy(dtype=float))
    growth = result["growth_bytes_per_day"]
    if growth is None:
        result["reason"] = "fewer than two days of snapshots: no growth rate yet"
    elif not total:
        result["reason"] = "disk size unknown: no fsTotalSize in dbStats and database.disk_total_bytes not set"
    elif total - used <= 0:
        result["days_until_full"] = 0.0
    elif growth <= 0:
        result["reason"] = "not growing (data + indexes flat or shrinking over the days observed)"
    else:
        result["days_until_full"] = (total - used) / growth
    return result


def disk_forecast(databases: pd.DataFrame, disk_total_bytes: int | None) -> dict[str, Any]:
    """Growth of data + indexes and days until the data disk is full, from ``db_databases`` rows.

    Per host: the latest snapshot of each (UTC) day stands for that day; its ``storage_size +
    index_size`` summed over databases is the day's total, and the growth is the least-squares
    slope of those totals against the snapshot times (bytes/day; at least two days needed).
    The disk total is ``fs_total_size`` (dbStats' ``fsTotalSize``), else ``disk_total_bytes``;
    free space is ``fs_total_size - fs_used_size``, else ``disk_total_bytes`` less the data.
    ``days_until_full`` = free / growth; None with a ``reason`` when there is less than two
    days of data, the disk size is unknown, or the data is not growing (0 when already full).

    The top-level keys (``host, days_observed, current_bytes, disk_total_bytes,
    disk_total_source, disk_used_bytes, growth_bytes_per_day, days_until_full, reason``) are
    the host that fills first (else the fastest growing, else the first); ``hosts`` lists every
    host's forecast.
    """
    needed = {"ts", "host", "storage_size", "index_size"}
    if databases.empty or not needed <= set(databases.columns):
        return {
            "host": None,
            "days_observed": 0,
            "current_bytes": None,
            "disk_total_bytes": disk_total_bytes,
            "disk_total_source": "params" if disk_total_bytes else None,
            "disk_used_bytes": None,
            "growth_bytes_per_day": None,
            "days_until_full": None,
            "reason": "no dbStats snapshots",
            "hosts": [],
        }
    frame = databases.copy()
    for column in ("fs_used_size", "fs_total_size"):
        if column not in frame.columns:
            frame[column] = np.nan
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    hosts = [_host_forecast(group, disk_total_bytes) for _, group in frame.groupby("host", sort=True)]

    def rank(h: dict[str, Any]) -> tuple[float, float]:
        days = h["days_until_full"]
        growth = h["growth_bytes_per_day"]
        return (days if days is not None else float("inf"), -(growth if growth is not None else float("-inf")))

    worst = min(hosts, key=rank)
    return {**worst, "hosts": hosts}
