"""payments.stripe_source against real servers: localstripe (a Stripe-compatible server, run in
a subprocess) for real events made by real PaymentIntents, and a small HTTP server of this
file for what localstripe does not do (429, 5xx, a stalled answer, an endless list, the
``delivery_success`` filter). The official SDK does the requests, retries and paging."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe

from opsreview.exceptions import SourceError
from opsreview.payments.models import EVENTS, INGEST, to_arrow
from opsreview.payments.normalize import dedupe
from opsreview.payments.params import StripeParams
from opsreview.payments.stripe_source import make_client, read_events

KEY = "sk_test_opsreviewLocalKey4242abcd"
ENV = "OPSREVIEW_TEST_STRIPE_KEY"
# localstripe keeps its store in /tmp/localstripe.pickle, rewritten on every change: this run
# keeps it in memory (nothing shared with other processes, and no pickling per request).
LOCALSTRIPE = (
    "import sys, localstripe.resources as r\n"
    "r.Store.dump_to_disk = lambda self: None\n"
    "r.Store.try_load_from_disk = lambda self: None\n"
    "from localstripe.server import start\n"
    "sys.argv = ['localstripe', '--port', sys.argv[1], '--from-scratch']\n"
    "start()\n"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _params(base: str, **kw: Any) -> StripeParams:
    values: dict[str, Any] = {"api_key": f"${{{ENV}}}", "api_base": base, "max_network_retries": 0, "timeout_s": 5}
    values.update(kw)
    return StripeParams.model_validate(values)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, KEY)


class CountingClient(stripe.RequestsClient):
    """The SDK's own HTTP client, remembering each URL it requested (one per attempt)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.urls: list[str] = []

    def request(self, method: str, url: str, headers: Any, post_data: Any = None, **kw: Any) -> Any:
        self.urls.append(url)
        return super().request(method, url, headers, post_data, **kw)


def _counting(holder: list[CountingClient]) -> Any:
    def factory(params: StripeParams) -> stripe.StripeClient:
        http = CountingClient(params.timeout_s)
        holder.append(http)
        return make_client(params, http_client=http)

    return factory


# -- localstripe --------------------------------------------------------------------------


