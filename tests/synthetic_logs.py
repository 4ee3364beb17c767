"""Synthetic `requests` and `app_events` tables with planted incidents, for the log-analysis tests.

Traffic is built deterministically (a fixed number of requests per minute and route, latencies
from a seeded generator) so that each test can compute its expected answer independently, from
the frame itself or from what it planted.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

TZ = "Europe/Berlin"
ROUTES = (
    ("GET", "/api/products/{id}", 6, 20.0),
    ("POST", "/api/orders", 3, 80.0),
    ("POST", "/api/auth/login", 2, 150.0),
    ("GET", "/api/health", 1, 2.0),
)
CLIENTS = tuple(f"198.51.100.{i}" for i in range(1, 41))


def day_start(day: dt.date, tz: str = TZ) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.combine(day, dt.time(), ZoneInfo(tz))).tz_convert("UTC")


def local(day: dt.date, hhmm: str, tz: str = TZ) -> pd.Timestamp:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return pd.Timestamp(dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(tz))).tz_convert("UTC")


def requests_day(day: dt.date, seed: int = 0, hosts: tuple[str, ...] = ("api-1",), scale: int = 1) -> pd.DataFrame:
    """One local day of steady traffic: every minute, each route gets its fixed number of requests."""
    rng = np.random.default_rng(seed)
    start, end = day_start(day), day_start(day + dt.timedelta(days=1))
    minutes = pd.date_range(start, end, freq="1min", inclusive="left")
    frames = []
    for method, template, per_minute, median_ms in ROUTES:
        k = per_minute * scale
        n = len(minutes) * k
        ts = minutes.repeat(k) + pd.to_timedelta(np.tile(np.arange(k) * (59.0 / k), len(minutes)), unit="s")
        ids = rng.integers(1, 10_000, size=n).astype(str)
        path = np.char.add(template.split("{")[0], ids) if "{id}" in template else np.full(n, template)
        frames.append(
            pd.DataFrame(
                {
                    "ts": ts,
                    "method": method,
                    "path": path,
                    "status": np.int16(201 if method == "POST" else 200),
                    "response_time_ms": median_ms * np.exp(rng.normal(0.0, 0.4, size=n)),
                    "bytes": np.int64(900),
                }
            )
        )
    df = pd.concat(frames, ignore_index=True)
    df["ts"] = df["ts"].astype("datetime64[us, UTC]")  # the store's precision
    n = len(df)
    df["host"] = np.array(hosts)[np.arange(n) % len(hosts)]
    df["remote_addr"] = np.array(CLIENTS)[rng.integers(0, len(CLIENTS), size=n)]
    df["remote_user"] = None
    df["url"] = df["path"]
    df["http_version"] = "1.1"
    df["referrer"] = "-"
    df["user_agent"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
    df["total_time_ms"] = np.nan
    df["source_file"] = f"/logs/access-{day}.log"
    return df.sort_values("ts", kind="stable").reset_index(drop=True)


def plant_status(df: pd.DataFrame, route_prefix: str, start: pd.Timestamp, minutes: int, status: int) -> pd.DataFrame:
    """Every request of routes starting with ``route_prefix`` ("POST /api/orders") in the window gets ``status``."""
    method, prefix = route_prefix.split(" ", 1)
    mask = (
        df["method"].eq(method)
        & df["path"].str.startswith(prefix)
        & (df["ts"] >= start)
        & (df["ts"] < start + pd.Timedelta(minutes=minutes))
    )
    df = df.copy()
    df.loc[mask, "status"] = status
    return df


def client_burst(
    start: pd.Timestamp, minutes: int, per_minute: int, client: str, status: int = 401, path: str = "/api/auth/login"
) -> pd.DataFrame:
    """``per_minute`` requests from one client for ``minutes`` minutes, all answered ``status``."""
    n = minutes * per_minute
    ts = (start + pd.to_timedelta(np.arange(n) * (60.0 / per_minute), unit="s")).astype("datetime64[us, UTC]")
    return pd.DataFrame(
        {
            "ts": ts,
            "method": "POST",
            "path": path,
            "status": np.int16(status),
            "response_time_ms": 120.0,
            "bytes": np.int64(52),
            "host": "api-1",
            "remote_addr": client,
            "remote_user": None,
            "url": path,
            "http_version": "1.1",
            "referrer": "-",
            "user_agent": "python-requests/2.31.0",
            "total_time_ms": np.nan,
            "source_file": "/logs/planted.log",
        }
    )
