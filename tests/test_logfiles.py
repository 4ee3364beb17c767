"""Finding and reading log files: globs, folders, gzip (multi-member, corrupt, truncated),
encodings, line endings, long lines, empty and missing files."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import zlib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from opsreview.logs.files import LogReader, expand_paths, is_gzip, nominal_day

LINES = [f"line {i} " + "x" * (i % 50) for i in range(20_000)]


def write_gz(path: Path, lines: list[str]) -> Path:
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def test_plain_file_with_crlf_blank_lines_and_no_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"one\r\ntwo\n\n   \r\nthree\r\nfour")
    reader = LogReader(path)
    assert list(reader) == ["one", "two", "three", "four"]
    assert (reader.lines, reader.error) == (4, None)


def test_invalid_utf8_is_replaced_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"ok \xc3\xa9\nbad \xff\xfe end\nok2\n")
    reader = LogReader(path)
    assert list(reader) == ["ok é", "bad \ufffd\ufffd end", "ok2"]
    assert reader.invalid_utf8_lines == 1


def test_binary_garbage_never_raises(tmp_path: Path) -> None:
    path = tmp_path / "garbage.bin"
    path.write_bytes(bytes(range(256)) * 50)
    reader = LogReader(path)
    lines = list(reader)
    assert reader.error is None
    assert len(lines) == 50 + 1  # one \n per block of 256 bytes, plus the unterminated tail


def test_line_over_64_kib_is_kept_whole_and_over_limit_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    long = "u" * (70 * 1024)
    path.write_text(f"short\n{long}\nafter\n")
    assert [len(x) for x in LogReader(path)] == [5, len(long), 5]
    reader = LogReader(path, max_line_bytes=1000)
    assert [len(x) for x in reader] == [5, 1000, 5]
    assert reader.long_lines == 1


def test_huge_line_without_newline_does_not_hold_everything(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"a" * (3 << 20) + b"\nnext\n")
    reader = LogReader(path, max_line_bytes=1024)
    lines = list(reader)
    assert lines[-1] == "next"
    assert all(len(x) <= 1024 for x in lines)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    reader = LogReader(empty)
    assert (list(reader), reader.error) == ([], None)
    missing = LogReader(tmp_path / "missing.log")
    assert list(missing) == []
    assert missing.error is not None and "missing.log: cannot read" in missing.error


def test_gzip_recognised_by_content_not_name(tmp_path: Path) -> None:
    path = write_gz(tmp_path / "access.log.1", LINES[:10])  # rotated name without .gz
    assert is_gzip(path)
    assert list(LogReader(path)) == LINES[:10]


def test_concatenated_gzip_members(tmp_path: Path) -> None:
    path = tmp_path / "a.log.gz"
    path.write_bytes(gzip.compress(b"a\nb\n") + gzip.compress(b"c\n") + gzip.compress(b"d"))
    reader = LogReader(path)
    assert list(reader) == ["a", "b", "c", "d"]
    assert reader.error is None


def stored_blocks(data: bytes) -> list[int]:
    """Offsets of the block headers of a gzip member made with compresslevel=0 (stored blocks)."""
    offsets, pos = [], 10
    while True:
        offsets.append(pos)
        if data[pos] & 1:  # BFINAL
            return offsets
        pos += 5 + int.from_bytes(data[pos + 1 : pos + 3], "little")


def test_corrupt_gzip_keeps_lines_before_and_names_offset(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(("\n".join(LINES) + "\n").encode(), compresslevel=0))
    at = stored_blocks(bytes(data))[len(stored_blocks(bytes(data))) // 2]
    data[at + 3] ^= 0xFF  # NLEN no longer the complement of LEN: "invalid stored block lengths"
    path = tmp_path / "a.log.gz"
    path.write_bytes(bytes(data))
    reader = LogReader(path)
    got = list(reader)
    assert reader.error is not None
    assert str(path) in reader.error
    offset = int(reader.error.split(" at byte ")[1].split(" ")[0].rstrip(";"))
    assert 0 < offset <= len(data)
    # the lines before the damage are intact
    good = [line for line, original in zip(got, LINES, strict=False) if line == original]
    assert len(good) >= len(LINES) // 4
    assert got[: len(good)] == LINES[: len(good)]


def test_flipped_bits_are_a_checksum_mismatch_not_a_cut(tmp_path: Path) -> None:
    """Bits flipped inside a deflate block can still decode (to wrong text): zlib finds out
    only at the member's CRC-32, at its end. The error says so instead of pretending the
    damage is at the end; nothing tells the intact lines from the garbled, so none is kept."""
    text = ("\n".join(LINES) + "\n").encode()
    data = bytearray(gzip.compress(text, compresslevel=0))  # stored blocks: a flip changes one byte
    at = len(data) // 2
    data[at] ^= 0x20
    path = tmp_path / "a.log.gz"
    path.write_bytes(bytes(data))
    reader = LogReader(path)
    got = list(reader)
    assert (
        reader.error is not None and "checksum mismatch" in reader.error and "damaged somewhere before" in reader.error
    )
    offset = int(reader.error.split(" at byte ")[1].split(" ")[0])
    assert len(data) - 8 <= offset <= len(data)  # the trailer: where zlib noticed
    assert got == [] and f"the {len(LINES)} lines it decoded to were dropped" in reader.error


def test_structural_damage_names_where_decoding_stopped(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(("\n".join(LINES) + "\n").encode(), compresslevel=0))
    data[10] = 0x07  # the first block header: BTYPE 11 (reserved) -> "invalid block type"
    path = tmp_path / "a.log.gz"
    path.write_bytes(bytes(data))
    reader = LogReader(path)
    assert list(reader) == []
    assert reader.error is not None and "corrupt gzip data at byte 10;" in reader.error


def test_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress(("\n".join(LINES) + "\n").encode())
    path = tmp_path / "a.log.gz"
    path.write_bytes(data[: len(data) // 3])
    reader = LogReader(path)
    got = list(reader)
    assert reader.error is not None and "truncated" in reader.error
    assert len(got) > 100
    assert got[:-1] == LINES[: len(got) - 1]  # the last line may be cut


def test_trailing_garbage_after_gzip(tmp_path: Path) -> None:
    path = tmp_path / "a.log.gz"
    path.write_bytes(gzip.compress(b"a\nb\n") + b"NOT GZIP")
    reader = LogReader(path)
    assert list(reader) == ["a", "b"]
    assert reader.error is not None and "trailing data" in reader.error


def test_zlib_error_message_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(200))
    reader = LogReader(path)
    list(reader)
    assert reader.error is not None and "\n" not in reader.error
    with pytest.raises(zlib.error):  # sanity: the data really is broken
        gzip.decompress(path.read_bytes())


def test_expand_paths_files_globs_folders(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("access.log", "access.log.1", "access.log.2.gz", ".hidden.log", "x.swp"):
        (logs / name).write_text("x\n")
    (logs / "sub").mkdir()
    files, problems = expand_paths([str(logs), str(logs / "access.log*"), str(tmp_path / "nope.log"), "/no/*.log"])
    assert [f.path.name for f in files] == ["access.log", "access.log.1", "access.log.2.gz"]
    assert problems == [f"{tmp_path / 'nope.log'}: no such file or folder", "/no/*.log: no file matches"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert expand_paths([empty])[1] == [f"{empty}: folder holds no log files"]


def test_fingerprint_changes_when_file_grows(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("a\n")
    before = expand_paths([path])[0][0].fingerprint
    with path.open("a") as fh:
        fh.write("b\n")
    assert expand_paths([path])[0][0].fingerprint != before


def test_nominal_day_from_name_then_mtime(tmp_path: Path) -> None:
    named = tmp_path / "access-2026-03-29.log.gz"
    compact = tmp_path / "app.20261025.log"
    plain = tmp_path / "access.log"
    for p in (named, compact, plain):
        p.write_text("x\n")
    stamp = dt.datetime(2026, 7, 1, 22, 30, tzinfo=dt.UTC).timestamp()
    os.utime(plain, (stamp, stamp))
    files = {f.path.name: f for f in expand_paths([tmp_path])[0]}
    berlin = ZoneInfo("Europe/Berlin")
    assert nominal_day(files[named.name], berlin) == dt.date(2026, 3, 29)
    assert nominal_day(files[compact.name], berlin) == dt.date(2026, 10, 25)
    assert nominal_day(files[plain.name], berlin) == dt.date(2026, 7, 2)  # 00:30 in Berlin
    assert nominal_day(files[plain.name], dt.UTC) == dt.date(2026, 7, 1)
