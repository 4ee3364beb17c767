"""The probe result model and the schema of the `probe_results` table.

One :class:`ProbeResult` is one check of one target in one round. ``check`` is a family
(``http``, ``tls``) or ``family.aspect`` (``headers.csp``, ``auth.rbac``), so the security
matrix and the findings can say exactly what failed. Timings follow curl's names: ``dns_ms``,
``connect_ms`` and ``tls_ms`` are phase durations, ``ttfb_ms`` is the time from the start to
the first response byte and ``latency_ms`` the total including the body.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd
import pyarrow as pa

TABLE = "probe_results"

SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("probe", pa.string()),
        ("check", pa.string()),
        ("ok", pa.bool_()),
        ("status_code", pa.int32()),
        ("latency_ms", pa.float64()),
        ("detail", pa.string()),
        ("cert_days_left", pa.float64()),
        ("dns_ms", pa.float64()),
        ("connect_ms", pa.float64()),
        ("tls_ms", pa.float64()),
        ("ttfb_ms", pa.float64()),
        ("source", pa.string()),
    ]
)
COLUMNS = tuple(SCHEMA.names)


@dataclass(frozen=True)
class ProbeResult:
    """One check of one target at one time; ``ok`` says whether it passed, ``detail`` why."""

    ts: dt.datetime
    probe: str
    check: str
    ok: bool
    detail: str
    status_code: int | None = None
    latency_ms: float | None = None
    cert_days_left: float | None = None
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    ttfb_ms: float | None = None
    source: str = "probe"

    @property
    def family(self) -> str:
        return self.check.split(".", 1)[0]

    def to_row(self) -> dict[str, Any]:
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["ts"] = self.ts.astimezone(dt.UTC)
        return row

    def to_json(self) -> dict[str, Any]:
        row = self.to_row()
        row["ts"] = self.ts.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        for key in ("latency_ms", "dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "cert_days_left"):
            if row[key] is not None:
                row[key] = round(float(row[key]), 3)
        return row


def empty_frame() -> pd.DataFrame:
    return normalise_frame(pd.DataFrame({c: [] for c in COLUMNS}))


def results_frame(results: list[ProbeResult]) -> pd.DataFrame:
    if not results:
        return empty_frame()
    return normalise_frame(pd.DataFrame([r.to_row() for r in results]))


def normalise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Coerce any probe-results frame (store, spool, Prometheus, demo) to the table's dtypes."""
    df = df.copy()
    for column in COLUMNS:
        if column not in df.columns:
            df[column] = None
    df = df[list(COLUMNS)]
    df["ts"] = pd.to_datetime(df["ts"], utc=True, format="ISO8601").astype("datetime64[us, UTC]")
    for column in ("probe", "check", "detail", "source"):
        df[column] = df[column].astype("string")
    df["ok"] = df["ok"].astype("boolean").fillna(False).astype(bool)
    df["status_code"] = pd.to_numeric(df["status_code"], errors="coerce").astype("Int32")
    for column in ("latency_ms", "cert_days_left", "dns_ms", "connect_ms", "tls_ms", "ttfb_ms"):
        df[column] = pd.to_numeric(df[column], errors="coerce").astype("float64")
    return df.reset_index(drop=True)


def to_arrow(df: pd.DataFrame) -> pa.Table:
    """A frame as an Arrow table with exactly the table's schema."""
    df = normalise_frame(df)
    return pa.Table.from_pandas(df, schema=SCHEMA, preserve_index=False)
