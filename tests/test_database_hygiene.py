"""database.hygiene: counts from sampled documents (real hashes, never returned) and the disk forecast."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import warnings

import argon2
import bson
import numpy as np
import pandas as pd
import pytest
from bson.raw_bson import RawBSONDocument

from opsreview.database.hygiene import disk_forecast, hygiene_row
from opsreview.database.models import HYGIENE_SCHEMA, to_arrow
from opsreview.database.params import HygieneParams

try:  # the stdlib's crypt(3) binding (libxcrypt: bcrypt, sha512-crypt) exists up to Python 3.12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt as _crypt
except ImportError:  # pragma: no cover - Python 3.13+
    _crypt = None  # type: ignore[assignment]

# The same hashes, made once with crypt(3) (libxcrypt) for Pythons without the crypt module.
# "$2b$05$CCCC…E5YPO9…" is also Openwall crypt_blowfish's own test vector for "U*U".
_CRYPT_MADE = {
    (
        "correct horse battery staple",
        "$2b$12$Ro0CUfOqk6cXEKf3dyaM7O",
    ): "$2b$12$Ro0CUfOqk6cXEKf3dyaM7O0YowbpYS2gMk.mznlKcGdBVd8QCqYjO",
    ("Tr0ub4dor&3", "$2b$10$abcdefghijklmnopqrstuu"): "$2b$10$abcdefghijklmnopqrstuu5l2mO2YzyEsHJLgg3Urz7twlBz7iAAK",
    ("letmein", "$2b$08$XXXXXXXXXXXXXXXXXXXXXO"): "$2b$08$XXXXXXXXXXXXXXXXXXXXXOarTxnpHO.pWQz/r.nkOAYxgTh/sD.5y",
    ("U*U", "$2b$05$CCCCCCCCCCCCCCCCCCCCC."): "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
    (
        "hunter2",
        "$6$saltsaltsalt$",
    ): "$6$saltsaltsalt$/YcSJBZ1GwOaYU2XCNxvWBX3MbYsX7qkf0.0L28t35vap3Pr7yS0JA8iUjaUrIKpD1vbB841OQkrlcX47Jjuy/",
}


def crypt3(password: str, setting: str) -> str:
    if _crypt is not None:
        return _crypt.crypt(password, setting)
    return _CRYPT_MADE[(password, setting)]  # pragma: no cover


def ab64(raw: bytes) -> str:
    """passlib's adapted base64: '.' for '+', no padding."""
    return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")


def real_hashes() -> dict[str, list[str]]:
    """Password hashes made by the real algorithms, grouped by what hygiene should call them."""
    salt = b"NaCl-and-pepper!"
    pbkdf2 = hashlib.pbkdf2_hmac("sha256", b"s3cret", salt, 1000)
    scrypt = hashlib.scrypt(b"s3cret", salt=salt, n=2**10, r=8, p=1, dklen=32)
    return {
        "bcrypt_ok": [
            crypt3("correct horse battery staple", "$2b$12$Ro0CUfOqk6cXEKf3dyaM7O"),
            crypt3("Tr0ub4dor&3", "$2b$10$abcdefghijklmnopqrstuu"),
        ],
        "bcrypt_low": [
            crypt3("letmein", "$2b$08$XXXXXXXXXXXXXXXXXXXXXO"),
            crypt3("U*U", "$2b$05$CCCCCCCCCCCCCCCCCCCCC."),
        ],
        "md5_like": [
            hashlib.md5(b"password").hexdigest(),
            hashlib.sha1(b"password").hexdigest(),
            hashlib.sha256(b"password").hexdigest().upper(),
        ],
        "strong": [
            argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash("s3cret"),
            f"$pbkdf2-sha256$1000${ab64(salt)}${ab64(pbkdf2)}",
            f"pbkdf2_sha256$1000${salt.decode()}${base64.b64encode(pbkdf2).decode()}",
            f"pbkdf2:sha256:1000${salt.decode()}${pbkdf2.hex()}",
            f"$scrypt$ln=10,r=8,p=1${ab64(salt)}${ab64(scrypt)}",
        ],
        "other": [
            "hunter2",  # plain text
            crypt3("hunter2", "$6$saltsaltsalt$"),  # sha512-crypt: salted, but neither bcrypt nor a strong KDF
            base64.b64encode(hashlib.sha256(b"password").digest()).decode(),  # an unsalted digest in base64
        ],
    }


