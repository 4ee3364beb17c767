"""Finding and reading log files: files, globs and folders; rotated and gzip files alike.

Shared by the access-log and application-log sources. Reading never raises for bad input:

- gzip is recognised by its magic bytes (not the name); concatenated gzip members are read
  one after the other, each checked first (:mod:`opsreview.logs.gzipcheck`): a file cut short
  keeps every line before the cut, a member whose checksum fails gives no line, corrupt data
  keeps the lines decoded well before the point where it was found; :attr:`LogReader.error`
  names the file, the damage, its byte offset and the lines it cost;
- bytes that are not UTF-8 become U+FFFD (counted in :attr:`LogReader.invalid_utf8_lines`);
- ``\\r\\n`` endings lose the ``\\r``; blank lines are skipped; lines longer than
  ``max_line_bytes`` (:data:`MAX_LINE_BYTES`, 1 MiB, the one limit of every log parser) are
  cut to it, counted in :attr:`LogReader.long_lines`, their numbers kept in
  :attr:`LogReader.long_line_numbers` (the parsers count them unparsed, as too long);
- a missing or unreadable file yields no lines and sets :attr:`LogReader.error`.

Typical use::

    files, problems = expand_paths(source.resolved_paths(params.source_file.parent))
    for info in files:
        reader = LogReader(info.path)
        for line in reader:
            ...
        if reader.error: ...   # a finding, not a crash
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import io
import logging
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from opsreview.logs.gzipcheck import GZIP_MAGIC, GzipCheck, check_gzip, member_blocks
from opsreview.store import part_key

log = logging.getLogger("opsreview")

__all__ = [
    "GZIP_MAGIC",
    "MAX_LINE_BYTES",
    "GzipCheck",
    "LogFileInfo",
    "LogReader",
    "check_gzip",
    "expand_paths",
    "is_gzip",
    "nominal_day",
]

READ_BLOCK = 1 << 20
# The one line-length limit of every log parser: a longer line is not parsed but counted
# (`log_files.too_long`). Node's HTTP parser caps a request's headers at 16 KiB, so no morgan
# line comes near it; a JSON error line with a long stack and nested causes fits.
MAX_LINE_BYTES = 1 << 20
_GLOB_CHARS = re.compile(r"[*?\[]")
_DATE_IN_NAME = re.compile(r"(?<!\d)(20\d\d)-?(0[1-9]|1[0-2])-?(0[1-9]|[12]\d|3[01])(?!\d)")


@dataclass(frozen=True)
class LogFileInfo:
    """A log file found on disk, with what identifies its current content cheaply."""

    path: Path
    size: int
    mtime_ns: int

    @property
    def fingerprint(self) -> str:
        """Changes whenever the file is rewritten, appended to, or replaced."""
        return f"{self.size}:{self.mtime_ns}:{self.path}"

    @property
    def mtime(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.mtime_ns / 1e9, dt.UTC)

    @property
    def compressed(self) -> bool:
        return is_gzip(self.path)


def is_gzip(path: str | Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == GZIP_MAGIC
    except OSError:
        return False


def _is_log_candidate(path: Path) -> bool:
    """Folder members worth reading: regular, not hidden, not obviously something else."""
    name = path.name
    return not name.startswith(".") and path.is_file() and not name.endswith((".swp", ".tmp", ".lock", ".pid"))


def expand_paths(patterns: Sequence[str | Path]) -> tuple[list[LogFileInfo], list[str]]:
    """Files named by ``patterns`` (files, globs, folders - a folder means its files, not
    recursive), sorted and without duplicates, plus one problem line per pattern that
    matched nothing or could not be read."""
    found: dict[Path, LogFileInfo] = {}
    problems: list[str] = []
    for pattern in patterns:
        text = os.path.expanduser(str(pattern))
        if _GLOB_CHARS.search(text):
            candidates = [Path(p) for p in sorted(glob.glob(text, recursive=True))]
            candidates = [p for p in candidates if _is_log_candidate(p)]
            if not candidates:
                problems.append(f"{text}: no file matches")
        else:
            path = Path(text)
            if path.is_dir():
                try:
                    candidates = sorted(p for p in path.iterdir() if _is_log_candidate(p))
                except OSError as exc:
                    problems.append(f"{text}: cannot list folder ({exc.strerror})")
                    continue
                if not candidates:
                    problems.append(f"{text}: folder holds no log files")
            elif path.exists():
                candidates = [path]
            else:
                problems.append(f"{text}: no such file or folder")
                continue
        for candidate in candidates:
            try:
                stat = candidate.stat()
            except OSError as exc:
                problems.append(f"{candidate}: cannot read ({exc.strerror})")
                continue
            resolved = candidate.resolve()
            found.setdefault(resolved, LogFileInfo(resolved, stat.st_size, stat.st_mtime_ns))
    return [found[p] for p in sorted(found)], problems


def nominal_day(info: LogFileInfo, tz: dt.tzinfo) -> dt.date:
    """The day a file is about when its lines carry no date: a date in its name
    (``access-2026-03-29.log``, ``app.20260329.log.gz``), else its modification day in ``tz``."""
    match = _DATE_IN_NAME.search(info.path.name)
    if match:
        try:
            return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            pass
    return info.mtime.astimezone(tz).date()


class LogReader:
    """Iterate the text lines of one log file (plain or gzip); see the module docstring.

    ``gzip_check``: the file's :func:`~opsreview.logs.gzipcheck.check_gzip`, when the caller
    has it already (otherwise a gzip file is checked before its first line is read). ``data``:
    the file's bytes, when they were read already (the Spark pull's executors get them from
    Spark's ``binaryFile`` source); they are then read exactly as the file would be."""

    def __init__(
        self,
        path: str | Path,
        max_line_bytes: int = MAX_LINE_BYTES,
        gzip_check: GzipCheck | None = None,
        data: bytes | None = None,
    ) -> None:
        self.path = Path(path)
        self.data = data
        self.max_line_bytes = max_line_bytes
        self.gzip_check = gzip_check
        self.error: str | None = None
        self.lines = 0
        self.invalid_utf8_lines = 0
        self.long_lines = 0
        self.long_line_numbers: list[int] = []  # 0-based, among the lines yielded
        self._verify = True

    def blocks(self) -> Iterator[bytes]:
        """Raw (decompressed) bytes of the file in blocks; sets :attr:`error` on damage."""
        try:
            fh: BinaryIO = io.BytesIO(self.data) if self.data is not None else open(self.path, "rb")  # noqa: SIM115 - closed by the `with` below
        except OSError as exc:
            self.error = f"{self.path}: cannot read ({exc.strerror})"
            return
        with fh:
            try:
                head = fh.read(2)
                fh.seek(0)
                if head != GZIP_MAGIC:
                    while block := fh.read(READ_BLOCK):
                        yield block
                elif not self._verify:
                    yield from _unchecked_gzip(fh)
                else:
                    check = self.gzip_check or check_gzip(self.path, self.data)
                    self.error = check.error
                    yield from member_blocks(fh, check, READ_BLOCK)
            except OSError as exc:
                self.error = f"{self.path}: read failed ({exc.strerror})"

    def __iter__(self) -> Iterator[str]:
        carry = b""
        skipping = False  # inside the rest of an over-long line
        for block in self.blocks():
            data = carry + block if carry else block
            cut = data.rfind(b"\n")
            if cut == -1:
                carry = data
                if len(carry) > 4 * self.max_line_bytes:  # no newline for a long time: emit a piece
                    if not skipping:
                        yield from self._emit([carry])
                        skipping = True
                    carry = b""
                continue
            carry = data[cut + 1 :]
            pieces = data[:cut].split(b"\n")
            if skipping:
                pieces = pieces[1:]
                skipping = False
            yield from self._emit(pieces)
        if carry and not skipping:
            yield from self._emit([carry])

    def _emit(self, raw_lines: list[bytes]) -> Iterator[str]:
        for raw in raw_lines:
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if not raw.strip():
                continue
            if len(raw) > self.max_line_bytes:
                # cut; a character the cut splits is no invalid UTF-8 of the file's
                line = raw[: self.max_line_bytes].decode("utf-8", errors="replace")
                self.long_line_numbers.append(self.lines)
                self.long_lines += 1
            else:
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    line = raw.decode("utf-8", errors="replace")
                    self.invalid_utf8_lines += 1
            self.lines += 1
            yield line

    def copy_to(self, target: BinaryIO) -> int:
        """Write the file's clean text (UTF-8, ``\\n`` endings) to ``target``; returns lines."""
        batch: list[str] = []
        for line in self:
            batch.append(line)
            if len(batch) >= 65536:
                target.write(("\n".join(batch) + "\n").encode("utf-8"))
                batch.clear()
        if batch:
            target.write(("\n".join(batch) + "\n").encode("utf-8"))
        return self.lines

    def first_lines(self, n: int = 1) -> list[str]:
        """The first ``n`` non-blank lines (reads only as much as needed: a gzip file is not
        checked first, so a damaged one may give a damaged line)."""
        out: list[str] = []
        self._verify = False
        try:
            for line in self:
                out.append(line)
                if len(out) >= n:
                    break
        finally:
            self._verify = True
        return out


