"""Built-in demo data: a week and a day of a realistic Express API, with planted incidents.

`opsreview demo` writes, deterministically for a seed and an end date:

- ``access/<host>/access-YYYY-MM-DD.log`` morgan ``combined`` + `` :response-time ms`` lines,
  rotated at UTC midnight as logrotate would (older days gzipped);
- ``app/api-1/app-YYYY-MM-DD.log`` winston JSON lines, ``app/worker-1/worker-YYYY-MM-DD.log``
  plain text with multi-line stack traces;
- ``store/probe_results`` one minute-resolution probe history, as `opsreview probe` from cron
  would have written it;
- ``database/snapshots`` and ``database/logs``: a MongoDB replica set's snapshots every 15
  minutes and its structured slow-query logs (:mod:`opsreview.database.demo`: each area with a
  ``demo`` module in :data:`opsreview.areas.AREAS` adds its own data and ground truth);
- ``ground-truth.json``: the incidents planted on the last (review) day.

Everything is vectorised with numpy so the default 200k requests/day stay quick to generate.
"""

from __future__ import annotations

import datetime as dt
import gzip
import importlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import yaml

from opsreview.areas import AREAS
from opsreview.store import Store

DEMO_TIMEZONE = "Europe/Berlin"
HOSTS = ("api-1", "api-2")


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    weight: float
    latency_ms: float  # median
    error_rate: float  # background 5xx share
    client_error: tuple[tuple[int, float], ...] = ()
    size: int = 800


ROUTES = (
    Route("GET", "/api/health", 6, 2, 0.0, size=40),
    Route("GET", "/api/products", 14, 38, 0.001, size=5200),
    Route("GET", "/api/products/:id", 18, 22, 0.001, ((404, 0.02),), 1400),
    Route("GET", "/api/products/:id/reviews", 5, 45, 0.001, size=3100),
    Route("GET", "/api/categories", 6, 12, 0.0, size=900),
    Route("GET", "/api/categories/:id/products", 5, 41, 0.001, size=4800),
    Route("GET", "/api/search", 8, 85, 0.002, ((429, 0.01),), 3900),
    Route("POST", "/api/auth/login", 3, 160, 0.001, ((401, 0.06), (429, 0.005)), 350),
    Route("POST", "/api/auth/register", 0.6, 210, 0.002, ((400, 0.08), (409, 0.03)), 300),
    Route("POST", "/api/auth/refresh", 2.5, 9, 0.0, ((401, 0.03),), 320),
    Route("GET", "/api/users/me", 5, 14, 0.0, ((401, 0.02),), 600),
    Route("PUT", "/api/users/me", 0.7, 35, 0.001, ((400, 0.05),), 600),
    Route("GET", "/api/users/:id/orders", 3, 55, 0.001, ((401, 0.01), (403, 0.01)), 2500),
    Route("GET", "/api/cart", 6, 18, 0.0, size=1100),
    Route("POST", "/api/cart/items", 3, 26, 0.001, ((400, 0.03),), 1100),
    Route("DELETE", "/api/cart/items/:id", 0.8, 21, 0.0, ((404, 0.02),), 200),
    Route("POST", "/api/orders", 1.6, 240, 0.003, ((400, 0.02),), 900),
    Route("GET", "/api/orders/:id", 1.5, 30, 0.0, ((404, 0.01), (403, 0.005)), 1300),
    Route("POST", "/api/payments/webhook", 1.2, 65, 0.002, ((400, 0.01),), 30),
    Route("POST", "/api/uploads", 0.4, 420, 0.004, ((413, 0.02), (415, 0.01)), 150),
    Route("GET", "/api/admin/stats", 0.2, 310, 0.0, ((403, 0.05),), 2000),
)

