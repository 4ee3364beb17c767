"""Reports safe to share (issue 14 item 4): every kind of secret and personal datum, seeded into
every source of demo-style data, is masked or pseudonymized in every file `opsreview run` writes
under outputs/ (executed notebooks, HTML, summary.json, the day page, the index).

The run is the real command in a subprocess: its kernels inherit this process's environment
(PYTHONPATH included), so they import the same library as the test.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from opsreview.demo import generate_demo
from opsreview.probes.models import ProbeResult
from opsreview.probes.source import append_results
from opsreview.run.report import scrub_notebook
from opsreview.share import ShareParams, SharePolicy, configure, shareable, shareable_data
from opsreview.store import Store

ROOT = Path(__file__).resolve().parents[1]
KEY = "seed-share-key-7f3a91"

# Everything that must not reach outputs/, as it is written in the sources.
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZWVkdXNlcjQ0In0.S33dSignatur3xYzAbCdEf"
PASSWORD = "Pz9xQvT7wQ"
BEARER = "Zq8vN3pL0sK7tR2mY5wX1"
SK_LIVE = "sk_live_51Hq7SeedSecretKey0123"
AKIA = "AKIAZ7SEEDKEY0123456"
WEBHOOK = "https://hooks.slack.com/services/T0SEED000/B0SEED000/xSeedWebhookSecret123"
MONGO_URI = "mongodb://appuser:M0ngoSeedPass@db-1.internal:27017/shop"
CARD = "4539148803436467"
CARD_SPACED = "4539 1488 0343 6467"
IPV4 = "198.51.100.77"
IPV6 = "2001:db8:4a7:9::1c"
EMAIL = "jane.doe.seed@example.com"

# What would betray each of them in an output (a part is enough).
FORBIDDEN = {
    "jwt": "eyJzdWIiOiJzZWVkdXNlcjQ0In0",
    "password in URL": PASSWORD,
    "bearer token": BEARER,
    "sk_live key": "51Hq7SeedSecretKey0123",
    "AWS key": "Z7SEEDKEY0123456",
    "webhook URL": "xSeedWebhookSecret123",
    "webhook path": "T0SEED000/B0SEED000",
    "Mongo password": "M0ngoSeedPass",
    "card": CARD,
    "card grouped": CARD_SPACED,
    "card head": "453914880343",
    "client IPv4": IPV4,
    "client IPv6": IPV6,
    "email": "jane.doe.seed",
    "share key": KEY,
}

SECRETS_TEXT = (
    f"connect {MONGO_URI} failed; Authorization: Bearer {BEARER}; key {SK_LIVE} {AKIA}; "
    f"card {CARD_SPACED}; notify {WEBHOOK}; user {EMAIL} from {IPV4} and {IPV6}; token {JWT}"
)
URLS = [
    f"/api/login?user={EMAIL}&password={PASSWORD}",
    f"/api/orders?access_token={JWT}",
    f"/api/pay?card={CARD}&api_key={SK_LIVE}",
    f"/api/relay?to={WEBHOOK}",
    f"/api/sync?aws={AKIA}",
]


def _clf(ts: dt.datetime) -> str:
    return ts.strftime("%d/%b/%Y:%H:%M:%S +0000")


def _append(path: Path, lines: list[str]) -> None:
    if path.suffix == ".gz":
        with gzip.open(path, "at", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))
    else:
        with path.open("a", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))


def seed(data: Path, day: dt.date) -> None:
    """Seed every source of the demo data of ``day`` with every secret and personal datum."""
    noon = dt.datetime.combine(day, dt.time(11, 0), dt.UTC)
    iso = day.isoformat()
    # access logs: a 5xx burst of one client (samples, top clients, the secrets section)
    access = []
    for i in range(240):
        ts = noon + dt.timedelta(seconds=2 * i)
        client = IPV4 if i % 3 else IPV6
        url = URLS[i % len(URLS)]
        access.append(
            f'{client} - - [{_clf(ts)}] "GET {url} HTTP/1.1" 500 87 "{MONGO_URI}" "curl/8.5 Bearer {BEARER}" {900 + i}.5 ms'
        )
    _append(data / "access" / "api-1" / f"access-{iso}.log", access)
    # app logs: JSON (api-1) and text (worker-1)
    app = [
        json.dumps(
            {
                "level": "error",
                "message": f"MongoServerError: {SECRETS_TEXT}",
                "timestamp": (noon + dt.timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
                "service": "shop-api",
                "user": EMAIL,
                "ip": IPV4,
                "stack": f"Error: {SECRETS_TEXT}\n    at connect (/srv/app/db.js:12:7)",
            }
        )
        for i in range(12)
    ]
    _append(data / "app" / "api-1" / f"app-{iso}.log", app)
    worker = [
        f"{(noon + dt.timedelta(minutes=i)).isoformat().replace('+00:00', 'Z')} ERROR job sendOrderEmail failed: {SECRETS_TEXT}"
        for i in range(12)
    ]
    _append(data / "app" / "worker-1" / f"worker-{iso}.log", worker)
    # database: a mongod log (slow query, failed authentication) and a snapshot's error
    mongod = []
    for i in range(6):
        ts = (noon + dt.timedelta(minutes=i)).isoformat(timespec="milliseconds")
        mongod.append(
            json.dumps(
                {
                    "t": {"$date": ts},
                    "s": "I",
                    "c": "COMMAND",
                    "id": 51803,
                    "ctx": "conn99",
                    "msg": "Slow query",
                    "attr": {
                        "type": "command",
                        "ns": "shop.users",
                        "appName": "shop-api",
                        "command": {
                            "find": "users",
                            "filter": {"email": EMAIL, "password": PASSWORD, "card": CARD, "token": JWT},
                            "$db": "shop",
                        },
                        "planSummary": "COLLSCAN",
                        "keysExamined": 0,
                        "docsExamined": 250000,
                        "nreturned": 1,
                        "remote": f"{IPV4}:5{i}123",
                        "durationMillis": 4200,
                    },
                }
            )
        )
        mongod.append(
            json.dumps(
                {
                    "t": {"$date": ts},
                    "s": "E",
                    "c": "ACCESS",
                    "id": 20249,
                    "ctx": "conn100",
                    "msg": "Authentication failed",
                    "attr": {
                        "mechanism": "SCRAM-SHA-256",
                        "user": "appuser",
                        "client": f"{IPV4}:4{i}001",
                        "error": SECRETS_TEXT,
                    },
                }
            )
        )
    _append(data / "database" / "logs" / "db-1" / "mongod.log", mongod)
    snapshots = sorted((data / "database" / "snapshots" / iso).glob("*.json"))
    snapshot = json.loads(snapshots[len(snapshots) // 2].read_text(encoding="utf-8"))
    snapshot["errors"] = [{"command": "serverStatus", "code": 13, "error": SECRETS_TEXT}]
    snapshots[len(snapshots) // 2].write_text(json.dumps(snapshot), encoding="utf-8")
    # payments: a webhook delivery that failed, an event and an order carrying personal data
    hooks = [
        json.dumps(
            {
                "timestamp": (noon + dt.timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
                "level": "error",
                "message": f"stripe webhook failed: {SECRETS_TEXT}",
                "event_id": f"evt_seed{i:04d}",
                "type": "payment_intent.payment_failed",
                "outcome": "failed",
                "http_status": 500,
                "error": SECRETS_TEXT,
            }
        )
        for i in range(5)
    ]
    _append(data / "payments" / "webhooks" / f"webhooks-{iso}.log", hooks)
    events = data / "payments" / "events" / f"events-{iso}.jsonl"
    event = json.loads(events.read_text(encoding="utf-8").splitlines()[0])
    event["id"] = "evt_seedpersonal"
    event["data"]["object"]["description"] = SECRETS_TEXT
    event["data"]["object"]["receipt_email"] = EMAIL
    event["data"]["object"]["last_payment_error"] = {"message": SECRETS_TEXT, "code": "card_declined"}
    _append(events, [json.dumps(event)])
    order = {
        "_id": "ord_seedpersonal",
        "status": "paid",
        "total": 4200,
        "currency": "eur",
        "paymentIntentId": "pi_seed_unknown",
        "userId": EMAIL,
        "note": SECRETS_TEXT,
        "updatedAt": noon.isoformat().replace("+00:00", "Z"),
    }
    _append(data / "payments" / "orders" / "orders.jsonl", [json.dumps(order)])


def seed_probes(store: Path, day: dt.date) -> None:
    """A failing health check of the day whose detail carries the secrets (as a round spools it)."""
    start = dt.datetime.combine(day, dt.time(11, 0), dt.UTC)
    results = [
        ProbeResult(
            ts=start + dt.timedelta(minutes=i),
            probe="api-health",
            check="http",
            ok=False,
            detail=f"status 500 from {IPV4}: {SECRETS_TEXT}",
            status_code=500,
            latency_ms=120.0,
        )
        for i in range(8)
    ]
    append_results(Store(store), results, ZoneInfo("Europe/Berlin"))


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("share")
    data = tmp / "demo-data"
    truth = generate_demo(data, days=3, requests_per_day=4000, seed=5)
    day = dt.date.fromisoformat(str(truth["review_date"]))
    seed(data, day)
    seed_probes(data / "store", day)
    text = (ROOT / "params" / "demo.yaml").read_text(encoding="utf-8")
    text = text.replace("../outputs/demo-data", str(data)).replace("outputs: ../outputs", f"outputs: {tmp / 'out'}")
    text += '\nshare:\n  pseudonymize_clients: true\n  key: "${OPSREVIEW_SHARE_KEY}"\n'
    params = tmp / "demo.yaml"
    params.write_text(text, encoding="utf-8")
    env = {**os.environ, "OPSREVIEW_SHARE_KEY": KEY}
    proc = subprocess.run(
        [sys.executable, "-m", "opsreview.cli", "run", "--params", str(params), "--date", day.isoformat()],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    return {"proc": proc, "out": tmp / "out", "day": day}


def _output_files(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.is_file() and p.name != "plotly.min.js" and "_assets" not in p.parts]


def test_the_seeded_run_finishes_with_every_notebook(seeded_run: dict[str, Any]) -> None:
    proc = seeded_run["proc"]
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    summary = json.loads((seeded_run["out"] / seeded_run["day"].isoformat() / "summary.json").read_text())
    statuses = {nb["name"]: nb["status"] for nb in summary["notebooks"]}
    assert {"logs", "errors", "probes", "database", "payments", "summary"} <= set(statuses)
    assert set(statuses.values()) == {"ok"}, statuses


def test_no_secret_or_personal_datum_survives_in_any_output(seeded_run: dict[str, Any]) -> None:
    files = _output_files(seeded_run["out"])
    names = {p.name for p in files}
    assert {"index.html", "summary.json", "logs.ipynb", "logs.html", "payments.html", "database.ipynb"} <= names
    leaks = {}
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        found = [kind for kind, value in FORBIDDEN.items() if value in text]
        if found:
            leaks[str(path.relative_to(seeded_run["out"]))] = found
    assert leaks == {}


def test_the_seeded_data_reached_the_outputs_masked(seeded_run: dict[str, Any]) -> None:
    """The seeds were seen (so the test above can fail): the client's pseudonym and a masked
    card's last four digits are in the reports, the webhook URL's host without its path."""
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in _output_files(seeded_run["out"]))
    pseudonym = SharePolicy(True, KEY).address(IPV4)
    assert pseudonym.startswith("ip-") and pseudonym in text
    assert "***6467" in text
    assert "hooks.slack.com/services/***" in text
    assert "***@example.com" in text


# -- the masking itself --------------------------------------------------------------------------


@pytest.fixture
def policy_reset() -> Any:
    yield
    configure(ShareParams())


def test_truncation_keeps_a_prefix_and_is_stable(policy_reset: None) -> None:
    configure(ShareParams(pseudonymize_clients=True, ipv4_prefix=16, ipv6_prefix=32))
    once = shareable(f"GET from {IPV4} and {IPV6} at 14:10:30 (mac 00:1a:2b:3c:4d:5e, v1.2.3.4.5) {EMAIL}")
    assert once == (
        "GET from 198.51.0.0/16 and 2001:db8::/32 at 14:10:30 (mac 00:1a:2b:3c:4d:5e, v1.2.3.4.5) ***@example.com"
    )
    assert shareable(once) == once  # masking what is masked changes nothing


def test_keyed_pseudonyms_are_the_same_client_everywhere_and_differ_by_key(policy_reset: None) -> None:
    a = SharePolicy(True, "key-a")
    assert a.address(IPV4) == a.address(IPV4) != a.address("198.51.100.78")
    assert a.address(IPV4) != SharePolicy(True, "key-b").address(IPV4)
    assert SharePolicy(False).apply(IPV4) == IPV4  # off: addresses stay (secrets are still masked)


def test_off_by_default_still_masks_secrets(policy_reset: None) -> None:
    configure(ShareParams())
    text = shareable(SECRETS_TEXT)
    assert IPV4 in text and EMAIL in text
    for kind in ("jwt", "bearer token", "sk_live key", "AWS key", "webhook URL", "Mongo password", "card"):
        assert FORBIDDEN[kind] not in text, kind


def test_masked_text_is_masked_again_unchanged(policy_reset: None) -> None:
    """The notebook scrub and the HTML export mask what the display masked already: a masked
    URL inside a chart's JSON or an attribute keeps the quote after it (the chart still draws)."""
    configure(ShareParams(pseudonymize_clients=True, key=None))
    masked = json.dumps(shareable_data({"text": [URLS[0], URLS[2], f"from {IPV4}"]}))  # as display does
    assert shareable(masked) == masked
    assert json.loads(masked)["text"][1] == "/api/pay?card=***6467&api_key=***"
    attribute = shareable(f"<a href='{URLS[1]}'>x</a>")
    assert shareable(attribute) == attribute == "<a href='/api/orders?access_token=***'>x</a>"


