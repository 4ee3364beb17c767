"""Alerts delivered for real through apprise: an HTTP webhook receiver (json://, form://, and
Teams ``workflows://`` over TLS) and SMTP servers (``mailto://`` plain, ``mailtos://`` with
STARTTLS and a password), all on loopback.

Slack (``slack://``), PagerDuty (``pagerduty://``) and Opsgenie (``opsgenie://``) send to their
vendors' fixed hosts, which cannot be pointed at loopback: their URLs are checked to be
accepted by apprise, and the webhook path they stand for is tested through ``json://`` and
``form://`` (the same message, posted as JSON or as a form).
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apprise
import pytest
import trustme

from opsreview.alerts.notify import notify_run, send_test
from opsreview.alerts.state import state_path
from tests.alerts_helpers import (
    HttpReceiver,
    SmtpServer,
    finding,
    free_port,
    start_http_receiver,
    start_smtp_server,
    summary,
    write_params,
)

TOKEN = "T0KEN9f3a7c2e5b8d1"  # the secret part of every webhook URL here
DAY = "2026-12-01"
NOW = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def receiver() -> Iterator[HttpReceiver]:
    info, server = start_http_receiver()
    yield info
    info.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    info, controller = start_smtp_server()
    yield info
    controller.stop()


def _day_findings() -> list:
    return [
        finding("logs", "logs.5xx_rate", "POST /api/orders", "critical", ("14:10", "14:30"), host="api-1"),
        finding("errors", "errors.spike", "MongoNetworkTimeoutError", "warning", count=140, host="api-1"),
        finding("database", "database.connections", "db-1", "warning", share="98%"),
        finding(
            "payments",
            "payments.webhook_failures",
            "stripe",
            "warning",
            sample="key sk_live_abcdefgh12345678 card 4242 4242 4242 4242",
        ),
        finding("probes", "probes.latency", "api", "warning"),
        finding("logs", "logs.scanner", "203.0.113.9", "info"),
    ]


def test_one_message_per_channel_with_status_counts_top_findings_and_link(
    tmp_path: Path, receiver: HttpReceiver, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT_URL", f"json://{receiver.base}/one/{TOKEN}")
    monkeypatch.setenv("FORM_URL", f"form://{receiver.base}/form/{TOKEN}")
    monkeypatch.setenv("MAIL_URL", f"mailto://127.0.0.1:{smtp.port}?to=ops@example.com&from=opsreview@example.com")
    params = write_params(
        tmp_path,
        {
            "channels": [
                {"name": "chat", "url": "${CHAT_URL}"},
                {"name": "form", "url": "${FORM_URL}"},
                {"name": "mail", "url": "${MAIL_URL}"},
            ],
            "report_base_url": "https://reports.example.test/opsreview/",
            "top_findings": 3,
        },
    )
    before_mail = len(smtp.mailbox.messages)
    outcome = notify_run(params, summary(DAY, _day_findings()), now=NOW)

    assert [(d.channel, d.ok) for d in outcome.deliveries] == [("chat", True), ("form", True), ("mail", True)]
    assert not outcome.findings
    chat = receiver.to("/one/")
    assert len(chat) == 1, "one message per run per channel"
    payload = chat[0].json()
    title, body = payload["title"], payload["message"]
    assert f"{DAY} ALERT" in title and "5 open" in title
    assert "1 critical, 4 warning, 1 info" in body
    lines = [line for line in body.splitlines() if line.startswith("- ")]
    assert len(lines) == 3, body  # top_findings
    first = lines[0]
    # the most severe first, its evidence in the same line: window, value vs threshold, facts
    assert first.startswith("- NEW critical logs.5xx_rate [POST /api/orders]")
    assert "14:10–14:30" in first and "value 0.57 (threshold 0.05)" in first and "host=api-1" in first
    assert "… and 2 more in the report." in body
    assert f"Report: https://reports.example.test/opsreview/{DAY}/index.html" in body
    assert "logs.scanner" not in body  # info is below the channel's min_severity
    form = receiver.to("/form/")
    assert len(form) == 1 and b"logs.5xx_rate" in form[0].body
    mails = smtp.mailbox.messages[before_mail:]
    assert len(mails) == 1
    assert f"{DAY} ALERT" in str(mails[0]["Subject"])
    text = SmtpServer.text(mails[0])
    assert "NEW critical logs.5xx_rate [POST /api/orders]" in text and f"{DAY}/index.html" in text
    for request in chat + form:
        assert TOKEN.encode() not in request.body
    assert TOKEN not in text


def test_secrets_and_card_numbers_in_evidence_are_masked_in_the_message(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT_URL", f"json://{receiver.base}/masked/{TOKEN}")
    params = write_params(tmp_path, {"channels": [{"name": "chat", "url": "${CHAT_URL}"}], "top_findings": 10})
    notify_run(params, summary(DAY, _day_findings()), now=NOW)
    body = receiver.to("/masked/")[0].json()["message"]
    assert "payments.webhook_failures" in body
    assert "sk_live_abcdefgh12345678" not in body
    assert "4242 4242 4242 4242" not in body


def test_teams_workflows_over_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``workflows://`` takes a host: a real HTTPS receiver with a test CA stands in for Power Automate."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    info, server = start_http_receiver(tls=context)
    try:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))  # requests verifies against the test CA
        monkeypatch.setenv("TEAMS_URL", f"workflows://{info.base}/wf0123abcd/{TOKEN}")
        params = write_params(tmp_path, {"channels": [{"name": "teams", "url": "${TEAMS_URL}"}]})
        outcome = notify_run(params, summary(DAY, _day_findings()), now=NOW)
        assert [(d.channel, d.ok, d.error) for d in outcome.deliveries] == [("teams", True, "")]
        assert len(info.requests) == 1
        request = info.requests[0]
        assert request.path.startswith("/workflows/wf0123abcd/triggers/manual/paths/invoke")
        card = json.dumps(request.json()).replace("\\\\", "")  # the card escapes markdown (logs.5xx\\_rate)
        assert f"{DAY} ALERT" in card and "logs.5xx_rate" in card
    finally:
        server.shutdown()
        server.server_close()


def test_mailtos_with_starttls_and_a_password_that_never_leaks(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E-mail as production sends it: STARTTLS to a certificate the client verifies, then AUTH."""
    password = "Pa55w0rdOnlyHere"
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # the client trusts the test CA
    server, controller = start_smtp_server(tls=context, password=password.encode())
    try:
        url = (
            f"mailtos://alerts:{{}}@127.0.0.1:{server.port}?to=ops@example.com&from=opsreview@example.com&mode=starttls"
        )
        monkeypatch.setenv("MAIL_URL", url.format(password))
        monkeypatch.setenv("WRONG_URL", url.format("Wr0ngPassw0rd"))
        params = write_params(
            tmp_path,
            {"channels": [{"name": "mail", "url": "${MAIL_URL}"}, {"name": "wrong", "url": "${WRONG_URL}"}]},
        )
        outcome = notify_run(params, summary(DAY, _day_findings()), now=NOW)
        by_name = {d.channel: d for d in outcome.deliveries}
        assert by_name["mail"].ok and not by_name["wrong"].ok
        assert len(server.mailbox.messages) == 1
        text = SmtpServer.text(server.mailbox.messages[0])
        assert "NEW critical logs.5xx_rate" in text
        written = json.dumps(outcome.to_dict()) + json.dumps([f.to_dict() for f in outcome.findings])
        written += state_path(params.store).read_text(encoding="utf-8")
        for secret in (password, "Wr0ngPassw0rd"):
            assert secret not in written and secret not in text
    finally:
        controller.stop()


