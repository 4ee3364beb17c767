"""Checking a gzip file member by member: what decoded intact, where damage was found, what to keep.

One inflate over the whole file (:func:`check_gzip`) checks every member's CRC-32 and size and
tells apart the ways a file goes wrong:

- **checksum mismatch**: bits flipped inside a member mostly still decode, to wrong bytes
  (Huffman codes resynchronise), and zlib finds out only at the member's CRC-32, at its end.
  Nothing tells which of its lines are intact, so the member contributes no line; the message
  says how many that cost;
- **corrupt data**: zlib stops at an invalid code. The damage is somewhere before, and what was
  decoded just before it may already be wrong: lines are kept only up to
  :data:`DAMAGE_MARGIN` compressed bytes before the point of failure;
- **cut short**: the data ends inside a member. Damage can look the same, when it makes the
  decoder miss the member's end and run on to the end of the file: then the file's last eight
  bytes are the member's trailer, whose size field matches what was decoded (in a file cut
  short they are deflate data), or the decoder ran into a next member. A cut keeps every line
  before it; running past the end is damage and keeps none;
- **size field wrong**: the CRC-32 matched, so the data is intact and every line is kept;
- after damage the next member is looked for by its magic bytes (which turn up by chance in
  deflate data, so a candidate must also decode); a member found that way counts only when its
  CRC-32 matches.

:class:`~opsreview.logs.files.LogReader` reads a gzip file by the plan this returns
(:attr:`GzipMember.keep` decoded bytes of each member), so the lines it yields are the ones
judged intact; the access-log source checks first and lets DuckDB read undamaged files itself.
"""

from __future__ import annotations

import io
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

__all__ = ["DAMAGE_MARGIN", "GZIP_MAGIC", "GzipCheck", "GzipMember", "check_gzip", "member_blocks"]

GZIP_MAGIC = b"\x1f\x8b"
_MEMBER_START = b"\x1f\x8b\x08"  # magic + deflate, the only method gzip defines
# Compressed bytes before a point of failure whose output is not trusted. Measured on morgan
# logs (levels 1, 6, 9; a flipped bit or 64 zeroed bytes; 9,000 trials): zlib stops at an
# invalid code within 0.5 KB of the damage in 90% of those cases, 20 KB in 99%; rarely later.
DAMAGE_MARGIN = 64 * 1024
_CHUNK = 16 * 1024  # granularity of the checkpoints that place the margin
_TRAILER = 8


@dataclass
class GzipMember:
    """One gzip member (or what stood where one should be)."""

    start: int  # compressed offset of its header
    end: int = 0  # compressed offset after it (or where reading it stopped)
    status: str = "ok"  # ok | size_field | checksum | corrupt | cut_short | overrun
    decoded: int = 0  # bytes it decoded to (up to the failure)
    lines: int = 0  # newlines in those bytes
    keep: int = 0  # decoded bytes to keep (always just after a newline, or everything)
    kept_lines: int = 0
    found_at: int | None = None  # compressed offset where damage was found
    reason: str = ""  # zlib's words
    resynced: bool = False  # found by its magic bytes after damage

    @property
    def dropped_lines(self) -> int:
        return self.lines - self.kept_lines


@dataclass
class GzipCheck:
    """The members of one gzip file and what their check found."""

    path: str
    size: int
    members: list[GzipMember] = field(default_factory=list)
    trailing_at: int | None = None  # non-gzip bytes after the last member
    read_error: str | None = None

    @property
    def damaged(self) -> bool:
        return (
            self.read_error is not None or self.trailing_at is not None or any(m.status != "ok" for m in self.members)
        )

    @property
    def dropped_lines(self) -> int:
        return sum(m.dropped_lines for m in self.members)

    @property
    def error(self) -> str | None:
        """One line naming the file, each problem and its byte offset (None when intact)."""
        if self.read_error:
            return self.read_error
        problems = [_describe(m, len(self.members) > 1) for m in self.members if m.status != "ok"]
        if self.trailing_at is not None:
            problems.append(f"trailing data after the gzip stream at byte {self.trailing_at}; ignored")
        if not problems:
            return None
        shown = problems[:3] + ([f"and {len(problems) - 3} more damaged members"] if len(problems) > 3 else [])
        return f"{self.path}: " + "; ".join(shown)


def _lines(n: int) -> str:
    return f"{n} line" + ("" if n == 1 else "s")