USER_AGENTS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        30,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        14,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
        16,
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 8),
    ("ShopApp/4.12.1 (Android 14; Pixel 8)", 14),
    ("ShopApp/4.12.1 (iOS 18.1; iPhone15,3)", 10),
    ("okhttp/4.12.0", 3),
    ("axios/1.7.7", 2),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 1.5),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 0.8),
    ("curl/8.5.0", 0.7),
)
SCANNER_PATHS = ("/.env", "/.git/config", "/wp-admin/setup-config.php", "/wp-login.php", "/phpmyadmin/", "/config.json")
REFERRERS = ("-", "-", "-", "https://shop.example.com/", "https://shop.example.com/products", "https://www.google.com/")

# The planted incidents, in local time of the review day (DEMO_TIMEZONE).
BURST_5XX: dict[str, Any] = {"route": "POST /api/orders", "start": "14:10", "minutes": 20, "share": 0.55}
LATENCY_REGRESSION: dict[str, Any] = {"route": "GET /api/products/:id", "start": "09:30", "factor": 4.0}
AUTH_BURST: dict[str, Any] = {
    "client": "203.0.113.77",
    "route": "POST /api/auth/login",
    "start": "03:12",
    "minutes": 15,
    "requests": 1800,
}
HEALTH_OUTAGE: dict[str, Any] = {"probe": "api-health", "start": "11:02", "minutes": 6}
TLS_DAYS_LEFT = 9


def _local(day: dt.date, hhmm: str, tz: ZoneInfo) -> pd.Timestamp:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return pd.Timestamp(dt.datetime.combine(day, dt.time(hour, minute), tz)).tz_convert("UTC")


