"""Reading a ``mongodump --archive[ --gzip]`` file: its prelude, and a streaming scan of its body.

The format, as mongo-tools writes it (``common/archive/spec.md``, ``prelude.go``,
``parser.go``, ``multiplexer.go`` of github.com/mongodb/mongo-tools)::

    archive  = magic (0x8199e26d, uint32 little-endian)
               header document {concurrent_collections, version, server_version, tool_version}
               collection-metadata document* {db, collection, metadata, size, type}
               terminator (0xFFFFFFFF)
               (namespace-header {db, collection, EOF: false, CRC: 0} document+ terminator
                | eof-header {db, collection, EOF: true, CRC} terminator)*

``--gzip`` with ``--archive`` gzips the whole stream. A collection whose data was fully written
ends with its EOF header; a dump cut short (a full disk, a killed job, an upload that stopped)
lacks the EOF headers of the collections it did not finish, or ends inside a block, or (gzip'd)
ends before the gzip end-of-stream marker.

:func:`read_archive` never raises for what it finds in the file: a wrong magic, a truncated
gzip or a cut block is an :class:`ArchiveRead` with ``status`` and ``error`` set. It never holds
more than one BSON document (16 MiB at most) in memory: the prelude is read up to
``max_header_bytes``, the body is scanned as a stream of lengths (documents are counted and
skipped, never decoded; only the small namespace headers are).
"""

from __future__ import annotations

import gzip
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import bson

MAGIC = 0x8199E26D
TERMINATOR = 0xFFFFFFFF
MAX_BSON_SIZE = 16 * 1024 * 1024  # db.MaxBSONSize in mongo-tools
MIN_BSON_SIZE = 5
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


class _Cut(Exception):
    """The stream ended inside a structure."""


class _Corrupt(Exception):
    """A structure that the format does not allow."""


@dataclass
class ArchiveRead:
    """What reading one archive file found.

    ``status``: ``ok`` | ``unreadable`` (cannot be opened, or not a mongodump archive: wrong
    magic, a prelude that is not BSON) | ``truncated`` (ends before its end: gzip end-of-stream
    marker missing, a block cut, collections without their EOF header) | ``corrupt`` (a gzip CRC
    or a block structure the format does not allow)."""

    path: str
    size_bytes: int = 0
    gzip: bool = False
    status: str = "ok"
    error: str | None = None
    format_version: str | None = None
    server_version: str | None = None
    tool_version: str | None = None
    concurrent_collections: int | None = None
    collections: list[dict[str, Any]] = field(default_factory=list)  # the prelude: db, collection, type, size
    scanned: bool = False  # the body was read to its end (or to where it broke)
    documents: dict[str, int] = field(default_factory=dict)  # ns -> documents seen in the body
    finished: list[str] = field(default_factory=list)  # namespaces whose EOF header was seen
    bytes_read: int = 0  # uncompressed bytes read

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def namespaces(self) -> list[str]:
        """``db.collection`` of every collection in the prelude (views and timeseries included)."""
        return [f"{c['db']}.{c['collection']}" for c in self.collections]

    @property
    def unfinished(self) -> list[str]:
        """Data namespaces of the prelude whose end-of-data marker the body scan did not see."""
        finished = set(self.finished)
        return [ns for ns in (_data_namespace(c, self.server_version) for c in self.collections) if ns not in finished]

    def fail(self, status: str, error: str) -> ArchiveRead:
        if self.status == "ok":  # the first problem is the one reported
            self.status, self.error = status, error
        return self


class _Reader:
    """Exact reads from a byte stream, counting the bytes, telling a clean end from a cut."""

    def __init__(self, stream: _Stream) -> None:
        self.stream = stream
        self.count = 0

    def read(self, n: int, what: str) -> bytes:
        data = self.stream.read(n)
        while len(data) < n:
            more = self.stream.read(n - len(data))
            if not more:
                raise _Cut(f"ends inside {what} ({len(data)} of {n} bytes) after {self.count + len(data)} bytes")
            data += more
        self.count += n
        return data

    def skip(self, n: int, what: str) -> None:
        while n > 0:
            data = self.stream.read(min(n, _CHUNK))
            if not data:
                raise _Cut(f"ends inside {what} after {self.count} bytes")
            self.count += len(data)
            n -= len(data)

    def length_or_end(self) -> int | None:
        """The next 4-byte length (or terminator); None at a clean end of the stream."""
        data = self.stream.read(4)
        if not data:
            return None
        self.count += len(data)
        if len(data) < 4:
            data += self.read(4 - len(data), "a length")
        return int(struct.unpack("<I", data)[0])


