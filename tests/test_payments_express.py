"""The app side of webhook health (issue 12): the project's Express app verifies Stripe webhooks
with the official ``stripe`` npm package, and what it logs is what ``read_webhook_log`` reports.

A fresh app (tests/express_app, ``POST /api/webhooks/stripe``) receives real HTTP deliveries:
good, tampered, wrong secret, stale (signed 400 s ago), replayed, unsigned, and a few more. The
``Stripe-Signature`` headers are computed here with Python's ``hmac`` (HMAC-SHA256 over
``"{t}.{raw body}"``), independently of the code under test. The test compares the app's
answers, its webhook log read by :func:`read_webhook_log` (outcome per event id, lag), and
morgan's access log of the same route; the webhook secret must appear in none of them.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import hmac
import http.client
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from opsreview.payments.models import DELIVERIES, to_arrow
from opsreview.payments.webhook_log import read_webhook_log
from tests.fixtures.express import ExpressServer, ExpressServers

ROUTE = "/api/webhooks/stripe"
SOURCE = "app:webhooks.log"
UTC = dt.UTC


def stripe_signature(secret: str, body: bytes, t: int) -> str:
    """``Stripe-Signature`` as Stripe computes it (docs.stripe.com/webhooks/signature)."""
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event_body(event_id: str, created: int, type_: str = "payment_intent.succeeded", amount: int = 4200) -> bytes:
    event = {
        "id": event_id,
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": created,
        "type": type_,
        "livemode": False,
        "pending_webhooks": 1,
        "data": {
            "object": {"id": f"pi_{event_id[4:]}", "object": "payment_intent", "amount": amount, "currency": "eur"}
        },
    }
    return json.dumps(event, separators=(",", ":")).encode()


@dataclass
class Sent:
    name: str
    event_id: str | None
    status: int
    answer: dict[str, Any]
    before: float  # time.time() around the request
    after: float
    created: int | None


def post(server: ExpressServer, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("POST", ROUTE, body=body, headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def wait_for_lines(path: Path, n: int, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if text.count("\n") >= n:
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: {text.count(chr(10))} lines after {timeout}s, expected {n}")
        time.sleep(0.02)


@dataclass
class Run:
    server: ExpressServer
    sent: list[Sent]
    webhook_text: str
    access_text: str
    rows: list[dict[str, Any]]
    counts: dict[str, Any]


# What each delivery must come to: name -> (event id, HTTP status, outcome, reason in the log).
EXPECTED: dict[str, tuple[str | None, int, str, str | None]] = {
    "good": ("evt_good", 200, "handled", None),
    "tampered": ("evt_tampered", 400, "signature_failed", "signature mismatch"),
    "wrong_secret": ("evt_wrong_secret", 400, "signature_failed", "signature mismatch"),
    "stale": ("evt_stale", 400, "stale", "timestamp outside the tolerance (300 s)"),
    "stale_forged": ("evt_stale_forged", 400, "signature_failed", "signature mismatch"),
    "replay_first": ("evt_replay", 200, "handled", None),
    "replay_again": ("evt_replay", 200, "duplicate", None),
    "no_header": ("evt_no_header", 400, "signature_failed", "no Stripe-Signature header"),
    "garbled_header": ("evt_garbled", 400, "signature_failed", "malformed Stripe-Signature header"),
    "secret_probe": ("evt_secret_probe", 400, "signature_failed", "signature mismatch"),
    "signed_not_json": (None, 400, "error", "signed body is not JSON"),
    "too_large": (None, 413, "error", "body refused (entity.too.large)"),
}


@pytest.fixture(scope="module")
def run(express_server: ExpressServers) -> Run:
    server = express_server(fresh=True)
    secret = server.webhook_secret
    other_secret = f"whsec_{secrets.token_hex(24)}"
    sent: list[Sent] = []

    def send(name: str, body: bytes, headers: dict[str, str], created: int | None) -> None:
        before = time.time()
        status, answer = post(server, body, headers)
        sent.append(Sent(name, EXPECTED[name][0], status, answer, before, time.time(), created))

    now = int(time.time())
    created = now - 60
    good = event_body("evt_good", created)
    send("good", good, {"Stripe-Signature": stripe_signature(secret, good, now)}, created)

    signed = event_body("evt_tampered", created, amount=4200)
    tampered = signed.replace(b'"amount":4200', b'"amount":1')
    assert tampered != signed
    send("tampered", tampered, {"Stripe-Signature": stripe_signature(secret, signed, now)}, created)

    body = event_body("evt_wrong_secret", created)
    send("wrong_secret", body, {"Stripe-Signature": stripe_signature(other_secret, body, now)}, created)

    old = int(time.time()) - 400
    body = event_body("evt_stale", old)
    send("stale", body, {"Stripe-Signature": stripe_signature(secret, body, old)}, old)

    body = event_body("evt_stale_forged", old)
    send("stale_forged", body, {"Stripe-Signature": stripe_signature(other_secret, body, old)}, old)

    now = int(time.time())
    body = event_body("evt_replay", now - 5, type_="charge.refunded")
    header = {"Stripe-Signature": stripe_signature(secret, body, now)}
    send("replay_first", body, header, now - 5)
    send("replay_again", body, header, now - 5)  # the same bytes and header again

    body = event_body("evt_no_header", now)
    send("no_header", body, {}, now)

    body = event_body("evt_garbled", now)
    send("garbled_header", body, {"Stripe-Signature": "sha256=deadbeef"}, now)

    # stripe-node's mismatch message for a header with masked `secret=` metadata states the
    # configured secret's length and last four characters: the app must not log it.
    body = event_body("evt_secret_probe", now)
    probe = f"{stripe_signature(other_secret, body, now)},secret=whsec_{'*' * 10}abcd"
    send("secret_probe", body, {"Stripe-Signature": probe}, now)

    body = b"this is not json"
    send("signed_not_json", body, {"Stripe-Signature": stripe_signature(secret, body, now)}, None)

    body = b'{"pad":"' + b"x" * 600_000 + b'"}'
    send("too_large", body, {"Stripe-Signature": stripe_signature(secret, body, now)}, None)

    webhook_text = wait_for_lines(server.webhook_log_path, len(sent))
    access_text = "\n".join(server.wait_for_log_lines(len(sent)))
    rows, counts = read_webhook_log(server.webhook_log_path, SOURCE)
    return Run(server, sent, webhook_text, access_text, rows, counts)


@pytest.mark.node
def test_the_app_answers_each_delivery_as_stripe_expects(run: Run) -> None:
    assert [s.name for s in run.sent] == list(EXPECTED)
    for s in run.sent:
        _, status, outcome, _ = EXPECTED[s.name]
        assert (s.status, s.answer.get("outcome")) == (status, outcome), s.name


@pytest.mark.node
def test_the_webhook_log_read_back_gives_each_event_its_outcomes(run: Run) -> None:
    assert run.counts == {"lines": len(EXPECTED), "rows": len(EXPECTED), "malformed": 0, "skipped": 0, "error": None}
    by_event: dict[str | None, list[tuple[str, int, str | None]]] = {}
    for row in run.rows:
        by_event.setdefault(row["event_id"], []).append((row["outcome"], row["http_status"], row["detail"]))
    expected: dict[str | None, list[tuple[str, int, str | None]]] = {}
    for event_id, status, outcome, reason in EXPECTED.values():
        expected.setdefault(event_id, []).append((outcome, status, reason))
    assert by_event == expected
    assert all(row["source"] == SOURCE for row in run.rows)
    table = to_arrow(DELIVERIES, run.rows)  # the rows are the table's contract
    assert table.num_rows == len(EXPECTED)


@pytest.mark.node
def test_the_lag_is_the_answer_time_minus_the_event_created(run: Run) -> None:
    rows = {row["event_id"]: row for row in run.rows if row["outcome"] != "duplicate"}
    for s in run.sent:
        if s.created is None or s.name == "replay_again":
            continue
        row = rows[s.event_id]
        assert row["event_created"] == dt.datetime.fromtimestamp(s.created, UTC)
        # the app answered between the client's before and after; its clock is this machine's
        slack = 0.005
        assert s.before - slack <= row["ts"].timestamp() <= s.after + slack, s.name
        assert s.before - s.created - slack <= row["lag_s"] <= s.after - s.created + slack, s.name
        assert row["lag_s"] == pytest.approx((row["ts"] - row["event_created"]).total_seconds(), abs=0.002)
    assert 60 <= rows["evt_good"]["lag_s"] < 65
    assert 400 <= rows["evt_stale"]["lag_s"] < 410  # stale: past the 300 s tolerance
    assert rows["evt_good"]["type"] == "payment_intent.succeeded"
    assert rows["evt_replay"]["type"] == "charge.refunded"


@pytest.mark.node
def test_the_access_log_has_the_route_with_the_same_statuses(run: Run) -> None:
    # morgan `combined`: ... "POST /api/webhooks/stripe HTTP/1.1" 400 59 "-" "ua"
    line = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "(\S+) (\S+) HTTP/[\d.]+" (\d{3}) ')
    statuses = []
    for text in run.access_text.splitlines():
        match = line.match(text)
        assert match, text
        assert (match.group(1), match.group(2)) == ("POST", ROUTE)
        statuses.append(int(match.group(3)))
    assert statuses == [s.status for s in run.sent]
    assert statuses == [row["http_status"] for row in run.rows]  # the two logs agree, in order
    bad = {s.name for s in run.sent if s.status == 400}
    assert bad == {n for n, (_, _, outcome, _) in EXPECTED.items() if outcome in {"signature_failed", "stale"}} | {
        "signed_not_json"
    }


@pytest.mark.node
def test_the_webhook_secret_is_in_no_log_and_no_row(run: Run) -> None:
    secret = run.server.webhook_secret
    assert secret.startswith("whsec_")
    for name, text in [("webhook log", run.webhook_text), ("access log", run.access_text)]:
        assert secret not in text, name
        assert secret[len("whsec_") :] not in text, name
        assert secret[-8:] not in text, name
        assert "characters long" not in text, name  # stripe-node's message about the secret
    flat = json.dumps(run.rows, default=str)
    assert secret[-8:] not in flat
    # each log line is one JSON object with exactly the documented fields
    for text in run.webhook_text.splitlines():
        entry = json.loads(text)
        assert set(entry) - {"reason"} == {
            "timestamp",
            "level",
            "message",
            "event_id",
            "type",
            "outcome",
            "http_status",
            "event_created",
            "lag_ms",
        }
        assert entry["level"] == ("info" if entry["outcome"] in {"handled", "duplicate"} else "warn")
        assert ("reason" in entry) == (entry["level"] == "warn")


@pytest.mark.node
def test_a_gzip_copy_reads_the_same(run: Run, tmp_path: Path) -> None:
    copy = tmp_path / "webhooks.log.gz"
    copy.write_bytes(gzip.compress(run.server.webhook_log_path.read_bytes()))
    rows, counts = read_webhook_log(copy, SOURCE)
    assert rows == run.rows
    assert counts == run.counts


@pytest.mark.node
def test_without_a_secret_every_delivery_is_an_error(express_server: ExpressServers) -> None:
    server = express_server(env={"STRIPE_WEBHOOK_SECRET": ""}, fresh=True)
    now = int(time.time())
    body = event_body("evt_unconfigured", now)
    status, answer = post(server, body, {"Stripe-Signature": stripe_signature("whsec_anything", body, now)})
    assert (status, answer["outcome"]) == (500, "error")
    wait_for_lines(server.webhook_log_path, 1)
    rows, counts = read_webhook_log(server.webhook_log_path, SOURCE)
    assert counts["rows"] == 1
    assert (rows[0]["event_id"], rows[0]["outcome"], rows[0]["http_status"]) == ("evt_unconfigured", "error", 500)
    assert rows[0]["detail"] == "STRIPE_WEBHOOK_SECRET is not set"


# --- the reader on its own (no app) ---------------------------------------------------------------


def _line(**fields: Any) -> str:
    entry = {
        "timestamp": "2026-03-29T10:15:02.500Z",
        "level": "info",
        "message": "stripe webhook",
        "event_id": "evt_1",
        "type": "charge.succeeded",
        "outcome": "handled",
        "http_status": 200,
        "event_created": 1774779300,
        "lag_ms": 2500,
    }
    entry.update(fields)
    return json.dumps({k: v for k, v in entry.items() if v is not ...})


def test_the_reader_skips_other_lines_and_counts_malformed_ones(tmp_path: Path) -> None:
    lines = [
        _line(),
        json.dumps({"timestamp": "2026-03-29T10:15:03Z", "level": "info", "message": "GET /api/health"}),
        "Error: something else entirely",
        "    at handler (/srv/app.js:10:3)",
        _line(outcome="exploded"),  # unknown outcome
        _line(timestamp="2026-03-29 10:15:02"),  # no offset: a local time of an unknown zone
        _line(timestamp=None),
        _line(http_status="200"),
        _line(event_created="yesterday"),
        _line()[:100],  # cut short while written
        "",
        _line(event_id="evt_2", lag_ms=..., timestamp=1774779305000),  # epoch ms, lag from the two times
        _line(event_id=None, type=None, outcome="signature_failed", http_status=400, event_created=None, lag_ms=None),
    ]
    path = tmp_path / "app.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows, counts = read_webhook_log(path, "app")
    assert counts == {"lines": 12, "rows": 3, "malformed": 6, "skipped": 3, "error": None}
    first, second, third = rows
    assert first["ts"] == dt.datetime(2026, 3, 29, 10, 15, 2, 500000, tzinfo=UTC)
    assert first["event_created"] == dt.datetime.fromtimestamp(1774779300, UTC)
    assert first["lag_s"] == 2.5
    assert second["event_id"] == "evt_2"
    assert second["lag_s"] == 5.0
    assert (third["event_id"], third["event_created"], third["lag_s"]) == (None, None, None)
    assert to_arrow(DELIVERIES, rows).num_rows == 3


def test_the_reader_masks_what_a_sender_put_in_the_text_fields(tmp_path: Path) -> None:
    key = "sk_live_" + "Zx9" * 8
    line = _line(
        outcome="signature_failed",
        http_status=400,
        reason=f"card 4111 1111 1111 1111 and {key}\nsecond line",
    )
    path = tmp_path / "app.log"
    path.write_text(line + "\n", encoding="utf-8")
    (row,), _ = read_webhook_log(path, "app")
    shown = json.dumps(row, default=str)
    assert "4111111111111111" not in shown
    assert "4111 1111 1111 1111" not in shown
    assert key not in shown
    assert "\n" not in row["detail"]
    assert row["detail"].endswith("second line")


def test_a_missing_or_damaged_file_is_reported_not_raised(tmp_path: Path) -> None:
    rows, counts = read_webhook_log(tmp_path / "nope.log", "app")
    assert rows == []
    assert counts["rows"] == 0
    assert "cannot read" in counts["error"]

    data = gzip.compress((_line() + "\n" + _line(event_id="evt_2") + "\n").encode())
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(data[: len(data) - 12])  # the trailer and some data gone
    rows, counts = read_webhook_log(cut, "app")
    assert counts["error"]
    assert counts["rows"] == len(rows) <= 2
