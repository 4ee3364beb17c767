"""Morgan formats: every token, every predefined format, quotes inside fields, and the
vectorised DuckDB parse agreeing with the exact Python parser line for line."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import duckdb
import pytest

from opsreview.logs.access.morgan import PREDEFINED_FORMATS, FormatError, _match_pieces, compile_format

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 29, 10, 5, 7, tzinfo=UTC)


def fast_parse(fmt_text: str, lines: list[str]) -> list[tuple[bool, dict[str, Any]]]:
    """(ok, columns) per line from the DuckDB fast path."""
    fmt = compile_format(fmt_text)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE t (i INTEGER, line VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(lines)))
    rel = con.sql(fmt.sql_query("t", keep=["i"]) + " ORDER BY i")
    names = rel.columns
    out = []
    for row in rel.fetchall():
        data = dict(zip(names, row, strict=True))
        if data["ts"] is not None:
            data["ts"] = data["ts"].astimezone(UTC)
        out.append((bool(data.pop("ok")), {k: v for k, v in data.items() if k not in ("i", "line")}))
    return out


# (format, line, expected columns) - lines as morgan writes them (see morgan's index.js)
TOKEN_CASES: list[tuple[str, str, dict[str, Any]]] = [
    (":date[clf]", "29/Mar/2026:10:05:07 +0000", {"ts": T0}),
    (":date[clf]", "29/Mar/2026:12:05:07 +0200", {"ts": T0}),
    (":date[iso]", "2026-03-29T10:05:07.000Z", {"ts": T0}),
    (":date[web]", "Sun, 29 Mar 2026 10:05:07 GMT", {"ts": T0}),
    (":date", "Sun, 29 Mar 2026 10:05:07 GMT", {"ts": T0}),  # morgan's default is web
    (":method", "PATCH", {"method": "PATCH"}),
    (":url", "/api/x?y=1&z=%22", {"url": "/api/x?y=1&z=%22"}),
    (":http-version", "1.1", {"http_version": "1.1"}),
    (":status", "404", {"status": 404}),
    (":status", "-", {"status": None}),  # headers never sent
    (":res[content-length]", "5120", {"bytes": 5120}),
    (":res[content-length]", "-", {"bytes": None}),
    (":response-time", "12.345", {"response_time_ms": 12.345}),
    (":response-time[0]", "12", {"response_time_ms": 12.0}),
    (":response-time[1]", "-", {"response_time_ms": None}),
    (":total-time[2]", "13.40", {"total_time_ms": 13.4}),
    (":remote-addr", "::ffff:10.1.2.3", {"remote_addr": "::ffff:10.1.2.3"}),
    (":remote-user", "alice", {"remote_user": "alice"}),
    (":remote-user", "-", {"remote_user": None}),
    ('":referrer"', '"https://shop.example/cart?a=1"', {"referrer": "https://shop.example/cart?a=1"}),
    ('":user-agent"', '"Mozilla/5.0 (X11; Linux x86_64)"', {"user_agent": "Mozilla/5.0 (X11; Linux x86_64)"}),
    ('":req[user-agent]"', '"curl/8.5.0"', {"user_agent": "curl/8.5.0"}),
    ('":req[Referer]"', '"http://a/"', {"referrer": "http://a/"}),
    (":req[x-request-id] :status", "abc-123 200", {"status": 200}),  # other headers: parsed, not stored
    (":id :method", "7f3a GET", {"method": "GET"}),  # an app's own token
]


@pytest.mark.parametrize(("fmt", "line", "expected"), TOKEN_CASES)
def test_every_token_both_parsers(fmt: str, line: str, expected: dict[str, Any]) -> None:
    exact = compile_format(fmt).parse_line(line)
    assert exact is not None
    for column, value in expected.items():
        assert exact[column] == value
    ok, fast = fast_parse(fmt, [line])[0]
    assert ok
    for column, value in expected.items():
        assert fast[column] == value


COMBINED_RT = (
    '203.0.113.9 - bob [29/Mar/2026:10:05:07 +0000] "GET /api/products/42?sort=asc HTTP/1.1" 200 1234 '
    '"https://shop.example/" "Mozilla/5.0 (Windows NT 10.0)" 35.120 ms'
)
PREDEFINED_LINES = {
    "combined": '203.0.113.9 - - [29/Mar/2026:10:05:07 +0000] "GET /a HTTP/1.1" 200 12 "-" "curl/8"',
    "common": '203.0.113.9 - - [29/Mar/2026:10:05:07 +0000] "GET /a HTTP/1.1" 200 12',
    "default": '203.0.113.9 - - [Sun, 29 Mar 2026 10:05:07 GMT] "GET /a HTTP/1.1" 200 12 "-" "curl/8"',
    "short": "203.0.113.9 - GET /a HTTP/1.1 200 12 - 3.210 ms",
    "tiny": "GET /a 200 12 - 3.210 ms",
    "dev": "\x1b[0mGET /a \x1b[32m200\x1b[0m 3.210 ms - 12\x1b[0m",
    "combined_rt": COMBINED_RT,
}


@pytest.mark.parametrize("name", sorted(PREDEFINED_LINES))
def test_predefined_formats(name: str) -> None:
    assert name in PREDEFINED_FORMATS
    fmt = compile_format(name)
    row = fmt.parse_line(PREDEFINED_LINES[name])
    assert row is not None
    assert row["method"] == "GET"
    assert row["url"] in ("/a", "/api/products/42?sort=asc")
    assert row["status"] == 200
    assert (row["ts"] == T0) is fmt.has_date
    assert fmt.has_response_time is ("response_time_ms" in fmt.columns)
    ok, fast = fast_parse(name, [PREDEFINED_LINES[name]])[0]
    assert ok and fast == row


def test_dev_format_any_colour_and_no_colour() -> None:
    lines = [
        "\x1b[0mPOST /login \x1b[33m401\x1b[0m 1.500 ms - 20\x1b[0m",
        "\x1b[0mGET /boom \x1b[31m500\x1b[0m 9.000 ms - -\x1b[0m",
        "\x1b[0mGET /x \x1b[0m-\x1b[0m - ms - -\x1b[0m",  # no response: status '-', no time
        "GET /plain 200 1.000 ms - 5",  # colours stripped by whatever collected the log
    ]
    exact = [compile_format("dev").parse_line(line) for line in lines]
    assert [r["status"] if r else "fail" for r in exact] == [401, 500, None, 200]
    assert [r["response_time_ms"] if r else "fail" for r in exact] == [1.5, 9.0, None, 1.0]
    fast = fast_parse("dev", lines)
    assert all(ok for ok, _ in fast)
    assert [f for _, f in fast] == exact


def test_custom_format_string_pasted_from_the_app() -> None:
    fmt = ':remote-addr [:date[iso]] ":method :url" :status :res[content-length] :response-time[1]ms :total-time[1]ms'
    line = '10.0.0.7 [2026-03-29T10:05:07.000Z] "DELETE /api/orders/5" 204 - 4.2ms 4.9ms'
    row = compile_format(fmt).parse_line(line)
    assert row is not None
    assert (row["ts"], row["method"], row["status"], row["bytes"]) == (T0, "DELETE", 204, None)
    assert (row["response_time_ms"], row["total_time_ms"]) == (4.2, 4.9)
    assert fast_parse(fmt, [line]) == [(True, row)]


@pytest.mark.parametrize(
    ("line", "user_agent", "url", "referrer"),
    [
        (
            '1.2.3.4 - - [29/Mar/2026:10:05:07 +0000] "GET /a HTTP/1.1" 200 5 "-" "Mozilla "quoted" agent" 1.000 ms',
            'Mozilla "quoted" agent',
            "/a",
            None,
        ),
        (
            '1.2.3.4 - - [29/Mar/2026:10:05:07 +0000] "GET /a HTTP/1.1" 200 5 "-" "evil\\" "x" "y" 1.000 ms',
            'evil\\" "x" "y',
            "/a",
            None,
        ),
        (
            '1.2.3.4 - - [29/Mar/2026:10:05:07 +0000] "GET /search?q="x" HTTP/1.1" 200 5 "-" "ua" 1.000 ms',
            "ua",
            '/search?q="x"',
            None,
        ),
        (
            '1.2.3.4 - - [29/Mar/2026:10:05:07 +0000] "GET /a HTTP/1.1" 200 5 "http://r/?q="1"" "ua" 1.000 ms',
            "ua",
            "/a",
            'http://r/?q="1"',
        ),
        ('1.2.3.4 - - [29/Mar/2026:10:05:07 +0000] "GET /a HTTP/1.1" 200 5 "-" """ 1.000 ms', '"', "/a", None),
    ],
)
def test_quotes_inside_fields(line: str, user_agent: str, url: str, referrer: str | None) -> None:
    row = compile_format("combined_rt").parse_line(line)
    assert row is not None
    assert (row["user_agent"], row["url"], row["referrer"]) == (user_agent, url, referrer)
    assert row["response_time_ms"] == 1.0
    ok, _ = fast_parse("combined_rt", [line])[0]
    assert not ok  # the fast path must hand such lines to the exact parser, never guess