def test_real_hashes_are_what_they_claim() -> None:
    """The fixtures themselves: real bcrypt output verifies, argon2 verifies, the cost is in the string."""
    hashes = real_hashes()
    ok = hashes["bcrypt_ok"][0]
    assert ok.startswith("$2b$12$") and len(ok) == 60
    if _crypt is not None:
        assert _crypt.crypt("correct horse battery staple", ok) == ok
        assert _crypt.crypt("wrong", ok) != ok
    assert argon2.PasswordHasher().verify(hashes["strong"][0], "s3cret")
    # Openwall crypt_blowfish's published vector, reproduced.
    assert hashes["bcrypt_low"][1] == "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"


def test_password_hash_kinds_are_counted_and_never_returned() -> None:
    hashes = real_hashes()
    docs = []
    for kind in ("bcrypt_ok", "bcrypt_low", "md5_like", "strong", "other"):
        docs += [{"_id": len(docs), "email": f"u{len(docs)}@example.com", "password": h} for h in hashes[kind]]
    docs.append({"_id": 99, "password": None})  # not a string: not a value
    docs.append({"_id": 100})
    row = hygiene_row("shop.users", docs, HygieneParams())
    assert row["password_field"] == "password"
    assert row["sampled"] == len(docs)
    assert row["password_values"] == 2 + 2 + 3 + 5 + 3
    assert row["not_bcrypt"] == 3 + 5 + 3
    assert row["bcrypt_low_cost"] == 2
    assert row["md5_like"] == 3
    assert row["other_strong"] == 5
    text = str(row) + repr(row)
    for group in hashes.values():
        for value in group:
            assert value not in text
            assert value[-20:] not in text
    # The row fits the store table (columns and types).
    table = to_arrow("db_hygiene", [{"ts": dt.datetime(2026, 12, 6, tzinfo=dt.UTC), "host": "h:27017", **row}])
    assert table.schema == HYGIENE_SCHEMA


def test_bcrypt_cost_threshold_is_a_param() -> None:
    hashes = real_hashes()
    docs = [{"password": h} for h in hashes["bcrypt_ok"] + hashes["bcrypt_low"]]
    assert hygiene_row("a.b", docs, HygieneParams(min_bcrypt_cost=13))["bcrypt_low_cost"] == 4
    assert hygiene_row("a.b", docs, HygieneParams(min_bcrypt_cost=11))["bcrypt_low_cost"] == 3
    assert hygiene_row("a.b", docs, HygieneParams(min_bcrypt_cost=4))["bcrypt_low_cost"] == 0


def test_malformed_bcrypt_lookalikes_are_not_bcrypt() -> None:
    good = real_hashes()["bcrypt_ok"][0]
    docs = [
        {"password": good[:-1]},  # 52 characters after the cost
        {"password": good.replace("$2b$", "$2x$")},  # not an accepted variant
        {"password": good.replace("$12$", "$1$", 1)},  # one-digit cost
        {"password": good + "x"},
        {"password": "$2b$12$" + "!" * 53},  # outside bcrypt's alphabet
    ]
    row = hygiene_row("a.b", docs, HygieneParams())
    assert row["password_values"] == 5 and row["not_bcrypt"] == 5
    assert row["bcrypt_low_cost"] == 0 and row["md5_like"] == 0 and row["other_strong"] == 0


def test_password_field_is_the_first_of_params_holding_strings() -> None:
    hashes = real_hashes()
    docs = [
        {"password": None, "passwordHash": hashes["md5_like"][0], "hash": hashes["bcrypt_ok"][0]},
        {"password": {"nested": True}, "passwordHash": hashes["bcrypt_low"][0], "hash": hashes["bcrypt_ok"][1]},
    ]
    row = hygiene_row("a.b", docs, HygieneParams())
    assert row["password_field"] == "passwordHash"
    assert (row["password_values"], row["md5_like"], row["bcrypt_low_cost"], row["not_bcrypt"]) == (2, 1, 1, 1)
    # Meteor keeps bcrypt under services.password.bcrypt: a dotted path reaches it.
    meteor = [{"services": {"password": {"bcrypt": h}}} for h in hashes["bcrypt_ok"]]
    row = hygiene_row("meteor.users", meteor, HygieneParams(password_fields=["services.password.bcrypt"]))
    assert (row["password_field"], row["password_values"], row["not_bcrypt"]) == ("services.password.bcrypt", 2, 0)
    none = hygiene_row("a.b", [{"name": "x"}], HygieneParams())
    assert none["password_field"] is None and none["password_values"] == 0 and none["not_bcrypt"] == 0