def _clients(rng: np.random.Generator, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    octets = rng.integers(1, 255, size=(n, 4))
    first = rng.choice(np.array([31, 46, 78, 84, 91, 109, 145, 178, 185, 212]), size=n)
    ips = np.array(
        [f"{a}.{b}.{c}.{d}" for a, b, c, d in zip(first, octets[:, 1], octets[:, 2], octets[:, 3], strict=True)]
    )
    weights = 1.0 / np.arange(1, n + 1) ** 0.9
    return ips, weights / weights.sum()


def _diurnal_times(rng: np.random.Generator, start: pd.Timestamp, n: int, tz: ZoneInfo) -> np.ndarray:
    """n UTC timestamps over one local day, following a daily traffic curve (peak mid-afternoon)."""
    minutes = np.arange(24 * 60)
    hours = minutes / 60.0
    curve = 0.25 + np.exp(-((hours - 14.5) ** 2) / 18.0) + 0.45 * np.exp(-((hours - 20.5) ** 2) / 6.0)
    curve /= curve.sum()
    picked = rng.choice(minutes, size=n, p=curve)
    seconds = picked * 60.0 + rng.random(n) * 60.0
    return (start + pd.to_timedelta(np.sort(seconds), unit="s")).to_numpy()


def _fill_ids(rng: np.random.Generator, templates: np.ndarray) -> np.ndarray:
    """Turn route templates into concrete paths with numeric ids and Mongo ObjectIds."""
    paths = pd.Series(templates, dtype=object)
    n = len(paths)
    numeric = pd.Series(rng.integers(1, 5000, size=n).astype(str))
    object_ids = pd.Series([f"{x:024x}" for x in rng.integers(0, 2**62, size=n)], dtype=object)
    use_oid = paths.str.contains("/orders/|/users/", regex=True).to_numpy()
    ids = numeric.where(~use_oid, object_ids)
    out = paths.to_numpy(copy=True)
    has_id = paths.str.contains(":id").to_numpy()
    out[has_id] = [t.replace(":id", i) for t, i in zip(paths[has_id], ids[has_id], strict=True)]
    return out


def _day_requests(
    rng: np.random.Generator,
    day: dt.date,
    n: int,
    tz: ZoneInfo,
    review_day: bool,
    ips: np.ndarray,
    ip_weights: np.ndarray,
) -> pd.DataFrame:
    start = pd.Timestamp(dt.datetime.combine(day, dt.time(), tz)).tz_convert("UTC")
    weights = np.array([r.weight for r in ROUTES])
    idx = rng.choice(len(ROUTES), size=n, p=weights / weights.sum())
    df = pd.DataFrame({"ts": _diurnal_times(rng, start, n, tz)})
    df["route_idx"] = idx
    df["method"] = np.array([r.method for r in ROUTES])[idx]
    df["template"] = np.array([r.template for r in ROUTES])[idx]
    df["path"] = _fill_ids(rng, df["template"].to_numpy())
    query = rng.random(n)
    search = df["template"].eq("/api/search").to_numpy()
    listing = df["template"].isin(["/api/products", "/api/categories/:id/products"]).to_numpy()
    terms = np.array(["shoes", "red+dress", "laptop", "usb-c", "coffee", "garden", "lamp"])
    df.loc[search, "path"] += "?q=" + terms[rng.integers(0, len(terms), size=int(search.sum()))]
    df.loc[listing & (query < 0.6), "path"] += (
        "?page=" + pd.Series(rng.integers(1, 30, size=n)).astype(str)[listing & (query < 0.6)] + "&limit=20"
    )
    df["client"] = rng.choice(ips, size=n, p=ip_weights)
    ua_names = np.array([u for u, _ in USER_AGENTS])
    ua_w = np.array([w for _, w in USER_AGENTS])
    df["user_agent"] = rng.choice(ua_names, size=n, p=ua_w / ua_w.sum())
    df["referrer"] = rng.choice(np.array(REFERRERS), size=n)
    # Latency: log-normal around each route's median.
    median = np.array([r.latency_ms for r in ROUTES])[idx]
    df["latency"] = median * np.exp(rng.normal(0.0, 0.55, size=n))
    # Status: background 5xx, per-route client errors, else 200/201/204.
    status = np.where(df["method"].eq("POST"), 201, 200)
    status = np.where(df["method"].eq("DELETE"), 204, status)
    status = np.where(
        df["template"].isin(["/api/auth/login", "/api/auth/refresh", "/api/payments/webhook", "/api/search"]),
        200,
        status,
    )
    u = rng.random(n)
    for i, route in enumerate(ROUTES):
        mine = idx == i
        edge = 0.0
        for code, share in route.client_error:
            status = np.where(mine & (u >= edge) & (u < edge + share), code, status)
            edge += share
        status = np.where(
            mine & (u >= 1 - route.error_rate), rng.choice([500, 502, 503], size=n, p=[0.7, 0.2, 0.1]), status
        )
    df["status"] = status
    size = np.array([r.size for r in ROUTES])[idx]
    df["bytes"] = (size * np.exp(rng.normal(0, 0.3, size=n))).astype(int)

    if review_day:
        df = _plant_incidents(rng, df, day, tz)
    # Background scanners: a few probes of well-known paths every day.
    k = int(rng.integers(8, 20))
    scan = pd.DataFrame(
        {
            "ts": (start + pd.to_timedelta(rng.random(k) * 86400, unit="s")).to_numpy(),
            "route_idx": -1,
            "method": "GET",
            "template": "(scanner)",
            "path": rng.choice(np.array(SCANNER_PATHS), size=k),
            "client": "45.155.205.10",
            "user_agent": "Mozilla/5.0 zgrab/0.x",
            "referrer": "-",
            "latency": rng.random(k) * 2 + 0.5,
            "status": 404,
            "bytes": 150,
        }
    )
    df = pd.concat([df, scan], ignore_index=True)
    df["bytes"] = df["bytes"].where(df["status"] != 204, 0)
    df["bytes"] = np.where(df["status"] >= 500, 96, df["bytes"])
    return df.sort_values("ts", kind="stable").reset_index(drop=True)


def _plant_incidents(rng: np.random.Generator, df: pd.DataFrame, day: dt.date, tz: ZoneInfo) -> pd.DataFrame:
    # 1. 5xx burst on one route.
    b_start = _local(day, BURST_5XX["start"], tz)
    b_end = b_start + pd.Timedelta(minutes=BURST_5XX["minutes"])
    ts = pd.to_datetime(df["ts"], utc=True)
    in_burst = (df["method"] + " " + df["template"]).eq(BURST_5XX["route"]) & ts.between(
        b_start, b_end, inclusive="left"
    )
    hit = in_burst & (rng.random(len(df)) < BURST_5XX["share"])
    df.loc[hit, "status"] = rng.choice([500, 503], size=int(hit.sum()), p=[0.8, 0.2])
    df.loc[hit, "latency"] = df.loc[hit, "latency"] * 0 + 5000 + rng.random(int(hit.sum())) * 30
    # 2. Latency regression on another route for the rest of the day.
    r_start = _local(day, LATENCY_REGRESSION["start"], tz)
    slow = (df["method"] + " " + df["template"]).eq(LATENCY_REGRESSION["route"]) & (ts >= r_start)
    df.loc[slow, "latency"] *= LATENCY_REGRESSION["factor"]
    # 3. A 401 burst from one client (credential stuffing).
    a_start = _local(day, AUTH_BURST["start"], tz)
    k = int(AUTH_BURST["requests"])
    stuffing = pd.DataFrame(
        {
            "ts": (a_start + pd.to_timedelta(np.sort(rng.random(k)) * AUTH_BURST["minutes"] * 60, unit="s")).to_numpy(),
            "route_idx": -1,
            "method": "POST",
            "template": "/api/auth/login",
            "path": "/api/auth/login",
            "client": AUTH_BURST["client"],
            "user_agent": "python-requests/2.31.0",
            "referrer": "-",
            "latency": 150 + rng.random(k) * 40,
            "status": 401,
            "bytes": 52,
        }
    )
    # 4. A token leaked into logged URLs by a client that puts its JWT in the query string.
    jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2NTFmMDAwMDAwMDAwMDAwMDAwMDAwMDEiLCJyb2xlIjoidXNlciJ9.c2lnbmF0dXJlLWRlbW8tb25seQ"
    leak = df.sample(3, random_state=int(rng.integers(0, 2**31))).copy()
    leak["method"], leak["template"], leak["status"] = "GET", "/api/users/me", 200
    leak["path"] = "/api/users/me?access_token=" + jwt
    return pd.concat([df, stuffing, leak], ignore_index=True)


def _clf(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts, utc=True).dt.strftime("%d/%b/%Y:%H:%M:%S +0000")


def format_combined_rt(df: pd.DataFrame) -> pd.Series:
    """Morgan `combined` + ' :response-time ms' lines for a request frame."""
    length = df["bytes"].astype(str).where(df["bytes"] > 0, "-")
    return (
        df["client"]
        + " - - ["
        + _clf(df["ts"])
        + '] "'
        + df["method"]
        + " "
        + df["path"]
        + ' HTTP/1.1" '
        + df["status"].astype(str)
        + " "
        + length
        + ' "'
        + df["referrer"]
        + '" "'
        + df["user_agent"]
        + '" '
        + df["latency"].map("{:.3f}".format)
        + " ms"
    )


APP_ERRORS = (
    (
        "error",
        "MongoServerError",
        'E11000 duplicate key error collection: shop.users index: email_1 dup key: {{ email: "{email}" }}',
        "/app/src/services/userService.js:57:11",
        6,
    ),
    (
        "error",
        "ValidationError",
        "Product validation failed: price: Path `price` ({n}) is less than minimum allowed value (0).",
        "/app/src/controllers/productController.js:88:19",
        4,
    ),
    ("warn", "TokenExpiredError", "jwt expired", "/app/src/middleware/auth.js:23:15", 40),
    (
        "error",
        "CastError",
        'Cast to ObjectId failed for value "{bad}" (type string) at path "_id" for model "Order"',
        "/app/src/controllers/orderController.js:41:24",
        3,
    ),
)
NEW_ERROR = (
    "error",
    "MongoNetworkTimeoutError",
    "connection {n} to 10.0.3.21:27017 timed out",
    "/app/src/services/orderService.js:112:17",
)


def _stack(error_type: str, message: str, frame: str) -> str:
    return (
        f"{error_type}: {message}\n    at {frame.rsplit('/', 1)[-1].split('.')[0]}Handler ({frame})\n"
        "    at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)\n"
        "    at next (/app/node_modules/express/lib/router/route.js:149:13)"
    )


def _app_events(rng: np.random.Generator, day: dt.date, tz: ZoneInfo, review_day: bool) -> list[dict[str, object]]:
    start = pd.Timestamp(dt.datetime.combine(day, dt.time(), tz)).tz_convert("UTC")
    events: list[dict[str, object]] = []
    n_info = 1500
    for t in _diurnal_times(rng, start, n_info, tz):
        events.append(
            {
                "level": "info",
                "message": str(
                    rng.choice(["order created", "user logged in", "cart updated", "payment intent created"])
                ),
                "timestamp": pd.Timestamp(t).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "service": "shop-api",
                "requestId": f"{rng.integers(0, 2**48):012x}",
            }
        )
    for level, etype, template, frame, per_day in APP_ERRORS:
        for t in _diurnal_times(rng, start, int(rng.poisson(per_day)) + 1, tz):
            message = template.format(
                email=f"user{rng.integers(1, 999)}@example.com",
                n=-int(rng.integers(1, 99)),
                bad=f"{rng.integers(0, 2**20):x}",
            )
            event = {
                "level": level,
                "message": message,
                "timestamp": pd.Timestamp(t).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "service": "shop-api",
                "name": etype,
                "requestId": f"{rng.integers(0, 2**48):012x}",
            }
            if level == "error":
                event["stack"] = _stack(etype, message, frame)
            events.append(event)
    if review_day:
        b_start = _local(day, BURST_5XX["start"], tz)
        level, etype, template, frame = NEW_ERROR
        for s in np.sort(rng.random(140)) * BURST_5XX["minutes"] * 60:
            message = template.format(n=int(rng.integers(1, 60)))
            events.append(
                {
                    "level": level,
                    "message": message,
                    "name": etype,
                    "service": "shop-api",
                    "timestamp": (b_start + pd.Timedelta(seconds=float(s)))
                    .isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z"),
                    "stack": _stack(etype, message, frame),
                    "requestId": f"{rng.integers(0, 2**48):012x}",
                }
            )
    events.sort(key=lambda e: str(e["timestamp"]))
    return events


def _worker_lines(rng: np.random.Generator, day: dt.date, tz: ZoneInfo) -> list[tuple[str, str]]:
    start = pd.Timestamp(dt.datetime.combine(day, dt.time(), tz)).tz_convert("UTC")
    lines: list[tuple[str, str]] = []
    for t in _diurnal_times(rng, start, 300, tz):
        stamp = pd.Timestamp(t).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        lines.append((stamp, f"{stamp} INFO processed job sendOrderEmail id={rng.integers(1, 99999)}"))
    for t in _diurnal_times(rng, start, int(rng.poisson(3)) + 1, tz):
        stamp = pd.Timestamp(t).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        evt = f"evt_{rng.integers(0, 2**40):010x}"
        lines.append(
            (
                stamp,
                f"{stamp} ERROR PaymentWebhookError: signature verification failed for event {evt}\n"
                "    at verifySignature (/app/src/webhooks/stripe.js:31:11)\n"
                "    at processWebhook (/app/src/jobs/webhookWorker.js:54:5)\n"
                "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
            )
        )
    lines.sort()
    return lines


def _probe_history(rng: np.random.Generator, days: list[dt.date], tz: ZoneInfo) -> dict[dt.date, pd.DataFrame]:
    out = {}
    review = days[-1]
    for day in days:
        start = pd.Timestamp(dt.datetime.combine(day, dt.time(), tz)).tz_convert("UTC")
        end = pd.Timestamp(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)).tz_convert("UTC")
        minutes = pd.date_range(start, end, freq="1min", inclusive="left")
        frames = []
        for probe, _path, base in (("api-health", "/api/health", 35.0), ("api-products", "/api/products", 95.0)):
            n = len(minutes)
            latency = base * np.exp(rng.normal(0, 0.25, size=n))
            ok = np.ones(n, dtype=bool)
            status = np.full(n, 200)
            detail = np.full(n, "200 OK", dtype=object)
            if day == review and probe == HEALTH_OUTAGE["probe"]:
                o_start = _local(day, HEALTH_OUTAGE["start"], tz)
                down = (minutes >= o_start) & (minutes < o_start + pd.Timedelta(minutes=HEALTH_OUTAGE["minutes"]))
                ok[down], status[down], latency[down] = False, 503, 5.0
                detail[down] = "expected status 200, got 503"
            frames.append(
                pd.DataFrame(
                    {
                        "ts": minutes,
                        "probe": probe,
                        "check": "http",
                        "ok": ok,
                        "status_code": status.astype("int32"),
                        "latency_ms": latency,
                        "detail": detail,
                        "cert_days_left": np.nan,
                        "dns_ms": 1.0,
                        "connect_ms": latency * 0.1,
                        "tls_ms": latency * 0.2,
                        "ttfb_ms": latency * 0.9,
                        "source": "demo",
                    }
                )
            )
        hours = pd.date_range(start, end, freq="1h", inclusive="left")
        expiry = pd.Timestamp(dt.datetime.combine(review, dt.time(12), tz)).tz_convert("UTC") + pd.Timedelta(
            days=TLS_DAYS_LEFT
        )
        left = ((expiry - hours) / pd.Timedelta(days=1)).to_numpy()
        frames.append(
            pd.DataFrame(
                {
                    "ts": hours,
                    "probe": "api-tls",
                    "check": "tls",
                    "ok": True,
                    "status_code": pd.array([None] * len(hours), dtype="Int32"),
                    "latency_ms": 40 * np.exp(rng.normal(0, 0.2, size=len(hours))),
                    "detail": [f"certificate valid, {d:.1f} days left, TLSv1.3" for d in left],
                    "cert_days_left": left,
                    "dns_ms": np.nan,
                    "connect_ms": np.nan,
                    "tls_ms": np.nan,
                    "ttfb_ms": np.nan,
                    "source": "demo",
                }
            )
        )
        df = pd.concat(frames, ignore_index=True)
        df["status_code"] = df["status_code"].astype("Int32")
        out[day] = df
    return out