def _document(reader: _Reader, size: int, what: str, limit: int | None = None) -> dict[str, Any]:
    if size < MIN_BSON_SIZE or size > MAX_BSON_SIZE or (limit is not None and size > limit):
        raise _Corrupt(f"{size} is neither a valid BSON length nor a terminator ({what})")
    raw = struct.pack("<I", size) + reader.read(size - 4, what)
    try:
        return dict(bson.decode(raw))
    except Exception as exc:
        raise _Corrupt(f"{what} is not a BSON document ({type(exc).__name__}: {exc})") from exc


class _Stream(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def read_archive(path: Path, *, scan_body: bool = True, max_header_bytes: int = 16 * 1024 * 1024) -> ArchiveRead:
    """Read the prelude of the archive at ``path`` and (``scan_body``) scan its body to the end.

    Without the body scan a gzip'd archive is still read to its end (decompressed in chunks and
    dropped) so that a truncated or corrupt gzip is found."""
    result = ArchiveRead(str(path))
    try:
        result.size_bytes = path.stat().st_size
        raw = open(path, "rb", buffering=_CHUNK)  # noqa: SIM115 - closed below
    except OSError as exc:
        return result.fail("unreadable", f"cannot open: {exc.strerror or exc}")
    with raw:
        try:
            result.gzip = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
        except OSError as exc:
            return result.fail("unreadable", f"read error: {exc.strerror or exc}")
        stream: _Stream = gzip.GzipFile(fileobj=raw, mode="rb") if result.gzip else raw
        _read_all(_Reader(stream), result, scan_body, max_header_bytes)
    if result.ok and result.scanned:
        _check_finished(result)
    return result


def _read_all(reader: _Reader, result: ArchiveRead, scan_body: bool, max_header_bytes: int) -> None:
    stream = reader.stream
    try:
        _prelude(reader, result, max_header_bytes)
        if result.ok and scan_body:
            result.scanned = True
            _body(reader, result)
        elif result.ok and result.gzip:
            while stream.read(_CHUNK):
                pass
    except _Cut as exc:
        result.fail("truncated", f"the archive {exc}")
    except _Corrupt as exc:
        result.fail("corrupt", str(exc))
    except EOFError as exc:  # gzip: "Compressed file ended before the end-of-stream marker was reached"
        result.fail("truncated", f"gzip stream cut: {exc}")
    except (gzip.BadGzipFile, zlib.error) as exc:
        result.fail("corrupt", f"gzip: {exc}")
    except OSError as exc:
        result.fail("unreadable", f"read error: {exc.strerror or exc}")
    result.bytes_read = reader.count


def _prelude(reader: _Reader, result: ArchiveRead, max_header_bytes: int) -> None:
    try:
        magic = reader.read(4, "the magic number")
    except _Cut:
        result.fail("unreadable", "not a mongodump archive: shorter than its magic number")
        return
    value = struct.unpack("<I", magic)[0]
    if value != MAGIC:
        result.fail("unreadable", f"not a mongodump archive: magic 0x{value:08x}, expected 0x{MAGIC:08x}")
        return
    size = reader.length_or_end()
    if size is None or size == TERMINATOR:
        result.fail("unreadable", "the archive has no prelude header")
        return
    try:
        header = _document(reader, size, "the prelude header", max_header_bytes)
    except _Corrupt as exc:
        result.fail("unreadable", f"the prelude header is not BSON: {exc}")
        return
    result.format_version = _text(header.get("version"))
    result.server_version = _text(header.get("server_version"))
    result.tool_version = _text(header.get("tool_version"))
    concurrent = header.get("concurrent_collections")
    result.concurrent_collections = int(concurrent) if isinstance(concurrent, int) else None
    while True:
        size = reader.length_or_end()
        if size is None:
            raise _Cut("ends inside the prelude (no terminator after the collection list)")
        if size == TERMINATOR:
            return
        if reader.count > max_header_bytes:
            result.fail("corrupt", f"the prelude is longer than {max_header_bytes} bytes (max_header_bytes)")
            return
        meta = _document(reader, size, "a collection header of the prelude", max_header_bytes)
        result.collections.append(
            {
                "db": _text(meta.get("db")) or "",
                "collection": _text(meta.get("collection")) or "",
                "type": _text(meta.get("type")) or "",
                "size": int(meta["size"]) if isinstance(meta.get("size"), int) else None,
            }
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _body(reader: _Reader, result: ArchiveRead) -> None:
    while True:
        size = reader.length_or_end()
        if size is None:
            return  # a clean end between blocks
        if size == TERMINATOR:
            raise _Corrupt(f"consecutive terminators at byte {reader.count}")
        header = _document(reader, size, "a namespace header")
        ns = f"{header.get('db', '')}.{header.get('collection', '')}"
        if header.get("EOF") is True:
            result.finished.append(ns)
            if reader.length_or_end() != TERMINATOR:
                raise _Corrupt(f"the EOF header of {ns} is not followed by a terminator")
            continue
        count = result.documents.get(ns, 0)
        while True:
            size = reader.length_or_end()
            if size is None:
                raise _Cut(f"ends inside the data of {ns} after {reader.count} bytes")
            if size == TERMINATOR:
                break
            if size < MIN_BSON_SIZE or size > MAX_BSON_SIZE:
                raise _Corrupt(f"{size} is neither a valid BSON length nor a terminator (data of {ns})")
            reader.skip(size - 4, f"a document of {ns}")
            count += 1
        result.documents[ns] = count


def _version(text: str | None) -> tuple[int, int, int] | None:
    """``"8.3.0"``, ``"8.3.0-rc1"`` → (8, 3, 0); None when the text is not a version."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    return None if match is None else (int(match[1]), int(match[2]), int(match[3] or 0))


def _data_namespace(meta: dict[str, Any], server_version: str | None) -> str:
    """The namespace a collection's data is written under, as mongo-tools' ``Intent.DataCollection``:
    a timeseries collection's buckets (``system.buckets.X``) before server 8.3, the collection
    itself from 8.3 (viewless timeseries, ``Version.SupportsRawData``). An archive without a
    server version is taken as older than 8.3."""
    version = _version(server_version)
    if meta.get("type") == "timeseries" and (version is None or version < (8, 3, 0)):
        return f"{meta['db']}.system.buckets.{meta['collection']}"
    return f"{meta['db']}.{meta['collection']}"


def _check_finished(result: ArchiveRead) -> None:
    unfinished = result.unfinished
    if unfinished:
        shown = ", ".join(unfinished[:5]) + (f" and {len(unfinished) - 5} more" if len(unfinished) > 5 else "")
        result.fail(
            "truncated",
            f"{len(unfinished)} of {len(result.collections)} collections have no end-of-data marker ({shown})",
        )


def write_archive(
    out: IO[bytes],
    collections: dict[str, list[dict[str, Any]]],
    *,
    server_version: str = "7.0.14",
    tool_version: str = "100.10.0",
    magic: int = MAGIC,
) -> None:
    """Write a mongodump archive of ``collections`` (``"db.coll"`` -> documents) to ``out``, as
    mongodump's archive writer lays it out (the demo and the tests use this). The EOF headers
    carry CRC 0: mongorestore checks them, this review does not."""
    out.write(struct.pack("<I", magic))
    out.write(
        bson.encode(
            {
                "concurrent_collections": 4,
                "version": "0.1",
                "server_version": server_version,
                "tool_version": tool_version,
            }
        )
    )
    for ns, docs in collections.items():
        db, coll = ns.split(".", 1)
        size = sum(len(bson.encode(d)) for d in docs)
        out.write(bson.encode({"db": db, "collection": coll, "metadata": "{}", "size": size, "type": ""}))
    out.write(struct.pack("<I", TERMINATOR))
    for ns, docs in collections.items():
        db, coll = ns.split(".", 1)
        if docs:
            out.write(bson.encode({"db": db, "collection": coll, "EOF": False, "CRC": bson.Int64(0)}))
            for doc in docs:
                out.write(bson.encode(doc))
            out.write(struct.pack("<I", TERMINATOR))
        out.write(bson.encode({"db": db, "collection": coll, "EOF": True, "CRC": bson.Int64(0)}))
        out.write(struct.pack("<I", TERMINATOR))
