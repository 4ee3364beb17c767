"""No secret at rest: every kind of secret, seeded into every source, is found in no file of the
store (Parquet read back with DuckDB, every string column and list) nor of the outputs folder
after a full `opsreview run`; an older store is re-masked by the next `opsreview pull`."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from opsreview import masking
from opsreview.logs.access.parse import REQUESTS_SCHEMA
from opsreview.logs.app.parse import APP_EVENTS_SCHEMA, MESSAGE_CHARS
from opsreview.logs.files import LOG_FILES_SCHEMA
from opsreview.probes.models import SCHEMA as PROBE_SCHEMA
from opsreview.probes.models import ProbeResult
from opsreview.probes.source import append_results, spool_path
from opsreview.store import Store

DAY = dt.date(2026, 11, 23)
ENV_NAME = "OPSREVIEW_TEST_AT_REST_SECRET"
SECRETS = {  # kind -> a literal value that must be nowhere at rest, nor in any output
    "password": "Tr0ub4dor-and-3",
    "api_key": "ak-7Hc9Qz2Lm4Xw",
    "json_token": "jt-5f4e3d2c1b0a9",
    "bearer": "br-Zq8Xw7Vu6Ts5Rq4",
    "basic": "dXNlcjpiYXNpYy1zM2NyZXQ=",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhdC1yZXN0In0.c2lnbmF0dXJlLWF0LXJlc3Q",
    "mongodb_password": "m0ng0-Secret-pw",
    "aws_key": "AKIAIOSFODNN7ATREST1",
    "stripe_key": "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "visa": "4111111111111111",
    "visa_grouped": "4111 1111 1111 1111",
    "mastercard": "5105105105105100",
    "mastercard_grouped": "5105-1051-0510-5100",
    "url_signature": "d0c5f1e8a7b6c5d4e3f2a1b0c9d8e7f6",
    "oauth_code": "oc-4Lk9Pq2Rs7Tu",
    "env": "env-Resolved-Secret-42",
    "amex_cut_in_two": "3782822",  # what a cut message would keep of 378282246310005
}
# A card keeps at most its last four digits: no nine leading digits anywhere either.
CARD_HEADS = {"visa head": "411111111", "mastercard head": "510510510"}
S = SECRETS


def clf(hhmm: str) -> str:
    return f"23/Nov/2026:{hhmm}:00 +0100"


def access_line(hhmm: str, url: str, user: str = "-", referrer: str = "-", agent: str = "Mozilla/5.0") -> str:
    return f'198.51.100.7 - {user} [{clf(hhmm)}] "GET {url} HTTP/1.1" 200 512 "{referrer}" "{agent}" 12.5 ms'


def access_log() -> str:
    lines = [access_line(f"09:{m:02d}", f"/api/products/{m}") for m in range(40)]
    lines += [
        access_line("10:00", f"/api/users/me?access_token={S['jwt']}"),
        access_line(
            "10:01", f"/api/login?password={S['password']}", referrer=f"https://shop.example/?q={S['password']}"
        ),
        access_line("10:02", f"/api/search?api_key={S['api_key']}"),
        access_line("10:03", f"/api/pay?card={S['visa']}&mc={S['mastercard_grouped']}"),
        access_line("10:04", f"/api/checkout?key={S['stripe_key']}", user=S["stripe_key"]),
        access_line(
            "10:05",
            f"/files/report.pdf?X-Amz-Credential={S['aws_key']}%2F20261123&X-Amz-Signature={S['url_signature']}",
        ),
        access_line("10:06", f"/auth/callback?code={S['oauth_code']}&state=xyz"),
        access_line("10:07", f"/api/debug/{S['env']}"),
        access_line(
            "10:08",
            "/api/health",
            referrer=f"https://ops:{S['mongodb_password']}@admin.example/",
            agent=f"curl/8.4.0 Authorization: Bearer {S['bearer']}",
        ),
        access_line("10:09", "/api/health", agent=f"probe Authorization: Basic {S['basic']}", user=S["jwt"]),
        f"garbage password={S['password']} {S['jwt']} card {S['visa']} Bearer {S['bearer']}",  # unparsed
    ]
    return "\n".join(lines) + "\n"


def app_jsonl() -> str:
    def event(hhmm: str, message: str, **extra: Any) -> str:
        return json.dumps(
            {"level": "error", "timestamp": f"2026-11-23T{hhmm}:00.000+01:00", "message": message, **extra}
        )

    cut = "x" * (MESSAGE_CHARS - len(" card 3782822")) + " card 378282246310005 declined"  # cut after 3782822
    rows = [
        event("11:00", f"failed password={S['password']} token {S['password']}"),
        event(
            "11:01",
            f"upstream said Authorization: Bearer {S['bearer']}",
            stack=f"Error: Basic {S['basic']}\n    at x (/app/src/a.js:1:2)",
        ),
        event("11:02", f"token {S['json_token']} rejected", token=S["json_token"], user="ann"),
        event(
            "11:03",
            "db down",
            db=f"mongodb://app:{S['mongodb_password']}@db.internal:27017/shop",
            card=S["visa_grouped"],
            aws=S["aws_key"],
            headers={"authorization": f"Bearer {S['bearer']}"},
        ),
        event(
            "11:04",
            f"charge {S['mastercard']} with {S['jwt']}",
            err={
                "message": "declined",
                "stack": f"Error: declined {S['stripe_key']}\n    at pay (/app/src/pay.js:3:4)",
            },
        ),
        event("11:05", f"connecting with {S['env']}", config={"api_key": S["api_key"]}),
        event("11:06", cut, stack=f"Error: {cut}\n    at pay (/app/src/pay.js:9:9)"),
        "{not json password=" + S["password"] + " " + S["jwt"],  # unparsed
    ]
    return "\n".join(rows) + "\n"


def worker_log() -> str:
    return (
        f"2026-11-23 12:00:00 ERROR payment failed for card {S['visa_grouped']} using api_key: {S['api_key']}\n"
        f"Error: charge declined {S['stripe_key']}\n"
        "    at charge (/app/src/pay.js:10:5)\n"
        f"2026-11-23 12:01:00 INFO connected to mongodb://app:{S['mongodb_password']}@db.internal:27017/shop\n"
        f"2026-11-23 12:02:00 WARN retry with {S['env']} and Authorization: Basic {S['basic']}\n"
    )


def probe_spool_row() -> str:
    """A result as an older `opsreview probe` spooled it: its detail quoting what a server said."""
    detail = f"error body leaked password={S['password']} Bearer {S['bearer']} {S['jwt']} {S['visa']}"
    row = {"ts": "2026-11-23T10:00:00.000000Z", "probe": "api-health", "check": "leakage", "ok": False}
    return json.dumps(row | {"detail": detail, "status_code": 500, "source": "probe"}) + "\n"


def write_params(root: Path) -> Path:
    params = root / "params.yaml"
    params.write_text(
        "environment: test\ntimezone: Europe/Berlin\nstore: store\noutputs: out\nbaseline_days: 1\n"
        "logs:\n"
        "  access:\n    - {host: api-1, paths: [logs/access.log], format: combined_rt}\n"
        "  app:\n    - {host: api-1, paths: [logs/app.jsonl], format: json}\n"
        "    - {host: worker-1, paths: [logs/worker.log], format: text}\n"
        "probes:\n  targets:\n    - name: api-health\n      url: http://127.0.0.1:9/health\n"
        f'      headers: {{Authorization: "Bearer ${{{ENV_NAME}}}"}}\n',
        encoding="utf-8",
    )
    return params


def opsreview(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, ENV_NAME: S["env"]}
    return subprocess.run(
        [sys.executable, "-m", "opsreview.cli", *args], capture_output=True, text=True, timeout=900, env=env
    )


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)


def texts(folder: Path, skip: tuple[str, ...] = ()) -> Iterator[tuple[Path, str]]:
    """Every text of every file under ``folder``: Parquet files read back with DuckDB (each
    string value, lists and structs too), any other file as text."""
    con = duckdb.connect()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in skip):
        if path.suffix == ".parquet":
            rel = con.sql(f"SELECT * FROM read_parquet('{path}', hive_partitioning = false)")
            for row in rel.fetchall():
                for value in row:
                    for text in strings(value):
                        yield path, text
        else:
            yield path, path.read_text(encoding="utf-8", errors="replace")


def leaks(folder: Path, literals: dict[str, str], skip: tuple[str, ...] = ()) -> dict[str, list[str]]:
    found: dict[str, set[str]] = {}
    for path, text in texts(folder, skip):
        for kind, literal in literals.items():
            if literal in text:
                found.setdefault(kind, set()).add(str(path.relative_to(folder)))
    return {kind: sorted(paths) for kind, paths in found.items()}


@pytest.fixture(scope="module")
def leaky_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("leaky")
    (root / "logs").mkdir()
    (root / "logs" / "access.log").write_text(access_log(), encoding="utf-8")
    (root / "logs" / "app.jsonl").write_text(app_jsonl(), encoding="utf-8")
    (root / "logs" / "worker.log").write_text(worker_log(), encoding="utf-8")
    spool = spool_path(Store(root / "store"), DAY)
    spool.parent.mkdir(parents=True)
    spool.write_text(probe_spool_row(), encoding="utf-8")
    proc = opsreview("run", "--params", str(write_params(root)), "--date", DAY.isoformat())
    summary_path = root / "out" / DAY.isoformat() / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return {"root": root, "proc": proc, "summary": summary}


def test_the_run_read_every_source(leaky_run: dict[str, Any]) -> None:
    proc, summary = leaky_run["proc"], leaky_run["summary"]
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert {s["name"]: s["status"] for s in summary["sources"]} == dict.fromkeys(
        ("access_logs", "app_logs", "probes"), "ok"
    )
    store = Store(leaky_run["root"] / "store")
    assert store.count_rows("requests", DAY) == 50 and store.count_rows("app_events", DAY) == 10
    assert store.count_rows("probe_results", DAY) == 1


def test_no_secret_anywhere_in_the_store(leaky_run: dict[str, Any]) -> None:
    found = leaks(leaky_run["root"] / "store", SECRETS | CARD_HEADS)
    assert found == {}, f"secrets at rest: {found}"


def test_no_secret_anywhere_in_the_outputs(leaky_run: dict[str, Any]) -> None:
    found = leaks(leaky_run["root"] / "out", SECRETS | CARD_HEADS)
    assert found == {}, f"secrets in the outputs: {found}"


def test_masked_values_keep_what_the_review_needs(leaky_run: dict[str, Any]) -> None:
    """Cards keep their last four digits; the kinds of secret in URLs are still findings."""
    store = Store(leaky_run["root"] / "store")
    requests = store.read("requests", [DAY])
    assert "/api/pay?card=***1111&mc=***5100" in set(requests["url"])
    kinds = {f["evidence"]["kind"] for f in leaky_run["summary"]["findings"] if f["check"] == "logs.secret_in_url"}
    assert kinds == {"jwt", "api key", "card number", "credential parameter"}
    events = store.read("app_events", [DAY])
    assert "failed password=*** token ***" in set(events["message"])  # the same value, masked again
    cut = next(m for m in events["message"] if m.startswith("xxxx"))
    assert cut.endswith(" card ***") and not any(c.isdigit() for c in cut)


def test_an_older_store_is_remasked_by_the_next_pull(tmp_path: Path) -> None:
    """Parts written before masking at rest (no `opsreview.masked` in their footer) are masked by
    the next pull, which says so; a part that cannot be read is named, kept, and fails nothing."""
    store = Store(tmp_path / "store")
    old = dt.date(2026, 11, 22)

    def write_old(table: str, part: str, data: pa.Table, day: dt.date = old) -> None:
        store.day_dir(table, day).mkdir(parents=True, exist_ok=True)
        pq.write_table(data, store.day_dir(table, day) / f"{part}.parquet")  # as the old store did

    ts = dt.datetime(2026, 11, 22, 10, tzinfo=dt.UTC)
    request = {c: None for c in REQUESTS_SCHEMA.names} | {
        "ts": ts,
        "host": "api-1",
        "method": "GET",
        "url": f"/api/users/me?access_token={S['jwt']}",
        "path": f"/api/debug/{S['env']}",
        "status": 200,
        "referrer": f"https://ops:{S['mongodb_password']}@admin.example/?q={S['password']}&password={S['password']}",
    }
    write_old("requests", "old", pa.Table.from_pylist([request], schema=REQUESTS_SCHEMA))
    event = {c: None for c in APP_EVENTS_SCHEMA.names} | {
        "ts": ts,
        "host": "api-1",
        "level": "error",
        "message": f"failed password={S['password']} token {S['json_token']} card {S['visa']}",
        "extra": json.dumps({"token": S["json_token"], "env": S["env"]}),
    }
    write_old("app_events", "old", pa.Table.from_pylist([event], schema=APP_EVENTS_SCHEMA))
    log_file = {c: None for c in LOG_FILES_SCHEMA.names} | {"path": "/x", "day": old, "samples": [f"? {S['jwt']}"]}
    write_old("log_files", "old", pa.Table.from_pylist([log_file], schema=LOG_FILES_SCHEMA))
    probe = {c: None for c in PROBE_SCHEMA.names} | {
        "ts": ts,
        "probe": "p",
        "check": "http",
        "detail": f"Bearer {S['bearer']}",
    }
    write_old("probe_results", "probe", pa.Table.from_pylist([probe], schema=PROBE_SCHEMA))
    broken = store.day_dir("requests", old - dt.timedelta(days=1)) / "broken.parquet"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a parquet file")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "access.log").write_text(access_line("09:00", "/api/products/1") + "\n", encoding="utf-8")
    (tmp_path / "logs" / "app.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "logs" / "worker.log").write_text("", encoding="utf-8")
    params = write_params(tmp_path)

    first = opsreview("pull", "--params", str(params), "--date", DAY.isoformat())
    assert first.returncode == 0, first.stdout + first.stderr
    for table in ("requests", "app_events", "log_files", "probe_results"):
        assert f"re-masked 1 part(s) of {table} written before" in first.stderr, first.stderr
    assert f"{broken}: cannot read it" in first.stderr and "kept as it is" in first.stderr
    assert broken.read_bytes() == b"not a parquet file"
    assert leaks(tmp_path / "store", SECRETS | CARD_HEADS, skip=("broken.parquet",)) == {}
    remasked = store.read("requests", [old])
    assert remasked["url_secret"].tolist() == ["jwt"]  # the finding survives the masking
    assert masking.sensitive_in_urls(store.relation("requests", [old]))["kind"].tolist() == ["jwt"]
    assert (
        pq.read_schema(store.parts("requests", old)[0]).metadata[b"opsreview.masked"]
        == str(masking.MASKING_VERSION).encode()
    )
    assert store.read("app_events", [old])["message"].tolist() == ["failed password=*** token *** card ***1111"]

    second = opsreview("pull", "--params", str(params), "--date", DAY.isoformat())
    assert second.returncode == 0 and "re-masked" not in second.stderr, second.stderr


# -- the masking itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"failed password={S['password']}",
        f"password\u00a0: {S['password']}",  # a no-break space (Python's \s, not RE2's)
        f'{{"client_secret" :"{S["password"]}"}}',
        f"Authorization: Bearer\u2003{S['bearer']}",
        f"mongodb://app:{S['mongodb_password']}@db:27017",
        f"/x?X-Goog-Signature={S['url_signature']}",
        f"/cb?code={S['oauth_code']}",
        f"key {S['aws_key']} and {S['stripe_key']}",
        f"ghp_{'a' * 36} xoxb-{'1' * 12} AIza{'b' * 35} whsec_{'c' * 20}",
        f"pay {S['visa']}/{S['mastercard']}",
        "amex 3782 822463 10005",
        "no secret here at all",
    ],
)
def test_the_prefilter_lets_through_every_value_the_masking_changes(text: str) -> None:
    changed = masking.masked_with_secrets(text)[0] != text
    passes = pc.match_substring_regex(pa.array([text]), masking.AT_REST_PREFILTER)[0].as_py()
    assert passes or not changed
    assert changed is (text != "no secret here at all")


@pytest.mark.parametrize("text", [pa.string(), pa.large_string()])  # pandas' strings are large
def test_a_secret_found_in_one_field_is_masked_in_all_of_the_row(text: pa.DataType) -> None:
    table = pa.table(
        {
            "message": pa.array(
                [f"failed password={S['password']} token {S['password']}", f"hello {S['json_token']}"], text
            ),
            "extra": pa.array([json.dumps({"note": S["password"]}), json.dumps({"token": S["json_token"]})], text),
            "samples": pa.array([[f"retry {S['password']}"], None], pa.list_(text)),
        }
    )
    rows = masking.mask_table(table).to_pylist()
    assert rows[0] == {"message": "failed password=*** token ***", "extra": '{"note": "***"}', "samples": ["retry ***"]}
    assert rows[1] == {"message": "hello ***", "extra": '{"token": "***"}', "samples": None}


def test_cards_keep_their_last_four_alike_in_python_and_sql() -> None:
    text = f"cards {S['visa']} {S['mastercard']},{S['visa_grouped']};3782-822463-10005"
    expected = "cards ***1111 ***5100,***1111;***0005"  # adjacent numbers both masked
    assert masking.mask_sensitive(text) == expected
    sql = masking.mask_sensitive_sql("x")
    assert duckdb.connect().execute(f"SELECT {sql} FROM (SELECT ?::VARCHAR AS x)", [text]).fetchone() == (expected,)


def test_a_card_cut_at_the_length_limit_keeps_none_of_its_digits() -> None:
    limit = 60
    table = pa.table({"message": [("paid with card " + S["visa"] + " ok").rjust(limit + 10, "x")[:limit]]})
    assert table.column("message")[0].as_py().endswith("card 411111111")
    (masked,) = masking.mask_table(table, cut_at={"message": limit}).column("message").to_pylist()
    assert masked.endswith("card ***") and "411" not in masked


def test_probe_details_are_masked_before_they_are_spooled(tmp_path: Path) -> None:
    store = Store(tmp_path)
    ts = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    detail = f"500 body: password={S['password']} Bearer {S['bearer']} {S['jwt']} card {S['visa']}"
    (path,) = append_results(store, [ProbeResult(ts, "api", "leakage", False, detail)], ZoneInfo("UTC"))
    assert leaks(tmp_path, SECRETS | CARD_HEADS) == {}
    assert "card ***1111" in json.loads(path.read_text())["detail"]