def _unchecked_gzip(fh: BinaryIO) -> Iterator[bytes]:
    """Decoded bytes of a gzip stream from its start, without waiting for its checksums;
    stops at the first problem."""
    inflater = zlib.decompressobj(31)
    pending = b""
    while data := pending or fh.read(64 * 1024):
        pending = b""
        try:
            out = inflater.decompress(data)
        except zlib.error:
            return
        if out:
            yield out
        if inflater.eof:
            pending = inflater.unused_data
            if pending and not pending.startswith(GZIP_MAGIC):
                return
            inflater = zlib.decompressobj(31)


# The `log_files` table: one row per file and day, for the access and application logs alike.
LOG_FILES = "log_files"
LOG_FILES_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("host", pa.string()),
        ("day", pa.date32()),
        ("lines", pa.int64()),
        ("parsed", pa.int64()),
        ("unparsed", pa.int64()),
        ("non_requests", pa.int64()),  # JSON access logs: valid lines that are not requests
        ("too_long", pa.int64()),  # of the unparsed lines, those over MAX_LINE_BYTES
        ("samples", pa.list_(pa.string())),
        ("error", pa.string()),
        ("kind", pa.string()),
        ("format", pa.string()),
        ("part", pa.string()),
        ("fingerprint", pa.string()),
    ]
)


def content_part_key(info: LogFileInfo, host: str, salt: str = "") -> str:
    """Part key from the host and the file's first line (stable across logrotate renames and
    while the file grows); ``salt`` tells apart files whose first lines carry no date."""
    reader = LogReader(info.path, max_line_bytes=4096)
    first = reader.first_lines(1)
    if not first:
        return part_key(str(info.path), host)
    digest = hashlib.sha1((salt + "\n" + first[0]).encode("utf-8", "replace")).hexdigest()
    return part_key(digest, host)


class PartKeys:
    """Part keys of one pull: a key already taken by another file of the pull (two files that
    begin with the same line) gets that file's path mixed in, so neither replaces the other."""

    def __init__(self) -> None:
        self.owners: dict[str, Path] = {}

    def take(self, key: str, path: Path) -> str:
        if self.owners.setdefault(key, path) != path:
            key = part_key(key, str(path))
            self.owners[key] = path
        return key

    def key(self, info: LogFileInfo, host: str, salt: str = "") -> str:
        return self.take(content_part_key(info, host, salt), info.path)
