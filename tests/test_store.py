"""The store: atomic, idempotent parts by date, read back lazily through DuckDB."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from opsreview.store import Store, part_key

D1, D2 = dt.date(2026, 11, 22), dt.date(2026, 11, 23)


def frame(n: int, offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"id": range(offset, offset + n), "status": [200] * n})


def test_rewriting_a_part_replaces_it(tmp_path: Path) -> None:
    store = Store(tmp_path)
    key = part_key("/var/log/api/access.log", "api-1")
    store.write_part("requests", D1, key, frame(10))
    store.write_part("requests", D1, key, frame(7, 100))
    got = store.read("requests", [D1])
    assert sorted(got["id"]) == list(range(100, 107))


def test_parts_and_days_are_separate(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write_part("requests", D1, part_key("a.log", "api-1"), frame(3))
    store.write_part("requests", D1, part_key("a.log", "api-2"), frame(4, 10))
    store.write_part("requests", D2, part_key("a.log", "api-1"), frame(5, 20))
    assert store.days("requests") == [D1, D2]
    assert len(store.read("requests", [D1])) == 7
    rel = store.relation("requests", [D1, D2])
    assert rel is not None
    assert rel.aggregate("count(*)").fetchall() == [(12,)]
    assert store.relation("requests", [dt.date(2020, 1, 1)]) is None
    assert store.read("requests", [dt.date(2020, 1, 1)]).empty


def test_no_temporary_files_are_left_and_keys_are_stable(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write_part("t", D1, "p", frame(2))
    assert [p.name for p in (tmp_path / "t" / "date=2026-11-22").iterdir()] == ["p.parquet"]
    assert part_key("/x/y/access.log", "h") == part_key("/x/y/access.log", "h")
    assert part_key("/x/y/access.log", "h") != part_key("/x/z/access.log", "h")
    assert "/" not in part_key("/x/y/a b?.log")