def test_space_in_remote_user_goes_to_exact_parser() -> None:
    line = COMBINED_RT.replace(" bob ", " bob smith ")
    row = compile_format("combined_rt").parse_line(line)
    assert row is not None and row["remote_user"] == "bob smith"
    assert fast_parse("combined_rt", [line])[0][0] is False


BAD_LINES = [
    "",
    "garbage",
    "\x00\x01\x02 binary",
    COMBINED_RT[:60],  # truncated
    COMBINED_RT.replace("200", "2000"),
    COMBINED_RT.replace("200", "OK!"),
    COMBINED_RT.replace("35.120", "fast"),
    COMBINED_RT.replace("35.120", "1e3"),
    COMBINED_RT.replace("35.120", ".5"),
    COMBINED_RT.replace(" ms", " s"),
    COMBINED_RT.replace("Mar", "Foo"),
    COMBINED_RT.replace("29/Mar", "31/Feb"),
    COMBINED_RT.replace("29/Mar/2026", "9/Mar/20260"),  # same width, not the shape
    COMBINED_RT.replace("+0000", "+00:0"),
    COMBINED_RT.replace("[29/", "[ 29/"),
    COMBINED_RT.replace(":05:", ":0a:"),
    COMBINED_RT.replace("HTTP/1.1", "HTTP/x"),
    COMBINED_RT.replace("1234", "-12"),
    COMBINED_RT + " trailing",
    '{"method":"GET","url":"/a","status":200}',
]


