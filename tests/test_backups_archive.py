"""Reading mongodump archives built here from the documented format (mongo-tools
``common/archive/spec.md``) with ``bson``: valid ones, gzip'd and not, cut, corrupt and foreign."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import bson
import pytest

from opsreview.backups.archive import read_archive

MAGIC = struct.pack("<I", 0x8199E26D)
TERMINATOR = b"\xff\xff\xff\xff"
DOCS = {
    "shop.orders": [{"_id": i, "total": 100 + i, "status": "paid"} for i in range(40)],
    "shop.users": [{"_id": i, "email": f"u{i}@example.com"} for i in range(25)],
    "shop.carts": [],
}


def archive(
    collections: dict[str, list[dict[str, Any]]] = DOCS,
    *,
    magic: bytes = MAGIC,
    skip_eof: tuple[str, ...] = (),
    interleave: bool = True,
    server_version: str = "7.0.14",
    timeseries: tuple[str, ...] = (),
    buckets: bool = True,
) -> bytes:
    """magic, header, collection-metadata*, terminator, then namespace segments (split in two to
    interleave like mongodump's parallel writers) and one EOF header per namespace. ``timeseries``
    collections are typed so in the prelude; their data and EOF header are written under
    ``system.buckets.<coll>`` with ``buckets`` (mongodump before server 8.3), else under the collection."""
    out = [
        magic,
        bson.encode(
            {
                "concurrent_collections": 4,
                "version": "0.1",
                "server_version": server_version,
                "tool_version": "100.10.0",
            }
        ),
    ]
    for ns, docs in collections.items():
        db, coll = ns.split(".", 1)
        size = sum(len(bson.encode(d)) for d in docs)
        kind = "timeseries" if ns in timeseries else ""
        out.append(
            bson.encode({"db": db, "collection": coll, "metadata": '{"indexes":[]}', "size": size, "type": kind})
        )
    out.append(TERMINATOR)
    if buckets and timeseries:
        renamed = {
            f"{ns.split('.', 1)[0]}.system.buckets.{ns.split('.', 1)[1]}" if ns in timeseries else ns: docs
            for ns, docs in collections.items()
        }
        skip_eof = tuple(n for n in renamed if n.rsplit(".", 1)[-1] in {s.split(".", 1)[1] for s in skip_eof})
        collections = renamed
    halves = [(ns, docs[: len(docs) // 2]) for ns, docs in collections.items()] if interleave else []
    halves += [(ns, docs[len(docs) // 2 :] if interleave else docs) for ns, docs in collections.items()]
    for ns, docs in halves:
        if not docs:
            continue
        db, coll = ns.split(".", 1)
        out.append(bson.encode({"db": db, "collection": coll, "EOF": False, "CRC": bson.Int64(0)}))
        out += [bson.encode(d) for d in docs]
        out.append(TERMINATOR)
    for ns in collections:
        if ns in skip_eof:
            continue
        db, coll = ns.split(".", 1)
        out.append(bson.encode({"db": db, "collection": coll, "EOF": True, "CRC": bson.Int64(12345)}))
        out.append(TERMINATOR)
    return b"".join(out)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
def test_a_whole_archive_reads_with_its_prelude_and_documents(tmp_path: Path, gz: bool) -> None:
    raw = archive()
    path = write(tmp_path, "a.archive" + (".gz" if gz else ""), gzip.compress(raw) if gz else raw)
    read = read_archive(path)
    assert read.status == "ok", read.error
    assert read.gzip is gz
    assert (read.server_version, read.tool_version, read.format_version) == ("7.0.14", "100.10.0", "0.1")
    assert read.concurrent_collections == 4
    assert read.namespaces == ["shop.orders", "shop.users", "shop.carts"]
    assert read.documents == {"shop.orders": 40, "shop.users": 25}
    assert sorted(read.finished) == ["shop.carts", "shop.orders", "shop.users"]
    assert read.bytes_read == len(raw)
    assert read.size_bytes == path.stat().st_size


def test_a_truncated_gzip_is_a_truncated_archive_not_a_crash(tmp_path: Path) -> None:
    big = {ns: [{"_id": i, "n": i * 7919 % 10007, "s": f"{i * 2654435761:x}"} for i in range(600)] for ns in DOCS}
    data = gzip.compress(archive(big))
    read = read_archive(write(tmp_path, "cut.archive.gz", data[: len(data) // 3]))
    assert read.status == "truncated"
    assert "end-of-stream" in (read.error or "")
    assert read.namespaces == ["shop.orders", "shop.users", "shop.carts"]  # the prelude was read


def test_a_truncated_gzip_is_found_without_the_body_scan(tmp_path: Path) -> None:
    data = gzip.compress(archive())
    read = read_archive(write(tmp_path, "cut.archive.gz", data[: len(data) - 20]), scan_body=False)
    assert (read.status, read.scanned) == ("truncated", False)


def test_a_plain_archive_cut_inside_a_document_is_truncated(tmp_path: Path) -> None:
    raw = archive()
    read = read_archive(write(tmp_path, "cut.archive", raw[: len(raw) - 300]))
    assert read.status == "truncated"
    assert "ends inside" in (read.error or "")


def test_a_collection_without_its_eof_header_is_truncated(tmp_path: Path) -> None:
    read = read_archive(write(tmp_path, "a.archive.gz", gzip.compress(archive(skip_eof=("shop.users",)))))
    assert read.status == "truncated"
    assert "shop.users" in (read.error or "")
    assert "shop.orders" in read.finished


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (struct.pack("<I", 0xDEADBEEF) + archive()[4:], "magic 0xdeadbeef"),
        (b"\x8b\x1f not an archive", "not a mongodump archive"),
        (b"", "shorter than its magic"),
        (MAGIC + b"\x10\x00\x00\x00garbage-garbage!", "not BSON"),
    ],
    ids=["wrong-magic", "text", "empty", "bad-header"],
)
def test_what_is_not_a_mongodump_archive_is_unreadable(tmp_path: Path, data: bytes, expected: str) -> None:
    read = read_archive(write(tmp_path, "x.archive", data))
    assert read.status == "unreadable"
    assert expected in (read.error or "")


def test_a_wrong_magic_inside_gzip_is_unreadable(tmp_path: Path) -> None:
    read = read_archive(write(tmp_path, "x.archive.gz", gzip.compress(struct.pack("<I", 1) + archive()[4:])))
    assert read.status == "unreadable"


def test_a_corrupt_gzip_crc_is_corrupt(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(archive()))
    data[-6] ^= 0xFF  # inside the CRC32 of the gzip trailer
    read = read_archive(write(tmp_path, "x.archive.gz", bytes(data)))
    assert read.status == "corrupt"


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    read = read_archive(tmp_path / "gone.archive.gz")
    assert read.status == "unreadable"
    assert "cannot open" in (read.error or "")


def test_the_prelude_read_is_bounded(tmp_path: Path) -> None:
    many = {f"shop.c{i}": [] for i in range(200)}
    read = read_archive(write(tmp_path, "x.archive", archive(many)), max_header_bytes=2048)
    assert read.status == "corrupt"
    assert "max_header_bytes" in (read.error or "")
    assert read.bytes_read < 4096


@pytest.mark.parametrize(
    ("server_version", "buckets", "status"),
    [("7.0.14", True, "ok"), ("8.3.0", False, "ok"), ("8.3.1", True, "truncated"), ("8.0.4", False, "truncated")],
    ids=["7.0-buckets", "8.3-viewless", "8.3-buckets-is-not-its-data", "8.0-without-buckets"],
)
def test_timeseries_data_is_looked_for_where_the_servers_mongodump_writes_it(
    tmp_path: Path, server_version: str, buckets: bool, status: str
) -> None:
    docs = {**DOCS, "shop.metrics": [{"_id": i, "t": i} for i in range(6)]}
    data = archive(docs, server_version=server_version, timeseries=("shop.metrics",), buckets=buckets)
    read = read_archive(write(tmp_path, "ts.archive", data))
    assert read.status == status, read.error
    assert "shop.metrics" in read.namespaces
    assert (read.unfinished == []) is (status == "ok")