@pytest.mark.parametrize(
    "url",
    [
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F/#ops",
        "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
        "workflows://prod-161.westeurope.logic.azure.com/643e69f83c8944438d68119179a10a64/signature1234",
        "mailtos://user:pass1234@smtp.example.com?to=ops@example.com",
        "pagerduty://integrationkey1234@apikey5678",
        "opsgenie://apikey12345678",
        "json://hooks.example.com/opsreview",
    ],
    ids=lambda u: u.split(":")[0],
)
def test_the_documented_url_schemes_are_ones_apprise_sends_to_within_the_timeouts(url: str) -> None:
    from opsreview.alerts.deliver import with_timeouts
    from opsreview.alerts.params import AlertTimeouts

    sender = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory"))
    assert sender.add(url)
    service = apprise.Apprise.instantiate(with_timeouts(url, AlertTimeouts(connect_seconds=3, read_seconds=7)))
    assert service is not None
    assert (service.socket_connect_timeout, service.socket_read_timeout) == (3, 7)
    own = apprise.Apprise.instantiate(with_timeouts(url + ("&" if "?" in url else "?") + "rto=9", AlertTimeouts()))
    assert own is not None and own.socket_read_timeout == 9  # a URL's own timeout is kept


def test_a_refused_port_and_a_hanging_receiver_are_findings_within_the_timeout(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOD_URL", f"json://{receiver.base}/good/{TOKEN}")
    monkeypatch.setenv("REFUSED_URL", f"json://127.0.0.1:{free_port()}/hook/{TOKEN}")
    monkeypatch.setenv("HANG_URL", f"json://{receiver.base}/hang/{TOKEN}")
    params = write_params(
        tmp_path,
        {
            "channels": [
                {"name": "good", "url": "${GOOD_URL}"},
                {"name": "refused", "url": "${REFUSED_URL}"},
                {"name": "hanging", "url": "${HANG_URL}"},
            ],
            "timeouts": {"connect_seconds": 1, "read_seconds": 1},
            "repeat_interval": "48h",
        },
    )
    outcome = notify_run(params, summary(DAY, _day_findings()), now=NOW)
    by_name = {d.channel: d for d in outcome.deliveries}
    assert by_name["good"].ok and not by_name["refused"].ok and not by_name["hanging"].ok
    assert not outcome.ok
    assert by_name["refused"].error.startswith("connection refused")
    assert by_name["hanging"].error.startswith("no answer within 2 s")
    # the receiver holds the request for 60 s: the delivery gave up after the timeouts
    assert by_name["hanging"].duration_s < 1 + 1 + 1 + 2, by_name["hanging"]
    failed = {f.subject: f for f in outcome.findings}
    assert set(failed) == {"refused", "hanging"}
    for f in failed.values():
        assert f.check == "alerts.delivery_failed" and f.area == "alerts"
        assert {"Set up alerts", "Monitoring tools configured"} <= set(f.checklist)
        assert TOKEN not in json.dumps(f.to_dict())
    # what the failed channels missed is sent on the next run; the good one is not repeated
    next_day = summary("2026-12-02", _day_findings())
    monkeypatch.setenv("REFUSED_URL", f"json://{receiver.base}/late/{TOKEN}")
    monkeypatch.setenv("HANG_URL", f"json://{receiver.base}/late2/{TOKEN}")
    again = notify_run(params, next_day, now=NOW + dt.timedelta(days=1))
    assert {d.channel for d in again.deliveries} == {"refused", "hanging"}
    assert all(d.ok for d in again.deliveries)
    actions = {(d.channel, d.action) for d in again.decisions if d.finding.check == "logs.5xx_rate"}
    assert actions == {("good", "suppressed"), ("refused", "new"), ("hanging", "new")}


def test_an_unset_variable_or_a_url_apprise_cannot_use_is_a_finding_naming_the_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ODD_URL", f"nosuchservice://{TOKEN}@example.com")
    params = write_params(
        tmp_path,
        {"channels": [{"name": "unset", "url": "${NOT_SET_URL}"}, {"name": "odd", "url": "${ODD_URL}"}]},
    )
    outcome = notify_run(params, summary(DAY, _day_findings()), now=NOW)
    errors = {d.channel: d.error for d in outcome.deliveries}
    assert "NOT_SET_URL is not set" in errors["unset"]
    assert "not a URL apprise can send to" in errors["odd"]
    assert TOKEN not in json.dumps([f.to_dict() for f in outcome.findings])
    assert {f.subject for f in outcome.findings} == {"unset", "odd"}


def test_no_channel_is_a_not_configured_finding_and_writes_no_state(tmp_path: Path) -> None:
    params = write_params(tmp_path, {})
    outcome = notify_run(params, summary(DAY, _day_findings()), now=NOW)
    assert [f.check for f in outcome.findings] == ["alerts.not_configured"]
    assert outcome.deliveries == []
    assert not state_path(params.store).exists()


def test_send_test_reaches_every_channel_and_reports_each(
    tmp_path: Path, receiver: HttpReceiver, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT_URL", f"json://{receiver.base}/test/{TOKEN}")
    monkeypatch.setenv("MAIL_URL", f"mailto://127.0.0.1:{smtp.port}?to=ops@example.com&from=opsreview@example.com")
    monkeypatch.setenv("DOWN_URL", f"json://127.0.0.1:{free_port()}/x/{TOKEN}")
    params = write_params(
        tmp_path,
        {
            "channels": [
                {"name": "chat", "url": "${CHAT_URL}"},
                {"name": "mail", "url": "${MAIL_URL}"},
                {"name": "down", "url": "${DOWN_URL}"},
            ]
        },
    )
    before = len(smtp.mailbox.messages)
    deliveries = send_test(params)
    assert [(d.channel, d.ok) for d in deliveries] == [("chat", True), ("mail", True), ("down", False)]
    assert "test notification" in receiver.to("/test/")[-1].json()["title"]
    assert "test of the alert channel 'mail'" in SmtpServer.text(smtp.mailbox.messages[before])
    assert TOKEN not in deliveries[2].error


@pytest.mark.parametrize(
    ("url", "secret", "plain"),
    [
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F/#ops", "TIiajkdnlazkcOXrIdevi7F", "ops"),
        ("opsgenie://apikey12345678", "apikey12345678", "opsgenie"),
        ("pagerduty://integrationkey1234@apikey5678", "integrationkey1234", "pagerduty"),
        ("mailtos://alerts:pass1234@smtp.example.com?to=ops@example.com", "pass1234", "alerts"),
        ("workflows://prod-1.logic.azure.com/643e69f83c8944438d68119179a10a64/sigX1234567", "sigX1234567", "workflows"),
    ],
    ids=lambda v: v.split(":")[0] if "://" in v else "",
)
def test_every_secret_part_of_a_vendor_url_is_redacted_not_its_plain_words(url: str, secret: str, plain: str) -> None:
    from opsreview.alerts.deliver import secret_parts
    from opsreview.secrets import redact, remember_secret

    for part in secret_parts(url):
        remember_secret(part)
    text = f"error from {plain}: token {secret} rejected"
    assert secret not in redact(text) and plain in redact(text)


def test_dates_and_plain_words_of_a_url_are_not_taken_for_secrets() -> None:
    from opsreview.alerts.deliver import secret_parts

    parts = secret_parts("json://hooks.example.com/services/opsreview?api-version=2016-06-01&sig=S1gnatureXyz")
    assert "S1gnatureXyz" in parts
    assert not {"2016-06-01", "services", "opsreview", "hooks.example.com"} & set(parts)


def test_the_predeploy_gate_checks_the_channels_through_send_test(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsreview.predeploy.external import check_alerts

    monkeypatch.setenv("CHAT_URL", f"json://{receiver.base}/gate/{TOKEN}")
    monkeypatch.setenv("DOWN_URL", f"json://127.0.0.1:{free_port()}/gate/{TOKEN}")
    good = check_alerts(write_params(tmp_path, {"channels": [{"name": "chat", "url": "${CHAT_URL}"}]}))
    assert good.status == "pass", good
    assert len(receiver.to("/gate/")) == 1
    both = [{"name": "chat", "url": "${CHAT_URL}"}, {"name": "down", "url": "${DOWN_URL}"}]
    bad = check_alerts(write_params(tmp_path, {"channels": both}))
    assert bad.status == "fail" and "down: test message not delivered: connection refused" in bad.summary
    assert [subject for subject, _ in bad.failures] == ["down"]  # the channel that delivered is no failure
    assert [row["ok"] for row in bad.evidence["channels"]] == [True, False]
    assert TOKEN not in bad.summary


@pytest.mark.parametrize("pseudonymize", [False, True])
def test_a_message_line_is_the_title_and_whitelisted_evidence_never_samples_and_is_shareable(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch, pseudonymize: bool
) -> None:
    import dataclasses

    from opsreview import share

    monkeypatch.setenv("CHAT_URL", f"json://{receiver.base}/evidence-{pseudonymize}/{TOKEN}")
    params = write_params(tmp_path, {"channels": [{"name": "chat", "url": "${CHAT_URL}"}]})
    share.configure(share.ShareParams(pseudonymize_clients=pseudonymize))
    try:
        burst = finding(
            "logs",
            "logs.5xx_burst",
            "GET /api/cart",
            "critical",
            ("23:50", "23:55"),
            route="GET /api/cart",
            host="api-1",
            requests=412,
            error_count=37,
            samples=["198.51.100.23 - - GET /api/cart 502"],
            example="GET /api/cart?email=jo@example.com from 198.51.100.24",
            lines=["upstream 10.20.30.40:8080 timed out"],
            client="198.51.100.25",
            note="internal 10.20.30.41",
        )
        burst = dataclasses.replace(
            burst, title="5xx burst, worst client 198.51.100.26", end="2026-12-02T00:00:00+01:00"
        )
        notify_run(params, summary(DAY, [burst]), now=NOW)
    finally:
        share.configure(share.ShareParams())
    line = next(
        ln for ln in receiver.to(f"/evidence-{pseudonymize}/")[0].json()["message"].splitlines() if "- NEW" in ln
    )
    assert "23:50–24:00" in line and "00:00" not in line
    assert "value 0.57 (threshold 0.05)" in line
    assert "route=GET /api/cart" in line and "host=api-1" in line and "requests=412" in line
    assert "error_count=37" in line
    for never in ("198.51.100.23", "198.51.100.24", "198.51.100.25", "10.20.30.4", "jo@example.com", "samples"):
        assert never not in line, (never, line)
    # the title is kept, through the share settings: a client address only when they allow it
    assert ("198.51.100.26" in line) is (not pseudonymize)
    assert ("198.51.100.0/24" in line) is pseudonymize


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [
        ("2026-12-01T23:00:00+01:00", "2026-12-02T00:00:00+01:00", "23:00–24:00"),
        ("2026-12-01T00:00:00+01:00", "2026-12-02T00:00:00+01:00", "00:00–24:00"),
        ("2026-12-01T22:00:00+01:00", "2026-12-03T01:00:00+01:00", "22:00–2026-12-03 01:00"),
        ("2026-12-01T14:10:00+01:00", "2026-12-01T14:30:00+01:00", "14:10–14:30"),
        ("2026-12-01T14:10:00+01:00", None, "14:10"),
    ],
)
def test_a_window_ending_at_midnight_reads_24_00(start: str, end: str | None, text: str) -> None:
    from opsreview.alerts.message import window_text

    assert window_text(start, end) == text


@pytest.mark.parametrize(
    ("url", "incident"),
    [
        ("pagerduty://integrationkey1234@apikey5678", True),
        ("PagerDuty://integrationkey1234@apikey5678", True),
        ("opsgenie://apikey12345678", True),
        ("https://events.pagerduty.com/v2/enqueue", True),
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F/#ops", False),
        ("json://hooks.example.com/opsreview", False),
        ("json://hooks.example.com/pagerduty", False),
    ],
)
def test_incident_tools_are_told_by_the_scheme_of_the_channel_url(
    monkeypatch: pytest.MonkeyPatch, url: str, incident: bool
) -> None:
    from opsreview.alerts.deliver import is_incident_tool
    from opsreview.alerts.params import ChannelParams

    monkeypatch.setenv("PAGER_URL", url)
    assert is_incident_tool(ChannelParams(name="pager", url="${PAGER_URL}")) is incident
    monkeypatch.delenv("PAGER_URL")
    assert is_incident_tool(ChannelParams(name="pager", url="${PAGER_URL}")) is False


def test_an_incident_tool_gets_no_resolved_message_the_chat_does(
    tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PagerDuty's host cannot be reached from a test: the delivery to it is recorded (and
    refused) by a stand-in; the chat's goes to the loopback receiver for real."""
    from opsreview.alerts import notify
    from opsreview.alerts.deliver import Delivery, deliver
    from opsreview.alerts.state import read_state

    monkeypatch.setenv("CHAT_URL", f"json://{receiver.base}/incident/{TOKEN}")
    monkeypatch.setenv("PAGER_URL", "pagerduty://integrationkey1234@apikey5678")
    params = write_params(
        tmp_path,
        {
            "channels": [
                {"name": "chat", "url": "${CHAT_URL}", "min_severity": "warning"},
                {"name": "pager", "url": "${PAGER_URL}", "min_severity": "critical"},
            ]
        },
    )
    paged: list[str] = []

    def no_vendor(channel: Any, title: str, body: str, kind: str, timeouts: Any) -> Delivery:
        if channel.name == "pager":
            paged.append(body)
            return Delivery("pager", True)
        return deliver(channel, title, body, kind, timeouts)

    monkeypatch.setattr(notify, "deliver", no_vendor)
    outage = finding("probes", "probes.outage", "api", "critical", ("14:05", "14:40"))
    notify_run(params, summary(DAY, [outage]), now=NOW)
    assert len(paged) == 1 and "NEW critical probes.outage" in paged[0]  # the page itself goes
    cleared = notify_run(params, summary("2026-12-02", []), now=NOW + dt.timedelta(days=1))
    assert len(paged) == 1, "a RESOLVED message would page on-call again"
    assert {(d.channel, d.action) for d in cleared.decisions} == {("chat", "resolved"), ("pager", "cleared")}
    assert "RESOLVED probes.outage" in receiver.to("/incident/")[-1].json()["message"]
    record = read_state(state_path(params.store))["alerts"][outage.fingerprint]
    assert record["channels"]["pager"]["status"] == "resolved"  # not resolved again tomorrow
    tomorrow = notify_run(params, summary("2026-12-03", []), now=NOW + dt.timedelta(days=2))
    assert tomorrow.decisions == [] and len(paged) == 1
