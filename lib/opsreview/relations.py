"""Small helpers to run SQL over DuckDB relations the same way in every analysis module."""

from __future__ import annotations

import duckdb
import pandas as pd

from opsreview import engine

__all__ = ["Relation", "as_relation", "bucket_sql", "query", "quote", "run_sql", "sql_string", "to_utc"]

Relation = duckdb.DuckDBPyRelation


def quote(name: str) -> str:
    """An SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_string(value: str) -> str:
    """An SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def bucket_sql(column: str, minutes: int) -> str:
    """SQL: ``column`` (TIMESTAMPTZ) floored to ``minutes``-wide buckets, independent of the session zone."""
    width = 60 * int(minutes)
    return f"to_timestamp(floor(epoch({column}) / {width}) * {width})"


def to_utc(df: pd.DataFrame) -> pd.DataFrame:
    """Timezone-aware columns converted to UTC (DuckDB returns them in the session's zone)."""
    for col in df.columns:
        if isinstance(df[col].dtype, pd.DatetimeTZDtype):
            df[col] = df[col].dt.tz_convert("UTC")
    return df


def as_relation(data: Relation | pd.DataFrame, con: duckdb.DuckDBPyConnection | None = None) -> Relation:
    """A relation over ``data`` (DataFrames are scanned in place, not copied)."""
    if isinstance(data, duckdb.DuckDBPyRelation):
        return data
    return (con or engine.connect()).from_df(data)


def query(rel: Relation, sql: str) -> Relation:
    """``sql`` run over ``rel``, which it names ``t`` (lazy)."""
    result = rel.query("t", sql)
    if result is None:  # only for statements that return nothing
        raise ValueError("query returned no relation")
    return result


def run_sql(rel: Relation, sql: str) -> pd.DataFrame:
    """``sql`` over ``rel`` (named ``t``) as a DataFrame, timestamps in UTC."""
    return to_utc(query(rel, sql).df())