def demo_is_current(out: Path, end_date: dt.date | None = None) -> bool:
    """Whether ``out`` holds a complete demo data set ending on ``end_date`` (default yesterday),
    with the data of every area that has a demo (one written by an older opsreview lacks them)."""
    end = end_date or (dt.datetime.now(ZoneInfo(DEMO_TIMEZONE)).date() - dt.timedelta(days=1))
    try:
        truth = json.loads((out / "ground-truth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    areas = {a.name for a in AREAS if a.demo}
    return bool(truth.get("review_date") == end.isoformat()) and (areas | {"checklist", "deploys"}) <= set(truth)


def generate_demo(
    out: Path, days: int = 8, requests_per_day: int = 200_000, seed: int = 42, end_date: dt.date | None = None
) -> dict[str, object]:
    """Write the demo data set under ``out`` and return its ground truth."""
    tz = ZoneInfo(DEMO_TIMEZONE)
    end = end_date or (dt.datetime.now(tz).date() - dt.timedelta(days=1))
    day_list = [end - dt.timedelta(days=i) for i in range(days - 1, -1, -1)]
    rng = np.random.default_rng(seed)
    ips, ip_weights = _clients(rng)
    (out / "ground-truth.json").unlink(missing_ok=True)  # written last: marks a complete data set
    if out.exists():
        for child in ("access", "app", "store", *(a.name for a in AREAS if a.demo)):
            shutil.rmtree(out / child, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)

    # Day by day, a million lines at a time: a 10M-request day must not need the whole week in
    # memory. Files are per UTC day (as logrotate at midnight UTC would cut them), so the first
    # hours of a local day go to the file the previous local day began; a file is closed once no
    # later local day can reach it.
    writers = _AccessWriters(out / "access", gz_before=end - dt.timedelta(days=1))
    total = 0
    review_requests = pd.DataFrame()
    for day in day_list:
        n = int(requests_per_day * (0.92 + 0.16 * rng.random()))
        requests = _day_requests(rng, day, n, tz, day == end, ips, ip_weights)
        requests["host"] = rng.choice(np.array(HOSTS), size=len(requests))
        total += len(requests)
        for offset in range(0, len(requests), _FORMAT_CHUNK):
            chunk = requests.iloc[offset : offset + _FORMAT_CHUNK]
            utc_day = pd.to_datetime(chunk["ts"], utc=True).dt.date
            lines = format_combined_rt(chunk)
            for (host, file_day), part in lines.groupby([chunk["host"], utc_day], sort=True):
                writers.write(str(host), file_day, part)
        writers.close_before(day)
        if day == end:
            review_requests = requests
        del requests
    writers.close_before(None)

    for day in day_list:
        events = _app_events(rng, day, tz, day == end)
        _write_lines(out / "app" / "api-1" / f"app-{day}.log", [json.dumps(e) for e in events], gz=False)
        _write_lines(
            out / "app" / "worker-1" / f"worker-{day}.log", [text for _, text in _worker_lines(rng, day, tz)], gz=False
        )

    store = Store(out / "store")
    for day, frame in _probe_history(rng, day_list, tz).items():
        store.write_part("probe_results", day, "demo", frame)

    truth = _ground_truth(end, tz, review_requests, total)
    truth["checklist"] = write_attestations(out / "attestations.yaml", end)
    truth["deploys"] = write_deploys(out / "deploys.jsonl", end, tz)
    for index, area in enumerate(a for a in AREAS if a.demo):
        # each area's demo has its own random stream: adding one changes no other area's data
        module = importlib.import_module(str(area.demo))
        truth.update(module.write_demo(out, day_list, tz, np.random.default_rng([seed, index + 1])))
    (out / "ground-truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return truth


# Sign-offs of items no machine checks, dated from the review day so that the demo reads the
# same whenever it is generated: three in force, one given 120 days ago and expired (90 days).
_ATTESTATIONS = (
    ("Load testing completed", "platform team", 12, "k6: 400 rps for 30 min, p95 210 ms (OPS-412)"),
    ("Redis caching (structure ready)", "backend team", 40, "cache service wired, disabled by flag"),
    ("API documentation", "backend team", 20, "OpenAPI published at /docs, checked against routes"),
    ("CDN for static files", "platform team", 120, "CloudFront in front of /static (OPS-377)"),
)


def write_attestations(path: Path, end: dt.date) -> dict[str, object]:
    """The demo's attestations file (``checklist.attestations_file`` of params/demo.yaml) and
    its ground truth: which items read attested and which overdue on the review day."""
    entries = [
        {"item": item, "by": by, "date": (end - dt.timedelta(days=age)).isoformat(), "note": note}
        for item, by, age, note in _ATTESTATIONS
    ]
    path.write_text(yaml.safe_dump(entries, sort_keys=False), encoding="utf-8")
    return {
        "attested": [item for item, _, age, _ in _ATTESTATIONS if age <= 90],
        "overdue": [item for item, _, age, _ in _ATTESTATIONS if age > 90],
    }


def write_deploys(path: Path, end: dt.date, tz: ZoneInfo) -> list[dict[str, str]]:
    """The demo's deploy markers (``timeline.deploys_file`` of params/demo.yaml): the release
    at 14:05 local time, minutes before the planted 5xx burst of 14:10, and one the day before."""
    releases = [
        (dt.datetime.combine(end - dt.timedelta(days=1), dt.time(10, 30), tz), "v1.41.0", "search filters"),
        (dt.datetime.combine(end, dt.time(14, 5), tz), "v1.42.0", "orders: new stock reservation"),
    ]
    rows = [{"at": at.isoformat(), "version": version, "note": note} for at, version, note in releases]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return rows


def _write_lines(path: Path, lines: pd.Series | list[str], gz: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path.with_name(path.name + ".gz"), "wt", encoding="utf-8", compresslevel=3) as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")


_FORMAT_CHUNK = 1_000_000


class _AccessWriters:
    """Open access-log files of the demo, one per host and UTC day (gzip before ``gz_before``)."""

    def __init__(self, root: Path, gz_before: dt.date) -> None:
        self.root, self.gz_before = root, gz_before
        self.open: dict[tuple[str, dt.date], IO[str]] = {}

    def write(self, host: str, day: dt.date, lines: pd.Series) -> None:
        fh = self.open.get((host, day))
        if fh is None:
            path = self.root / host / f"access-{day}.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            if day < self.gz_before:
                fh = gzip.open(path.with_name(path.name + ".gz"), "wt", encoding="utf-8", compresslevel=3)  # noqa: SIM115
            else:
                fh = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close_before
            self.open[(host, day)] = fh
        fh.write("\n".join(lines) + "\n")

    def close_before(self, day: dt.date | None) -> None:
        """Close the files of UTC days before ``day`` (every file when None)."""
        for key in [k for k in self.open if day is None or k[1] < day]:
            self.open.pop(key).close()


def _ground_truth(day: dt.date, tz: ZoneInfo, requests: pd.DataFrame, total: int) -> dict[str, object]:
    def window(start: str, minutes: int) -> dict[str, str]:
        s = _local(day, start, tz)
        return {"start": s.isoformat(), "end": (s + pd.Timedelta(minutes=minutes)).isoformat()}

    ts = pd.to_datetime(requests["ts"], utc=True)
    start, end = (
        pd.Timestamp(dt.datetime.combine(d, dt.time(), tz)).tz_convert("UTC") for d in (day, day + dt.timedelta(days=1))
    )
    on_day = requests[(ts >= start) & (ts < end)]
    return {
        "review_date": day.isoformat(),
        "timezone": str(tz),
        "requests_on_review_day": len(on_day),
        "requests_total": total,
        "incidents": [
            {"kind": "5xx_burst", "route": BURST_5XX["route"], **window(BURST_5XX["start"], int(BURST_5XX["minutes"]))},
            {
                "kind": "latency_regression",
                "route": LATENCY_REGRESSION["route"],
                "factor": LATENCY_REGRESSION["factor"],
                **window(str(LATENCY_REGRESSION["start"]), 0),
            },
            {
                "kind": "auth_401_burst",
                "client": AUTH_BURST["client"],
                "route": AUTH_BURST["route"],
                "requests": AUTH_BURST["requests"],
                **window(str(AUTH_BURST["start"]), int(AUTH_BURST["minutes"])),
            },
            {
                "kind": "health_outage",
                "probe": HEALTH_OUTAGE["probe"],
                **window(str(HEALTH_OUTAGE["start"]), int(HEALTH_OUTAGE["minutes"])),
            },
            {"kind": "tls_expiry", "probe": "api-tls", "days_left": TLS_DAYS_LEFT},
            {"kind": "secret_in_url", "route": "GET /api/users/me", "count": 3},
            {
                "kind": "new_error_fingerprint",
                "error_type": NEW_ERROR[1],
                **window(BURST_5XX["start"], int(BURST_5XX["minutes"])),
            },
        ],
    }
