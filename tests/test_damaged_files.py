"""Damaged and pathological log files (issue 10, item 4): a cut told apart from corruption, with
the byte offset and the lines it cost; a NUL byte inside a field; a line over the 1 MiB limit.

Every damaged file is made here, at run time, from an intact one: a flipped bit in the middle
of a gzip member, a file cut short, a 5 MB line."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import zlib
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from opsreview.context import open_review
from opsreview.findings import Severity
from opsreview.logs.access.source import ingest_access_logs
from opsreview.logs.app.parse import parse_app_log
from opsreview.logs.app.source import pull_app_logs
from opsreview.logs.files import LOG_FILES, LOG_FILES_SCHEMA, MAX_LINE_BYTES, LogReader
from opsreview.logs.gzipcheck import DAMAGE_MARGIN, check_gzip
from opsreview.logs.health import unparsed_findings
from opsreview.logs.review import log_files
from opsreview.logs.thresholds import LogThresholds
from opsreview.params import load_params
from opsreview.store import Store

TZ = "Europe/Berlin"
T0 = dt.datetime(2026, 6, 10, 6, 0, tzinfo=dt.UTC)
DAY = T0.date()
UA = "Mozilla/5.0 (X11; Linux x86_64)"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def access_line(i: int, url: str | None = None, ua: str = UA, method: str = "GET", status: int = 200) -> str:
    ts = T0 + dt.timedelta(seconds=7 * i)
    stamp = f"{ts.day:02d}/{MONTHS[ts.month - 1]}/{ts.year}:{ts:%H:%M:%S} +0000"
    url = url or f"/api/items/{i * 37 % 1000}"
    return f'10.0.0.{i % 7} - - [{stamp}] "{method} {url} HTTP/1.1" {status} {300 + i % 50} "-" "{ua}" {i % 97}.500 ms'


def as_text(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def stored_blocks(member: bytes) -> list[int]:
    """Offsets of the block headers of a gzip member made with compresslevel=0."""
    offsets, pos = [], 10
    while True:
        offsets.append(pos)
        if member[pos] & 1:  # BFINAL
            return offsets
        pos += 5 + int.from_bytes(member[pos + 1 : pos + 3], "little")


def flip_until_it_runs_past_the_end(member: bytes) -> bytes:
    """``member`` with one bit flipped near its end such that zlib no longer finds the end of
    the member: the decoder misses the end-of-block code and runs on through the trailer."""
    for at in range(len(member) - 9, 10, -1):
        for bit in range(8):
            damaged = bytearray(member)
            damaged[at] ^= 1 << bit
            inflater = zlib.decompressobj(31)
            try:
                inflater.decompress(bytes(damaged))
            except zlib.error:
                continue
            if not inflater.eof:
                return bytes(damaged)
    raise AssertionError("no bit flip makes this member run past its end")


def read(path: Path) -> tuple[list[str], str | None]:
    reader = LogReader(path)
    return list(reader), reader.error


# -- gzip: a cut, corruption, and what is kept of each ---------------------------------------


def test_a_flipped_bit_that_hides_the_members_end_is_corruption_not_a_cut(tmp_path: Path) -> None:
    """The issue's file: one corrupted byte, and zlib ran to the end of the file looking for
    the member's end. That used to read as "truncated at byte N (the end); lines before it
    were kept", with the garbage decoded after the damage kept. The file's last 8 bytes are
    its trailer, whose size matches what decoded: it is whole, and damaged inside."""
    lines = [access_line(i) for i in range(120)]
    intact = gzip.compress(as_text(lines), mtime=0)
    path = tmp_path / "access.log.1.gz"
    path.write_bytes(flip_until_it_runs_past_the_end(intact))
    got, error = read(path)
    assert error is not None and "truncated" not in error
    assert "corrupt gzip data" in error and f"to byte {len(intact)}, the end of the file" in error
    assert got == []  # nothing proves which of its lines are intact
    assert "lines it decoded to were dropped" in error

    # the same file cut short is a cut: every whole line before it is kept
    cut = len(intact) * 2 // 3
    path.write_bytes(intact[:cut])
    got, error = read(path)
    assert error is not None and f"gzip file truncated at byte {cut} (its end" in error
    assert got[:-1] == lines[: len(got) - 1] and len(got) > 40
    assert f"the {len(got) - 1} lines before the cut were kept" in error  # and one cut in half


def test_a_cut_file_whose_data_holds_the_gzip_magic_by_chance_is_still_a_cut(tmp_path: Path) -> None:
    """The three bytes that start a gzip member turn up by chance about once per 16 MB of
    compressed data; one inside a cut member is no sign that decoding ran into a next member."""
    lines = [access_line(i) for i in range(300)]
    text = as_text(lines[:100]) + b"by chance \x1f\x8b\x08\x00 in the data\n" + as_text(lines[100:])
    data = gzip.compress(text, compresslevel=0, mtime=0)  # stored: the data is the text itself
    cut = len(data) * 3 // 4
    path = tmp_path / "access.log.1.gz"
    path.write_bytes(data[:cut])
    got, error = read(path)
    assert error is not None and f"gzip file truncated at byte {cut}" in error
    assert got[101:-1] == lines[100 : len(got) - 2]


def test_a_checksum_mismatch_costs_its_own_member_and_says_how_many_lines(tmp_path: Path) -> None:
    """Bits flipped inside a member decode to wrong text that zlib cannot see until the CRC at
    the member's end; the member gives no line, the members around it are read whole."""
    first, second, third = ([access_line(i) for i in range(k, k + 300)] for k in (0, 300, 600))
    damaged = bytearray(gzip.compress(as_text(second), compresslevel=0, mtime=0))  # stored: a flip changes one byte
    damaged[len(damaged) // 2] ^= 0x04
    start = len(gzip.compress(as_text(first), mtime=0))
    data = gzip.compress(as_text(first), mtime=0) + bytes(damaged) + gzip.compress(as_text(third), mtime=0)
    path = tmp_path / "access.log.2.gz"
    path.write_bytes(data)
    got, error = read(path)
    assert got == first + third
    end = start + len(damaged)
    assert error is not None
    assert (
        f"gzip checksum mismatch at byte {end - 5} (the end of its member in the member at bytes {start}-{end})"
        in error
    )
    assert "the 300 lines it decoded to were dropped" in error


def test_corrupt_data_keeps_only_what_decoded_well_before_it(tmp_path: Path) -> None:
    """zlib stops at an invalid code some way after the damage, and what it decoded just
    before may already be wrong: only lines decoded DAMAGE_MARGIN compressed bytes before the
    failure are kept. The next member is still read."""
    lines = [access_line(i) for i in range(4000)]
    member = bytearray(gzip.compress(as_text(lines), compresslevel=0, mtime=0))
    at = next(b for b in stored_blocks(bytes(member)) if b > 3 * DAMAGE_MARGIN)
    member[at + 3] ^= 0xFF  # NLEN no longer the complement of LEN: "invalid stored block lengths"
    after = [access_line(i) for i in range(5000, 5100)]
    path = tmp_path / "access.log.gz"
    path.write_bytes(bytes(member) + gzip.compress(as_text(after), mtime=0))
    got, error = read(path)
    kept = got[: len(got) - len(after)]
    assert got[len(kept) :] == after
    assert kept == lines[: len(kept)]  # a prefix, nothing garbled
    kept_bytes = len(as_text(kept))
    assert (
        at - DAMAGE_MARGIN - 32 * 1024 < kept_bytes <= at - DAMAGE_MARGIN
    )  # stored: text offset = compressed offset - header
    assert error is not None and "invalid stored block lengths" in error
    found = int(error.split("corrupt gzip data at byte ")[1].split(" ")[0])
    assert at <= found <= at + 5
    assert f"the {len(kept)} lines decoded well before it were kept" in error


def test_a_damaged_size_field_keeps_every_line(tmp_path: Path) -> None:
    lines = [access_line(i) for i in range(50)]
    data = bytearray(gzip.compress(as_text(lines), mtime=0))
    data[-1] ^= 0x01  # ISIZE: the CRC-32 before it still matches the data
    path = tmp_path / "a.log.gz"
    path.write_bytes(bytes(data))
    got, error = read(path)
    assert got == lines
    assert error is not None and "size field" in error and "every line was kept" in error


def test_nul_padding_after_the_last_member_is_not_damage(tmp_path: Path) -> None:
    """A preallocated file (or a copy to a block device) ends in NULs; gzip(1) ignores them."""
    path = tmp_path / "a.log.gz"
    path.write_bytes(gzip.compress(b"a\nb\n") + bytes(4096))
    assert read(path) == (["a", "b"], None)
    assert check_gzip(path).damaged is False


# -- access logs: the check runs before DuckDB reads a gzip file ------------------------------


def write_params(tmp_path: Path, fmt: str = "combined_rt") -> Path:
    params = tmp_path / "params.yaml"
    params.write_text(
        f"environment: test\ntimezone: {TZ}\nstore: store\noutputs: out\nbaseline_days: 2\n"
        f"logs:\n  access:\n    - host: api-1\n      paths: ['logs/']\n      format: {fmt!r}\n",
        encoding="utf-8",
    )
    (tmp_path / "logs").mkdir(exist_ok=True)
    return params


def log_file_rows(tmp_path: Path) -> list[dict[str, object]]:
    files = sorted((tmp_path / "store" / LOG_FILES).glob("date=*/*.parquet"))
    rel = duckdb.read_parquet([str(f) for f in files], union_by_name=True)
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def stored_requests(tmp_path: Path) -> list[tuple[object, ...]]:
    files = sorted((tmp_path / "store" / "requests").glob("date=*/*.parquet"))
    if not files:
        return []
    return duckdb.read_parquet([str(f) for f in files]).select("method, url, status, user_agent").fetchall()


def test_a_flipped_byte_that_still_parses_never_reaches_the_store(tmp_path: Path) -> None:
    """DuckDB reads gzip without checking its CRC. A flip that turns one status 200 into 280
    leaves a line that parses: only the checksum tells, so every gzip file is checked first."""
    params = load_params(write_params(tmp_path))
    good = [access_line(i) for i in range(200)]
    hit = [access_line(i) for i in range(200, 400)]
    member = bytearray(gzip.compress(as_text(hit), compresslevel=0, mtime=0))
    where = bytes(member).index(b'HTTP/1.1" 200 ', len(member) // 2) + len('HTTP/1.1" 2')
    member[where] ^= 0x08  # "0" -> "8": status 280, still three digits
    (tmp_path / "logs" / "access.log.1.gz").write_bytes(gzip.compress(as_text(good), mtime=0) + bytes(member))
    outcome = ingest_access_logs(params)
    assert outcome.rows == 200
    assert {status for _, _, status, _ in stored_requests(tmp_path)} == {200}
    (row,) = log_file_rows(tmp_path)
    assert "checksum mismatch" in str(row["error"]) and "the 200 lines it decoded to were dropped" in str(row["error"])


# -- NUL bytes: an unparsed line in every parser ----------------------------------------------


def test_a_nul_byte_inside_a_field_is_an_unparsed_line_in_both_access_parsers(tmp_path: Path) -> None:
    """`G\\x00ET` is no method. A line DuckDB's fast path would vouch for, and lines only the
    exact parser reads (a quote inside the user agent), are refused alike."""
    params = load_params(write_params(tmp_path))
    lines = [access_line(i) for i in range(20)]
    refused = [
        access_line(20, method="G\x00ET"),  # fast path shape
        access_line(21, ua='Mozilla "quoted" \x00 agent'),  # exact-parser shape
        access_line(22, url="/api/\x00items/1"),
        "\x00" * 40 + access_line(23),  # copytruncate's run of NULs before the next line
    ]
    (tmp_path / "logs" / "access.log").write_text("\n".join(lines[:10] + refused + lines[10:]) + "\n")
    ingest_access_logs(params)
    (row,) = log_file_rows(tmp_path)
    assert (row["lines"], row["parsed"], row["unparsed"], row["too_long"]) == (24, 20, 4, 0)
    stored = stored_requests(tmp_path)
    assert {method for method, *_ in stored} == {"GET"}
    assert not any("\x00" in str(value) for request in stored for value in request)
    assert all("\\0" in s for s in row["samples"]) and not any("\x00" in s for s in row["samples"])


def test_a_nul_byte_in_a_text_app_log_neither_starts_nor_joins_an_event(tmp_path: Path) -> None:
    text = (
        f"{DAY} 08:00:00 ERROR payment failed\n"
        "    at charge (/app/src/pay.js:10:3)\n"
        "    at next (/app/src/\x00router.js:1:1)\n"
        f"{DAY} 08:01:00 ER\x00ROR not an event\n"
        f"{DAY} 08:02:00 INFO done\n"
    )
    path = tmp_path / "app.log"
    path.write_text(text)
    parsed = parse_app_log(path, "text", "api-1", TZ, DAY)
    assert parsed.events.column("message").to_pylist() == ["payment failed", "done"]
    assert "\x00" not in parsed.events.column("stack").to_pylist()[0]
    assert (int(parsed.days["lines"].sum()), int(parsed.days["unparsed"].sum())) == (5, 2)


# -- one line limit: 1 MiB, counted with its reason -------------------------------------------


@pytest.mark.parametrize("container", ["plain", "gzip", "not UTF-8"])
def test_a_5_mb_line_is_counted_too_long_and_the_reason_reaches_the_report(tmp_path: Path, container: str) -> None:
    """A valid request line of 5 MB is over the one line limit: it is counted unparsed and
    too long (in `log_files`, the ingest table and a finding that states the limit), whichever
    way the file is read (DuckDB directly, or LogReader's clean copy for bytes not UTF-8)."""
    params_path = write_params(tmp_path)
    lines = [access_line(i) for i in range(200)]  # one line in 201: under the unparsed share that warns
    huge = access_line(200, url="/api/search?q=" + "a" * (5 << 20))
    if container == "not UTF-8":
        lines[3] = lines[3].replace("/api/", "/caf\udce9/")  # a Latin-1 byte: the clean-copy path
    data = ("\n".join(lines[:100] + [huge] + lines[100:]) + "\n").encode("utf-8", "surrogateescape")
    name = "access.log.1.gz" if container == "gzip" else "access.log"
    (tmp_path / "logs" / name).write_bytes(gzip.compress(data) if container == "gzip" else data)
    ingest_access_logs(load_params(params_path))
    (row,) = log_file_rows(tmp_path)
    assert (row["lines"], row["parsed"], row["unparsed"], row["too_long"]) == (201, 200, 1, 1)
    assert row["samples"][0].startswith("[over the 1 MiB line limit] 10.0.0.4 - - [")
    table = log_files(open_review(params_path, DAY), "access")
    assert table["too_long"].tolist() == [1]  # the report's ingest table
    (finding,) = unparsed_findings(table, LogThresholds(), "access")
    assert finding.check == "logs.unparsed" and finding.severity is Severity.info
    assert finding.title == f"1 line of {name} (api-1) over the 1 MiB line limit not parsed"
    assert finding.evidence["line_limit_bytes"] == MAX_LINE_BYTES


def test_a_line_under_the_limit_is_parsed_even_when_only_the_exact_parser_can(tmp_path: Path) -> None:
    """A 900 KB request line with a quote inside its user agent: the fast path cannot vouch for
    it, the exact parser reads it (it used to skip lines over 32 KiB: silently unparsed)."""
    params = load_params(write_params(tmp_path))
    long = access_line(1, url="/api/search?q=" + "b" * 900_000, ua='Mozilla "quoted" agent')
    (tmp_path / "logs" / "access.log").write_text(access_line(0) + "\n" + long + "\n")
    ingest_access_logs(params)
    (row,) = log_file_rows(tmp_path)
    assert (row["parsed"], row["unparsed"], row["too_long"]) == (2, 0, 0)
    assert max(len(str(url)) for _, url, _, _ in stored_requests(tmp_path)) > 900_000


def test_an_app_log_line_over_the_limit_is_counted_too_long(tmp_path: Path) -> None:
    stamp = (T0 + dt.timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    rows = [
        {
            "level": "error",
            "message": "fits",
            "timestamp": stamp,
            "stack": "Error: x\n" + "    at f (/app/a.js:1:1)\n" * 40_000,
        },
        {"level": "error", "message": "m" * (5 << 20), "timestamp": stamp},
        {"level": "info", "message": "after", "timestamp": stamp},
    ]
    (tmp_path / "logs" / "api").mkdir(parents=True)
    (tmp_path / "logs" / "api" / "app.log").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    params = tmp_path / "params.yaml"
    params.write_text(
        f"environment: test\ntimezone: {TZ}\nstore: store\noutputs: out\nbaseline_days: 2\n"
        "logs:\n  app:\n    - {host: api-1, paths: [logs/api/], format: json}\n",
        encoding="utf-8",
    )
    review = open_review(params, DAY)
    assert pull_app_logs(review).rows == 2
    table = log_files(review, "app")
    assert table[["lines", "parsed", "unparsed", "too_long"]].values.tolist() == [[3, 2, 1, 1]]
    assert table["samples"][0][0].startswith("[over the 1 MiB line limit] {")


def test_a_store_written_before_too_long_existed_still_reads(tmp_path: Path) -> None:
    params_path = write_params(tmp_path)
    review = open_review(params_path, DAY)
    store = Store(tmp_path / "store")
    old_schema = pa.schema([f for f in LOG_FILES_SCHEMA if f.name != "too_long"])
    old = {"path": "/l/old.log", "host": "api-1", "day": DAY, "lines": 10, "parsed": 8, "unparsed": 2, "samples": ["x"]}
    store.write_part(LOG_FILES, DAY, "old", pa.Table.from_pylist([old | {"kind": "access"}], schema=old_schema))
    only_old = log_files(review, "access")  # no part has the column
    (finding,) = unparsed_findings(only_old, LogThresholds(), "access")
    assert finding.title == "20% of the lines of old.log (api-1) could not be parsed"
    new = {"path": "/l/new.log", "host": "api-1", "day": DAY, "lines": 10, "parsed": 9, "unparsed": 1, "too_long": 1}
    new |= {"samples": ["[over the 1 MiB line limit] x"]}
    store.write_part(LOG_FILES, DAY, "new", pa.Table.from_pylist([new | {"kind": "access"}], schema=LOG_FILES_SCHEMA))
    table = log_files(review, "access")
    assert table["path"].tolist() == ["/l/new.log", "/l/old.log"]
    assert table["too_long"].fillna(0).tolist() == [1, 0]
    assert [f.title for f in unparsed_findings(table, LogThresholds(), "access")] == [
        "10% of the lines of new.log (api-1) could not be parsed (1 of them over the 1 MiB line limit)",
        "20% of the lines of old.log (api-1) could not be parsed",
    ]