def test_soft_delete_field_and_count() -> None:
    when = dt.datetime(2026, 11, 1, 12, 0)
    docs = [
        {"deletedAt": when},
        {"deletedAt": None},
        {"deletedAt": bson.Timestamp(1_700_000_000, 1)},
        {"deletedAt": "2026-11-02T08:00:00Z"},
        {"deletedAt": 1_762_000_000_000},  # epoch milliseconds
        {"deletedAt": 0},
        {"deletedAt": ""},
        {"deleted": True},  # a later field of the list: not the one chosen
        {},
    ]
    row = hygiene_row("shop.orders", docs, HygieneParams())
    assert row["soft_delete_field"] == "deletedAt"
    assert row["soft_deleted"] == 4

    flags = [{"isDeleted": True}, {"isDeleted": False}, {"isDeleted": True}, {"other": 1}]
    row = hygiene_row("shop.carts", flags, HygieneParams())
    assert (row["soft_delete_field"], row["soft_deleted"]) == ("isDeleted", 2)

    nested = [{"meta": {"removedAt": when}}, {"meta": {"removedAt": None}}, {"meta": [{"removedAt": when}]}]
    row = hygiene_row("a.b", nested, HygieneParams(soft_delete_fields=["meta.removedAt"]))
    assert (row["soft_delete_field"], row["soft_deleted"]) == ("meta.removedAt", 1)

    row = hygiene_row("a.b", [{"x": 1}], HygieneParams())
    assert (row["soft_delete_field"], row["soft_deleted"]) == (None, 0)


def test_document_sizes_follow_the_bson_spec() -> None:
    # BSON: int32 length + (type byte + "s\0" + int32 strlen + 1000 chars + NUL) + terminating NUL = 1013
    docs = [{"s": "x" * 1000}, {"s": "x" * 10}]
    row = hygiene_row("a.b", docs, HygieneParams(max_doc_bytes=1012))
    assert row["max_doc_bytes"] == 1013
    assert row["oversize_docs"] == 1
    assert hygiene_row("a.b", docs, HygieneParams(max_doc_bytes=1013))["oversize_docs"] == 0
    # A raw document (as read with RawBSONDocument) is measured as is: 5 bytes for {}.
    raw = RawBSONDocument(b"\x05\x00\x00\x00\x00")
    assert hygiene_row("a.b", [raw], HygieneParams())["max_doc_bytes"] == 5
    empty = hygiene_row("a.b", [], HygieneParams())
    assert (empty["sampled"], empty["max_doc_bytes"], empty["oversize_docs"]) == (0, None, 0)


def test_an_unencodable_document_does_not_leak_its_values() -> None:
    secret = real_hashes()["md5_like"][0]
    docs = [{"password": secret, "odd": {secret, "x"}}, {"s": "x" * 10}]  # a set: bson cannot encode it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = hygiene_row("a.b", docs, HygieneParams())
    assert row["max_doc_bytes"] == 4 + 1 + 2 + 4 + 11 + 1  # only the encodable one
    assert row["md5_like"] == 1
    assert secret not in str(row)


# ---------------------------------------------------------------------------- disk forecast

GB = 1_000_000_000
DAY0 = pd.Timestamp("2026-12-01", tz="UTC")


def dbstats(
    host: str, days: int, start: float, per_day: float, fs_total: float | None, fs_used0: float | None
) -> pd.DataFrame:
    """Two snapshots a day (06:00 and 18:00), two databases each; data grows `per_day` a day."""
    rows = []
    for d in range(days):
        for hour, extra in ((6, -0.3 * per_day), (18, 0.0)):  # the 18:00 one is the day's latest
            ts = DAY0 + pd.Timedelta(days=d, hours=hour)
            total = start + per_day * d + extra
            used = None if fs_used0 is None else fs_used0 + per_day * d + extra
            for db, share in (("shop", 0.75), ("auth", 0.25)):
                rows.append(
                    {
                        "ts": ts,
                        "host": host,
                        "db": db,
                        "storage_size": int(total * share * 0.8),
                        "index_size": int(total * share * 0.2),
                        "fs_used_size": None if used is None else int(used),
                        "fs_total_size": None if fs_total is None else int(fs_total),
                    }
                )
    return pd.DataFrame(rows)