@pytest.mark.parametrize("line", BAD_LINES)
def test_lines_that_are_not_the_format_fail_in_both_parsers(line: str) -> None:
    assert compile_format("combined_rt").parse_line(line) is None
    assert fast_parse("combined_rt", [line])[0][0] is False


def test_fast_path_agrees_with_exact_parser_on_a_mixed_table() -> None:
    lines = [COMBINED_RT, *BAD_LINES, COMBINED_RT.replace("bob", "-").replace('"https://shop.example/"', '"-"')]
    lines += [
        COMBINED_RT.replace("GET", "OPTIONS").replace("/api/products/42?sort=asc", "*"),
        COMBINED_RT.replace("+0000", "-0930"),
        COMBINED_RT.replace("1.1", "2.0"),
    ]
    fmt = compile_format("combined_rt")
    for line, (ok, fast) in zip(lines, fast_parse("combined_rt", lines), strict=True):
        if ok:
            assert fast == fmt.parse_line(line), line


def test_crlf_line_ending() -> None:
    assert compile_format("combined_rt").parse_line(COMBINED_RT + "\r\n") is not None


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("just text", "no morgan tokens"),
        ("", "empty format"),
        (":date[local] :method", "not supported"),
        (":response-time[x]", "digits must be a number"),
    ],
)
def test_bad_formats(fmt: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        compile_format(fmt)


def test_long_hostile_lines_parse_exactly() -> None:
    """Lines past the regex's length go to the linear matcher; a backtracking regex would run
    for minutes on these (a user agent full of quotes, a URL of repeated log fragments)."""
    fmt = compile_format("combined_rt")
    head = '1.2.3.4 - - [29/Mar/2026:10:05:07 +0000] "GET /a HTTP/1.1" 200 5 "-" "'
    agent = '" "' * 5000
    row = fmt.parse_line(head + agent + '" 1.500 ms')
    assert row is not None and row["user_agent"] == agent and row["response_time_ms"] == 1.5
    fragment = '1.2.3.4 - - [29/Mar/2026:10:05:07 +0000] "GET /a HTTP/1.1" 200 5 "-" "x y" '
    row = fmt.parse_line(fragment * 300 + "2.000 ms")
    assert row is not None and row["remote_addr"] == "1.2.3.4" and row["url"] == "/a"
    assert row["referrer"] is None and row["user_agent"] == ('x y" ' + fragment * 299)[: -len('" ')]
    for broken in (fragment * 300 + "2.000 mx", fragment * 300, head + agent):
        assert fmt.parse_line(broken) is None


_FUZZ_FORMATS = [
    *sorted(PREDEFINED_FORMATS),
    ':remote-addr [:date[iso]] ":method :url" :status :response-time[3] ms :req[x-id]',
    ":method:url :status",
    ":date[web] :remote-user :user-agent :total-time[2]",
    '":referrer" ":user-agent" :status',
]
_FUZZ_BITS = ['"', " ", "-", "ms", "1", "200", "1.5", "GET", "/a", "HTTP/1.1", "[", "]", '"-"', ' "x y" ', "a", '""']
_FUZZ_BITS += ["10/Oct/2026:13:55:36 +0000", "Tue, 10 Oct 2026 13:55:36 GMT", "2026-03-10T12:00:00.123Z", "12", "5.25"]
_FUZZ_VALUES = {
    "clf": "10/Oct/2026:13:55:36 +0000",
    "web": "Tue, 10 Oct 2026 13:55:36 GMT",
    "iso": "2026-03-10T12:00:00.5+01:00",
    "status": "200",
    "int": "512",
    "number": "1.25",
    "version": "1.1",
    "word": "GET",
    "free": "x",
}


@pytest.mark.parametrize("fmt", _FUZZ_FORMATS)
def test_linear_matcher_agrees_with_the_regex(fmt: str) -> None:
    """The linear matcher takes the same values as the regex - free text lazy, other shapes
    greedy - on well-formed lines mutated with quotes, spaces, dashes and stray fields."""
    compiled = compile_format(fmt)
    rng = random.Random(fmt)
    matched = 0
    for _ in range(3000):
        parts = []
        for piece in compiled.pieces:
            if isinstance(piece, str):
                parts.append(piece)
                continue
            value = _FUZZ_VALUES[piece.shape]
            if rng.random() < 0.5 and (piece.shape in ("free", "word") or rng.random() < 0.3):
                value = "".join(rng.choice(_FUZZ_BITS) for _ in range(rng.randint(0, 4)))
            parts.append("-" if rng.random() < 0.1 else value)
        line = "".join(parts)
        if rng.random() < 0.3:
            cut = rng.randint(0, len(line))
            line = line[:cut] + rng.choice(_FUZZ_BITS) + line[cut:]
        if rng.random() < 0.1:
            line = line[: rng.randint(0, len(line))]
        match = compiled.regex.match(line)
        expected = None if match is None else [match.group(f"t{i}") for i in range(len(compiled.tokens))]
        assert _match_pieces(compiled.pieces, line) == expected, line
        matched += expected is not None
    assert 300 < matched < 2700  # both matching and failing lines were exercised