class Seeded:
    """What the fixture created in localstripe: PaymentIntents by batch, and every event."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.batches: list[dict[str, dict[str, Any]]] = []  # payment intent id -> what was asked
        self.events: list[dict[str, Any]] = []


@pytest.fixture(scope="session")
def localstripe() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCALSTRIPE, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                request = urllib.request.Request(f"{base}/v1/events", headers={"Authorization": f"Bearer {KEY}"})
                with urllib.request.urlopen(request, timeout=1):
                    break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None:
                    raise RuntimeError("localstripe exited") from None
                time.sleep(0.1)
        else:
            raise RuntimeError("localstripe did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _pay(client: stripe.StripeClient, number: str, amount: int, currency: str, order: str) -> tuple[str, bool]:
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2031, "cvc": "123"}}
    )
    try:
        intent = client.v1.payment_intents.create(
            params={
                "amount": amount,
                "currency": currency,
                "payment_method": method.id,
                "confirm": True,
                "metadata": {"order_id": order},
            }
        )
        return intent.id, True
    except stripe.CardError as exc:  # declined: the intent exists, its event too
        error = exc.json_body["error"] if exc.json_body else {}
        charge = client.v1.charges.retrieve(error["charge"])
        return str(charge.payment_intent), False


@pytest.fixture(scope="session")
def seeded(localstripe: str) -> Seeded:
    client = stripe.StripeClient(KEY, base_addresses={"api": localstripe})
    seeded = Seeded(localstripe)
    first: dict[str, dict[str, Any]] = {}
    for i, (number, amount, currency) in enumerate(
        [
            ("4242424242424242", 1999, "usd"),
            ("4242424242424242", 2500, "eur"),
            ("4000000000000341", 1200, "usd"),  # declined when charged
            ("4242424242424242", 500, "jpy"),  # zero-decimal: 500 yen
            ("5555555555554444", 4200, "usd"),
        ]
    ):
        pi, ok = _pay(client, number, amount, currency, f"order-a{i}")
        first[pi] = {"amount": amount, "currency": currency, "ok": ok, "order": f"order-a{i}"}
    seeded.batches.append(first)
    time.sleep(1.05 - (time.time() % 1))  # the next batch in a later second (created is whole seconds)
    second: dict[str, dict[str, Any]] = {}
    for i in range(3):
        pi, ok = _pay(client, "4242424242424242", 100 + i, "usd", f"order-b{i}")
        second[pi] = {"amount": 100 + i, "currency": "usd", "ok": ok, "order": f"order-b{i}"}
    seeded.batches.append(second)
    # every event, as the server lists it (the reference the source is compared with)
    listed = client.v1.events.list(params={"limit": 100})
    seeded.events = [e.to_dict(recursive=True) for e in listed.auto_paging_iter()]
    return seeded


def _span(seeded: Seeded) -> tuple[datetime, datetime]:
    times = [e["created"] for e in seeded.events]
    return datetime.fromtimestamp(min(times), UTC), datetime.fromtimestamp(max(times) + 1, UTC)


def _payment_events(seeded: Seeded) -> list[dict[str, Any]]:
    return [e for e in seeded.events if e["type"].startswith("payment_intent.")]


def test_reads_real_events_from_localstripe(seeded: Seeded) -> None:
    start, end = _span(seeded)
    rows, ingest = read_events(_params(seeded.base), start, end, end + timedelta(minutes=1), "order_id")
    intents = {**seeded.batches[0], **seeded.batches[1]}
    by_intent = {r["payment_intent"]: r for r in rows if r["object_type"] == "payment_intent"}
    assert set(by_intent) == set(intents)
    for pi, asked in intents.items():
        row = by_intent[pi]
        assert row["amount"] == asked["amount"] and isinstance(row["amount"], int)
        assert row["currency"] == asked["currency"]
        assert row["order_id"] == asked["order"]
        if asked["ok"]:
            assert row["type"] == "payment_intent.succeeded"
            assert row["outcome"] == "authorized" and row["status"] == "succeeded"
        else:
            assert row["type"] == "payment_intent.payment_failed"
            assert row["outcome"] == "issuer_declined"
            assert row["failure_code"] == "card_declined"
    jpy = next(r for r in rows if r["currency"] == "jpy")
    assert jpy["amount"] == 500  # zero-decimal: not 50000, not 5
    # every payment event the server holds, none twice, and the tables take them
    assert sorted(r["event_id"] for r in rows if r["object_type"] == "payment_intent") == sorted(
        e["id"] for e in _payment_events(seeded)
    )
    assert ingest["rows"] == len(rows) and ingest["duplicates"] == 0
    assert ingest["location"] == f"{seeded.base}/v1/events"
    # localstripe has no delivery_success filter: said, not fatal
    assert "failed deliveries not listed" in ingest["note"]
    assert to_arrow(EVENTS, rows).num_rows == len(rows)
    assert to_arrow(INGEST, [ingest]).num_rows == 1
    assert KEY not in json.dumps(rows, default=str) + json.dumps(ingest, default=str)


def test_auto_paging_follows_has_more(seeded: Seeded) -> None:
    start, end = _span(seeded)
    clients: list[CountingClient] = []
    rows, _ = read_events(
        _params(seeded.base), start, end, end, "order_id", client_factory=_counting(clients), page_size=2
    )
    events_urls = [u for u in clients[0].urls if "/v1/events" in u and "delivery_success" not in u]
    listed = [e for e in seeded.events if start.timestamp() <= e["created"] < end.timestamp()]
    usable = [e for e in listed if e["type"].startswith(("payment_intent.", "charge."))]
    assert len(rows) == len(usable) > 4
    pages = -(-len(listed) // 2)
    assert len(events_urls) == pages  # one request a page, no more (has_more false ends it)
    assert "starting_after" not in events_urls[0]
    assert all("starting_after=evt_" in u for u in events_urls[1:])
    assert all("limit=2" in u for u in events_urls)


def test_window_bounds_are_created_gte_and_lt(seeded: Seeded) -> None:
    start, end = _span(seeded)
    boundary = min(
        e["created"] for e in seeded.events if e["data"]["object"].get("id") in seeded.batches[1]
    )  # the second batch's first second
    cut = datetime.fromtimestamp(boundary, UTC)
    before, _ = read_events(_params(seeded.base), start, cut, end, "order_id")
    after, _ = read_events(_params(seeded.base), cut, end, end, "order_id")
    expected_before = {e["id"] for e in _payment_events(seeded) if e["created"] < boundary}
    expected_after = {e["id"] for e in _payment_events(seeded) if e["created"] >= boundary}
    assert expected_before and expected_after
    assert {r["event_id"] for r in before if r["object_type"] == "payment_intent"} == expected_before
    assert {r["event_id"] for r in after if r["object_type"] == "payment_intent"} == expected_after
    assert all(r["created"] < cut for r in before) and all(r["created"] >= cut for r in after)


def test_thirty_day_retention_is_said(seeded: Seeded) -> None:
    start, end = _span(seeded)
    now = start + timedelta(days=29)
    asked_from = start - timedelta(days=40)
    clients: list[CountingClient] = []
    rows, ingest = read_events(
        _params(seeded.base), asked_from, end, now, "order_id", client_factory=_counting(clients)
    )
    assert "keeps 30 days" in ingest["note"]
    assert asked_from.strftime("%Y-%m-%d") in ingest["note"]
    first = parse_qs(urlsplit(clients[0].urls[0]).query)
    assert int(first["created[gte]"][0]) == int((now - timedelta(days=30)).timestamp())
    assert {r["event_id"] for r in rows if r["object_type"] == "payment_intent"} == {
        e["id"] for e in _payment_events(seeded)
    }
    # a window wholly older than 30 days: nothing asked, said so
    none, ingest = read_events(_params(seeded.base), asked_from, asked_from + timedelta(days=1), now, "order_id")
    assert none == [] and "keeps 30 days" in ingest["note"] and "nothing of the window" in ingest["note"]


def test_dedupe_keeps_latest_created(seeded: Seeded) -> None:
    start, end = _span(seeded)
    rows, _ = read_events(_params(seeded.base), start, end, end, "order_id")
    again = dict(rows[0], created=rows[0]["created"] + timedelta(seconds=30), status="redelivered")
    older = dict(rows[1], created=rows[1]["created"] - timedelta(seconds=30), status="stale copy")
    kept, dropped = dedupe([again, *rows, older])
    assert dropped == 2 and len(kept) == len(rows)
    by_id = {r["event_id"]: r for r in kept}
    assert by_id[rows[0]["event_id"]]["status"] == "redelivered"
    assert by_id[rows[1]["event_id"]]["status"] == rows[1]["status"]


def test_refused_key_is_a_source_error_without_the_key(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bad = "rk_test_notAcceptedByLocalstripe9876"  # localstripe takes sk_ keys only: 401
    monkeypatch.setenv(ENV, bad)
    caplog.set_level(logging.DEBUG)
    start, end = _span(seeded)
    with pytest.raises(SourceError) as info:
        read_events(_params(seeded.base), start, end, end, "order_id")
    message = str(info.value)
    assert info.value.source == "payments"
    assert "API key was refused" in message and "401" in message
    assert bad not in message and bad[-8:] not in message and "\n" not in message
    assert bad not in caplog.text


def test_unreachable_api_after_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()  # nothing listens there
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.05)
    now = datetime.now(UTC)
    clients: list[CountingClient] = []
    with pytest.raises(SourceError) as info:
        read_events(
            _params(f"http://127.0.0.1:{port}", max_network_retries=2),
            now - timedelta(hours=1),
            now,
            now,
            "order_id",
            client_factory=_counting(clients),
        )
    assert "could not be reached after 2 retries" in str(info.value)
    assert len(clients[0].urls) == 3
    assert KEY not in str(info.value)


# -- a server of our own ------------------------------------------------------------------


def _event(n: int, created: int, **obj: Any) -> dict[str, Any]:
    body = {
        "id": f"pi_{n:06d}",
        "object": "payment_intent",
        "amount": 1000 + n,
        "currency": "usd",
        "status": "succeeded",
    }
    body.update(obj)
    return {
        "id": f"evt_{n:06d}",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": created,
        "data": {"object": body},
        "livemode": False,
        "pending_webhooks": n % 2,
        "api_version": "2024-06-20",
    }


class Script:
    """What the server answers, set by each test; every request is recorded."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.failed_ids: set[str] = set()
        self.stall_s = 0.0
        self.page_delay_s = 0.0
        self.lock = threading.Lock()

    def reset(self, mode: str, events: list[dict[str, Any]] | None = None) -> None:
        with self.lock:
            self.mode, self.requests, self.events, self.failed_ids = mode, [], list(events or []), set()


