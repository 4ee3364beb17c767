"""Finding and reading log files: files, globs and folders; rotated and gzip files alike.

Shared by the access-log and application-log sources. Reading never raises for bad input:

- gzip is recognised by its magic bytes (not the name); concatenated gzip members are read
  one after the other;
- a corrupt or truncated gzip stops the file where the damage starts: the lines before it are
  kept and :attr:`LogReader.error` names the file and the compressed byte offset;
- bytes that are not UTF-8 become U+FFFD (counted in :attr:`LogReader.invalid_utf8_lines`);
- ``\\r\\n`` endings lose the ``\\r``; blank lines are skipped; lines longer than
  ``max_line_chars`` are cut to that length (counted in :attr:`LogReader.long_lines`);
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
import logging
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from opsreview.store import part_key

log = logging.getLogger("opsreview")

__all__ = [
    "GZIP_MAGIC",
    "LogFileInfo",
    "LogReader",
    "expand_paths",
    "gzip_damage",
    "is_gzip",
    "nominal_day",
]

GZIP_MAGIC = b"\x1f\x8b"
READ_BLOCK = 1 << 20
DEFAULT_MAX_LINE_CHARS = 1 << 20
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


class _GzipBlocks:
    """Decompressed blocks of a (multi-member) gzip stream; stops cleanly at damage."""

    def __init__(self, fh: BinaryIO, name: str) -> None:
        self.fh = fh
        self.name = name
        self.error: str | None = None

    def __iter__(self) -> Iterator[bytes]:
        inflater = zlib.decompressobj(31)
        consumed = 0  # compressed bytes fed so far, over all members
        pending = b""
        while True:
            block = pending or self.fh.read(READ_BLOCK)
            pending = b""
            if not block:
                break
            checkpoint = inflater.copy()
            try:
                out = inflater.decompress(block)
            except zlib.error as exc:
                good, offset = self._salvage(checkpoint, block, consumed)
                if good:
                    yield good
                if "check" in str(exc):  # "incorrect data check" / "incorrect length check"
                    # the trailer's CRC-32 or size does not match: bits flipped somewhere in the
                    # member, found only at its end; what was decoded is kept (lines that do
                    # not parse are counted unparsed)
                    self.error = (
                        f"{self.name}: gzip checksum mismatch at byte {offset} (the member's end): "
                        "its data is damaged somewhere before; the lines it gave were kept"
                    )
                else:
                    self.error = f"{self.name}: corrupt gzip data at byte {offset}; lines before it were kept"
                return
            if out:
                yield out
            if inflater.eof:
                rest = inflater.unused_data
                consumed += len(block) - len(rest)
                while len(rest) < len(GZIP_MAGIC) and (more := self.fh.read(READ_BLOCK)):
                    rest += more
                if not rest:
                    return
                if not rest.startswith(GZIP_MAGIC):
                    self.error = f"{self.name}: trailing data after the gzip stream at byte {consumed}; ignored"
                    return
                inflater = zlib.decompressobj(31)
                pending = rest
                continue
            consumed += len(block)
        if not inflater.eof:
            self.error = f"{self.name}: gzip stream truncated at byte {consumed}; lines before it were kept"

    @staticmethod
    def _salvage(inflater: zlib._Decompress, block: bytes, consumed: int) -> tuple[bytes, int]:
        """Re-feed the failing block byte by byte to keep every byte before the damage."""
        out = []
        for i in range(len(block)):
            try:
                out.append(inflater.decompress(block[i : i + 1]))
            except zlib.error:
                return b"".join(out), consumed + i
        return b"".join(out), consumed + len(block)


def gzip_damage(path: str | Path) -> str | None:
    """Decompress a gzip file fully (CRC checked) and return the damage message, if any."""
    reader = LogReader(path)
    for _ in reader.blocks():
        pass
    return reader.error


class LogReader:
    """Iterate the text lines of one log file (plain or gzip); see the module docstring."""

    def __init__(self, path: str | Path, max_line_chars: int = DEFAULT_MAX_LINE_CHARS) -> None:
        self.path = Path(path)
        self.max_line_chars = max_line_chars
        self.error: str | None = None
        self.lines = 0
        self.invalid_utf8_lines = 0
        self.long_lines = 0

    def blocks(self) -> Iterator[bytes]:
        """Raw (decompressed) bytes of the file in blocks; sets :attr:`error` on damage."""
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed by the `with` below, after the check
        except OSError as exc:
            self.error = f"{self.path}: cannot read ({exc.strerror})"
            return
        with fh:
            try:
                head = fh.read(2)
                fh.seek(0)
                if head == GZIP_MAGIC:
                    gz = _GzipBlocks(fh, str(self.path))
                    yield from gz
                    self.error = gz.error
                else:
                    while block := fh.read(READ_BLOCK):
                        yield block
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
                if len(carry) > 4 * self.max_line_chars:  # no newline for a long time: emit a piece
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
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line = raw.decode("utf-8", errors="replace")
                self.invalid_utf8_lines += 1
            if len(line) > self.max_line_chars:
                line = line[: self.max_line_chars]
                self.long_lines += 1
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
        """The first ``n`` non-blank lines (reads only as much as needed)."""
        out: list[str] = []
        for line in self:
            out.append(line)
            if len(out) >= n:
                break
        return out


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
    reader = LogReader(info.path, max_line_chars=4096)
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
