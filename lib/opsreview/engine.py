"""The one seam where opsreview opens its query engine: every DuckDB connection comes from here.

Every reader and parser calls :func:`connect` instead of ``duckdb.connect()``, so that all of
them run with the same settings:

- the session time zone is UTC (store columns are ``TIMESTAMPTZ`` and local time is applied
  only where a person reads it; the application-log parser asks for the params' zone, in which
  zone-less times are written);
- threads: every core (DuckDB's own default is the same, but a container may report more);
- memory is bounded (``memory_limit``): large sorts and aggregates spill to a temporary folder
  instead of growing without bound (reviewing production must not take the review machine
  down either);
- no progress bar on stderr (it ends up in cron mail).

The choice of engine is made here too, once (:func:`selected`): with ``engine: spark`` in
params, the log pull parses and writes on Spark (:mod:`opsreview.sparkengine` holds the session,
:mod:`opsreview.logs.access.spark_parse` the job); everything that reads the store still reads
it through :func:`connect`. DuckDB stays the embedded default.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Literal

import duckdb

if TYPE_CHECKING:
    from opsreview.params import Params

Engine = Literal["duckdb", "spark"]

# Parsing streams batches and needs little; a review's exact per-route quantiles cannot spill,
# so readers get more.
PARSE_MEMORY = "512MB"
READ_MEMORY = "1GB"


def connect(
    *,
    memory_limit: str = READ_MEMORY,
    timezone: str = "UTC",
    parsing: bool = False,
) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection with opsreview's settings.

    ``parsing`` also turns off filter pushdown, so that a filter on a parsed ``ok`` column does
    not evaluate the (costly) field splits twice (see ``MorganFormat.sql_query``).
    """
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{timezone.replace(chr(39), chr(39) * 2)}'")
    # a Spark task running the DuckDB pull sets its task's cores (OPSREVIEW_DUCKDB_THREADS)
    con.execute(f"SET threads = {int(os.environ.get('OPSREVIEW_DUCKDB_THREADS') or os.cpu_count() or 1)}")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    # Inside a Jupyter kernel DuckDB refuses to touch the setting without ipywidgets; it draws
    # no bar there either.
    with contextlib.suppress(duckdb.InvalidInputException):
        con.execute("SET enable_progress_bar = false")
    if parsing:
        con.execute("SET disabled_optimizers = 'filter_pushdown'")
    return con


def selected(params: Params) -> Engine:
    """The engine the pull runs on (params ``engine``; ``duckdb`` unless set)."""
    return params.engine