class Handler(BaseHTTPRequestHandler):
    script: Script

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", "req_test")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (a stall): as meant
            self.wfile.write(data)

    def do_GET(self) -> None:
        script = self.script
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        with script.lock:
            script.requests.append({"path": urlsplit(self.path).path, "query": query})
            count = len(script.requests)
        mode = script.mode
        if mode == "429-should-retry" and count == 1:
            return self._send(
                429,
                {"error": {"type": "invalid_request_error", "code": "lock_timeout", "message": "Too many requests"}},
                {"Stripe-Should-Retry": "true"},
            )
        if mode == "429-plain" and count == 1:
            return self._send(
                429, {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}}
            )
        if mode == "500":
            return self._send(500, {"error": {"type": "api_error", "message": "Something went wrong"}})
        if mode == "stall":
            time.sleep(script.stall_s)
            return self._send(200, {"object": "list", "data": [], "has_more": False, "url": "/v1/events"})
        if mode == "endless":
            time.sleep(script.page_delay_s)
            after = query.get("starting_after")
            n = int(after.split("_")[1]) + 1 if after else 0
            limit = int(query.get("limit", 10))
            data = [_event(i, 1_790_000_000) for i in range(n, n + limit)]
            return self._send(200, {"object": "list", "data": data, "has_more": True, "url": "/v1/events"})
        events = script.events
        if query.get("delivery_success") == "false":
            events = [e for e in events if e["id"] in script.failed_ids]
        gte, lt = int(query.get("created[gte]", 0)), int(query.get("created[lt]", 2**40))
        events = [e for e in events if gte <= e["created"] < lt]
        after = query.get("starting_after")
        if after:
            ids = [e["id"] for e in events]
            events = events[ids.index(after) + 1 :] if after in ids else []
        limit = int(query.get("limit", 10))
        page = events[:limit]
        return self._send(200, {"object": "list", "data": page, "has_more": len(events) > limit, "url": "/v1/events"})