def test_json_structure_and_numbers_are_kept() -> None:
    data = {"x": [4539148803436467, 1.5], "text": [f"card {CARD}"], SK_LIVE: {"k": None}}
    masked = shareable_data(data)
    assert masked["x"] == [4539148803436467, 1.5]  # numbers of a chart are data, not text
    assert masked["text"] == ["card ***6467"] and SK_LIVE not in json.dumps(masked)  # keys too


def test_scrub_notebook_masks_what_a_cell_printed_or_raised(tmp_path: Path, policy_reset: None) -> None:
    configure(ShareParams(pseudonymize_clients=True))
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": ["print(x)"],
                "execution_count": 1,
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": [SECRETS_TEXT + "\n"]},
                    {
                        "output_type": "error",
                        "ename": "MongoError",
                        "evalue": SECRETS_TEXT,
                        "traceback": [SECRETS_TEXT],
                    },
                ],
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    scrub_notebook(path)
    text = path.read_text(encoding="utf-8")
    assert [kind for kind, value in FORBIDDEN.items() if value in text] == []
    assert json.loads(text)["cells"][0]["outputs"][1]["ename"] == "MongoError"


def test_the_masked_reports_still_draw_every_chart(seeded_run: dict[str, Any]) -> None:
    """Masking inside a chart's data (a masked URL next to a quote) must not break its script."""
    from tests.browser import open_report

    for html in sorted((seeded_run["out"] / seeded_run["day"].isoformat()).glob("*.html")):
        page = open_report(html)
        assert (page.drawn, page.console_errors, page.blocked) == (page.plots, [], []), html.name


def test_an_email_escaped_in_a_url_is_masked_too(policy_reset: None) -> None:
    configure(ShareParams(pseudonymize_clients=True))
    text = shareable("GET /api/users?email=jane.doe%40example.com&x=1 and JANE%40Example.org")
    assert "jane.doe" not in text and "JANE" not in text
    assert "***%40example.com&x=1" in text and "***%40Example.org" in text