def test_growing_disk_days_until_full() -> None:
    frame = dbstats("db1:27017", days=6, start=20 * GB, per_day=1 * GB, fs_total=100 * GB, fs_used0=55 * GB)
    result = disk_forecast(frame, None)
    assert result["growth_bytes_per_day"] == pytest.approx(1 * GB, rel=1e-6)
    assert result["current_bytes"] == pytest.approx(25 * GB, abs=4)
    assert result["disk_total_bytes"] == 100 * GB and result["disk_total_source"] == "fsTotalSize"
    # free = 100 - (55 + 5) = 40 GB at 1 GB/day
    assert result["days_until_full"] == pytest.approx(40, rel=1e-6)
    assert result["reason"] is None and result["days_observed"] == 6


def test_growth_is_the_least_squares_slope_of_daily_totals() -> None:
    rng = np.random.default_rng(7)
    totals = 10 * GB + 0.5 * GB * np.arange(8) + rng.normal(0, 0.2 * GB, 8)
    rows = [
        {
            "ts": DAY0 + pd.Timedelta(days=d, hours=23),
            "host": "h",
            "db": "shop",
            "storage_size": int(t),
            "index_size": 0,
        }
        for d, t in enumerate(totals)
    ]
    frame = pd.DataFrame(rows).assign(fs_used_size=None, fs_total_size=None)
    expected_slope = np.polyfit(np.arange(8), totals, 1)[0]
    result = disk_forecast(frame, 50 * GB)
    assert result["growth_bytes_per_day"] == pytest.approx(expected_slope, rel=1e-6)
    # no fsUsedSize: free = the param's disk less our data
    assert result["disk_total_source"] == "params"
    assert result["days_until_full"] == pytest.approx((50 * GB - int(totals[-1])) / expected_slope, rel=1e-6)


def test_flat_data_is_not_growing() -> None:
    frame = dbstats("h", days=5, start=30 * GB, per_day=0, fs_total=100 * GB, fs_used0=40 * GB)
    result = disk_forecast(frame, None)
    assert result["growth_bytes_per_day"] == pytest.approx(0, abs=1)
    assert result["days_until_full"] is None
    assert "not growing" in result["reason"]


def test_unknown_disk_total_and_too_few_days() -> None:
    frame = dbstats("h", days=4, start=30 * GB, per_day=2 * GB, fs_total=None, fs_used0=None)
    unknown = disk_forecast(frame, None)
    assert unknown["growth_bytes_per_day"] == pytest.approx(2 * GB, rel=1e-6)
    assert unknown["disk_total_bytes"] is None and unknown["days_until_full"] is None
    assert "unknown" in unknown["reason"]
    given = disk_forecast(frame, 100 * GB)
    assert given["days_until_full"] == pytest.approx((100 * GB - 36 * GB) / (2 * GB), rel=1e-6)

    one_day = dbstats("h", days=1, start=30 * GB, per_day=2 * GB, fs_total=100 * GB, fs_used0=40 * GB)
    result = disk_forecast(one_day, None)
    assert result["growth_bytes_per_day"] is None and result["days_until_full"] is None
    assert "two days" in result["reason"]

    empty = disk_forecast(pd.DataFrame(columns=["ts", "host", "db", "storage_size", "index_size"]), None)
    assert empty["days_until_full"] is None and empty["hosts"] == [] and empty["reason"]


def test_the_host_that_fills_first_is_on_top() -> None:
    slow = dbstats("a:27017", days=5, start=10 * GB, per_day=0.5 * GB, fs_total=100 * GB, fs_used0=20 * GB)
    fast = dbstats("b:27017", days=5, start=10 * GB, per_day=2 * GB, fs_total=100 * GB, fs_used0=60 * GB)
    result = disk_forecast(pd.concat([slow, fast], ignore_index=True), None)
    assert result["host"] == "b:27017"
    assert result["days_until_full"] == pytest.approx((100 - 68) / 2, rel=1e-6)
    by_host = {h["host"]: h for h in result["hosts"]}
    assert by_host["a:27017"]["days_until_full"] == pytest.approx((100 - 22) / 0.5, rel=1e-6)


def test_a_full_disk_has_zero_days() -> None:
    frame = dbstats("h", days=3, start=10 * GB, per_day=1 * GB, fs_total=50 * GB, fs_used0=48 * GB)
    result = disk_forecast(frame, None)
    assert result["days_until_full"] == 0.0