@pytest.fixture(scope="session")
def fake_api() -> Iterator[tuple[str, Script]]:
    script = Script()
    handler = type("ScriptedHandler", (Handler,), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's first backoff is 0.5 s: a tenth of it keeps the retry tests quick."""
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.05)
    monkeypatch.setattr("opsreview.payments.stripe_source._BACKOFF_INITIAL_S", 0.05)


NOW = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
T0 = int((NOW - timedelta(hours=2)).timestamp())


def test_429_marked_retryable_is_retried_by_the_sdk(fake_api: tuple[str, Script], fast_backoff: None) -> None:
    base, script = fake_api
    script.reset("429-should-retry", [_event(1, T0), _event(2, T0 + 1)])
    rows, _ = read_events(_params(base, max_network_retries=2), NOW - timedelta(days=1), NOW, NOW, "order_id")
    assert [r["event_id"] for r in rows] == ["evt_000001", "evt_000002"]
    events_requests = [r for r in script.requests if "delivery_success" not in r["query"]]
    assert len(events_requests) == 2  # the 429, then its retry


def test_plain_429_is_retried_by_the_source(fake_api: tuple[str, Script], fast_backoff: None) -> None:
    base, script = fake_api
    script.reset("429-plain", [_event(1, T0), _event(2, T0 + 1)])
    rows, _ = read_events(_params(base, max_network_retries=1), NOW - timedelta(days=1), NOW, NOW, "order_id")
    assert len(rows) == 2
    assert len([r for r in script.requests if "delivery_success" not in r["query"]]) == 2
    # with no retries allowed, the 429 is the answer
    script.reset("429-plain", [_event(1, T0)])
    with pytest.raises(SourceError, match="rate limited"):
        read_events(_params(base, max_network_retries=0), NOW - timedelta(days=1), NOW, NOW, "order_id")
    assert len(script.requests) == 1