def _describe(m: GzipMember, several: bool) -> str:
    where = f" in the member at bytes {m.start}-{m.end}" if several else ""
    if m.resynced and m.status not in ("ok", "size_field"):
        return (
            f"a gzip member found after the damage, at byte {m.start}, failed its check too "
            f"({m.reason or m.status}): the {_lines(m.dropped_lines)} it decoded to were dropped"
        )
    if m.status == "checksum":
        return (
            f"gzip checksum mismatch at byte {m.found_at} (the end of its member{where}): its data is "
            f"damaged somewhere before; the {_lines(m.dropped_lines)} it decoded to were dropped, as "
            "nothing tells the intact ones from the damaged"
        )
    if m.status == "overrun":
        return (
            f"corrupt gzip data{where}: decoding ran past the member's end to byte {m.found_at}, the end "
            f"of the file ({m.reason}), so it is damaged inside, not cut short; the "
            f"{_lines(m.dropped_lines)} it decoded to were dropped"
        )
    if m.status == "corrupt":
        kept = f"the {_lines(m.kept_lines)} decoded well before it were kept" if m.kept_lines else "no line kept"
        closer = f", {_lines(m.dropped_lines)} decoded closer to it dropped" if m.dropped_lines else ""
        return (
            f"corrupt gzip data at byte {m.found_at}{where}; zlib: {m.reason}; {kept}{closer}, "
            "the rest of the member could not be read"
        )
    if m.status == "cut_short":
        return (
            f"gzip file truncated at byte {m.found_at} (its end, inside a member{where}): "
            f"the {_lines(m.kept_lines)} before the cut were kept"
        )
    return f"gzip size field wrong at byte {m.found_at}{where}: the data's checksum matched, so every line was kept"


@dataclass
class _Checkpoint:
    consumed: int  # compressed bytes of the member fed
    keep: int  # decoded bytes up to the last newline so far
    lines: int  # newlines up to there


def _locate(inflater: zlib._Decompress, chunk: bytes) -> tuple[int, bytes]:
    """Feed ``chunk`` byte by byte to a copy taken before it failed: where it fails, and the
    bytes decoded before that."""
    out = []
    for i in range(len(chunk)):
        try:
            out.append(inflater.decompress(chunk[i : i + 1]))
        except zlib.error:
            return i, b"".join(out)
    return len(chunk), b"".join(out)


def _reason(exc: zlib.error) -> str:
    return str(exc).rsplit(":", 1)[-1].strip()