def test_5xx_exhausting_retries_is_a_source_error(fake_api: tuple[str, Script], fast_backoff: None) -> None:
    base, script = fake_api
    script.reset("500")
    with pytest.raises(SourceError) as info:
        read_events(_params(base, max_network_retries=2), NOW - timedelta(days=1), NOW, NOW, "order_id")
    assert len(script.requests) == 3  # the first try and two retries
    message = str(info.value)
    assert "500" in message and KEY not in message and KEY[-8:] not in message


def test_stalled_response_times_out(fake_api: tuple[str, Script]) -> None:
    base, script = fake_api
    script.reset("stall")
    script.stall_s = 3.0
    began = time.monotonic()
    with pytest.raises(SourceError, match="could not be reached after 0 retries"):
        read_events(_params(base, timeout_s=0.4), NOW - timedelta(days=1), NOW, NOW, "order_id")
    elapsed = time.monotonic() - began
    assert 0.35 <= elapsed < 1.5
    assert len(script.requests) == 1


def test_deadline_cuts_a_long_pagination(fake_api: tuple[str, Script]) -> None:
    base, script = fake_api
    script.reset("endless")
    script.page_delay_s = 0.1
    began = time.monotonic()
    rows, ingest = read_events(
        _params(base, deadline_s=0.6, timeout_s=2), NOW - timedelta(days=1), NOW, NOW, "order_id", page_size=3
    )
    elapsed = time.monotonic() - began
    assert elapsed < 0.6 + 0.1 + 0.5  # the deadline, the page in flight, a margin
    assert "deadline of 0.6 s reached" in ingest["note"]
    assert ingest["rows"] == len(rows)
    assert 0 < len(rows) <= 3 * len(script.requests) < 3 * 10  # cut short of an endless list
    assert len({r["event_id"] for r in rows}) == len(rows)
    assert not any("delivery_success" in r["query"] for r in script.requests)  # not asked after the deadline


def test_failed_deliveries_are_counted(fake_api: tuple[str, Script]) -> None:
    base, script = fake_api
    events = [_event(i, T0 + i) for i in range(5)]
    script.reset("ok", events)
    script.failed_ids = {"evt_000001", "evt_000003"}
    rows, ingest = read_events(_params(base), NOW - timedelta(days=1), NOW, NOW, "order_id", page_size=2)
    assert len(rows) == 5
    assert "failed webhook deliveries (delivery_success=false): 2 events" in ingest["note"]
    failed_requests = [r for r in script.requests if r["query"].get("delivery_success") == "false"]
    assert failed_requests and all("created[gte]" in r["query"] for r in failed_requests)
    assert sum(r["pending_webhooks"] for r in rows) == 2  # evt 1 and 3


def test_environment_variable_missing_is_a_source_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV)
    with pytest.raises(SourceError, match=ENV):
        read_events(_params("http://127.0.0.1:9"), NOW - timedelta(hours=1), NOW, NOW, "order_id")
    assert os.environ.get(ENV) is None


def test_a_permission_error_names_neither_the_key_nor_the_account() -> None:
    from opsreview.payments.stripe_source import _error_message

    # the wording Stripe answers a restricted key with (stripe-node issue #2246)
    exc = stripe.PermissionError(
        "The provided key 'rk_live_****abcdqs8Kgd' does not have the required permissions for this endpoint on "
        "account 'acct_1Q2w3E'. Having the 'rak_event_read' permission would allow this request to continue.",
        http_status=403,
    )
    message = _error_message(exc, 2)
    assert "403" in message and "read access to events" in message
    for fragment in ("qs8Kgd", "rk_live", "acct_1Q2w3E", "rak_event_read"):
        assert fragment not in message