def _plausible_trailer(tail: bytes, decoded: int) -> bool:
    """Whether the file's last 8 bytes read as the trailer of a member that decoded to about
    ``decoded`` bytes (ISIZE is the size modulo 2**32). Random bytes - a file cut inside deflate
    data - land in that window with a probability of about 1e-6 per MB of text."""
    if len(tail) < _TRAILER:
        return False
    size = int.from_bytes(tail[4:], "little")
    distance = (decoded - size) % (1 << 32)
    distance = min(distance, (1 << 32) - distance)
    return distance <= max(4096, decoded // 50)


def _check_member(fh: BinaryIO, start: int, file_size: int) -> GzipMember:
    """Decode the member starting at ``start`` (the file position is left anywhere)."""
    member = GzipMember(start)
    fh.seek(start)
    inflater = zlib.decompressobj(31)
    consumed = 0
    keep_at_newline = 0
    checkpoints: deque[_Checkpoint] = deque()
    while chunk := fh.read(_CHUNK):
        before = inflater.copy()
        try:
            out = inflater.decompress(chunk)
        except zlib.error as exc:
            at, out = _locate(before, chunk)
            member.decoded += len(out)
            member.lines += out.count(b"\n")
            member.found_at = start + consumed + at
            member.reason = _reason(exc)
            if member.reason == "incorrect data check":  # raised at the CRC-32's last byte
                member.status, member.end = "checksum", member.found_at + 5
            elif member.reason == "incorrect length check":  # the CRC-32 matched: data intact
                member.status, member.end = "size_field", member.found_at + 1
                member.keep, member.kept_lines = member.decoded, member.lines
            else:
                member.status, member.end = "corrupt", member.found_at + 1
                limit = consumed + at - DAMAGE_MARGIN
                safe = [c for c in checkpoints if c.consumed <= limit]
                if safe:
                    member.keep, member.kept_lines = safe[-1].keep, safe[-1].lines
            return member
        member.decoded += len(out)
        newlines = out.count(b"\n")
        if newlines:
            member.lines += newlines
            keep_at_newline = member.decoded - (len(out) - out.rfind(b"\n") - 1)
        if inflater.eof:
            member.end = start + consumed + len(chunk) - len(inflater.unused_data)
            member.keep, member.kept_lines = member.decoded, member.lines
            return member
        consumed += len(chunk)
        checkpoints.append(_Checkpoint(consumed, keep_at_newline, member.lines))
        while len(checkpoints) > 1 and checkpoints[1].consumed <= consumed - DAMAGE_MARGIN:
            checkpoints.popleft()
    # The data ended inside the member: the file was cut short, or damage made the decoder miss
    # the member's end and run on (through the trailer, or into the next member).
    member.end = member.found_at = start + consumed
    fh.seek(max(file_size - _TRAILER, start))
    tail = fh.read(_TRAILER)
    after = _next_member(fh, start + 1)
    if after is not None:
        member.status, member.reason = "overrun", f"it ran on into the next member, at byte {after}"
    elif _plausible_trailer(tail, member.decoded):
        member.status, member.reason = "overrun", "the file's last 8 bytes are its trailer, whose size matches"
    else:
        member.status = "cut_short"
        member.keep, member.kept_lines = member.decoded, member.lines
    return member


def _next_member(fh: BinaryIO, start: int) -> int | None:
    """Offset of the next gzip member at or after ``start``: its magic and method bytes, and
    data that decodes without error for 4 KiB (or to an intact end). The three magic bytes turn
    up by chance about once per 16 MB of compressed data; deflate decoding of such chance bytes
    failed within 512 bytes in 20,000 of 20,000 trials."""
    position = start
    while True:
        fh.seek(position)
        found, tail = None, b""
        while block := fh.read(1 << 20):
            data = tail + block
            hit = data.find(_MEMBER_START)
            if hit != -1:
                found = position - len(tail) + hit
                break
            tail = data[-(len(_MEMBER_START) - 1) :]
            position += len(block)
        if found is None:
            return None
        fh.seek(found)
        inflater = zlib.decompressobj(31)
        try:
            inflater.decompress(fh.read(4096))
            return found
        except zlib.error:
            position = found + 1


def _only_nul(fh: BinaryIO, start: int) -> bool:
    fh.seek(start)
    while block := fh.read(1 << 20):
        if block.strip(b"\x00"):
            return False
    return True


def check_gzip(path: str | Path, data: bytes | None = None) -> GzipCheck:
    """Decode every member of a gzip file once, checking each; see the module docstring.
    ``data``: the file's bytes, when the caller has read them already (messages name ``path``)."""
    path = Path(path)
    try:
        fh: BinaryIO = io.BytesIO(data) if data is not None else open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        return GzipCheck(str(path), 0, read_error=f"{path}: cannot read ({exc.strerror})")
    with fh:
        size = fh.seek(0, 2)
        check = GzipCheck(str(path), size)
        try:
            position, after_damage = 0, False
            while position < size:
                fh.seek(position)
                if fh.read(len(_MEMBER_START)) != _MEMBER_START:
                    if after_damage:  # the damaged member's end is unknown: find the next one
                        found = _next_member(fh, position)
                        if found is None:
                            break
                        position = found
                    elif check.members and _only_nul(fh, position):
                        break  # NUL padding after the last member (a preallocated file): harmless
                    elif check.members:
                        check.trailing_at = position
                        break
                member = _check_member(fh, position, size)
                member.resynced = after_damage
                if after_damage and member.status not in ("ok", "size_field"):
                    # found by its magic after damage, and not intact either: its end cannot be
                    # trusted to be where the damage stops, so none of its lines is
                    member.keep = member.kept_lines = 0
                check.members.append(member)
                after_damage = member.status not in ("ok", "size_field")
                # after damage whose extent is unknown, look again from just past its start
                position = member.start + 1 if member.status in ("corrupt", "overrun") else member.end
        except OSError as exc:
            check.read_error = f"{path}: read failed ({exc.strerror})"
    return check


def member_blocks(fh: BinaryIO, check: GzipCheck, block_size: int = 1 << 20) -> Iterator[bytes]:
    """The decoded bytes ``check`` keeps, member by member. Where damage lies between two kept
    parts a newline is inserted, so that they never join into one line."""
    separate = False
    for member in check.members:
        if not member.keep:
            separate = separate or member.status != "ok"
            continue
        if separate:
            yield b"\n"
        fh.seek(member.start)
        inflater = zlib.decompressobj(31)
        left = member.keep
        # never feed the byte where the check failed (a damaged size field fails after the
        # last byte of data, and a failing call returns nothing)
        unread = (member.found_at if member.found_at is not None else member.end) - member.start
        while left > 0 and not inflater.eof:
            data = inflater.unconsumed_tail
            if not data:
                data = fh.read(min(block_size, unread))
                unread -= len(data)
            if not data:
                break
            try:  # never more output than is kept: decoding stops well before any damage
                out = inflater.decompress(data, min(left, 4 * block_size))
            except zlib.error:  # the file changed since it was checked
                break
            left -= len(out)
            if out:
                yield out
        separate = member.status not in ("ok", "size_field")
