"""The Spark side of the engine seam: one SparkSession per process, created lazily, stopped at exit.

:mod:`opsreview.engine` decides which engine a pull uses (:func:`opsreview.engine.selected`);
only the Spark parts of the pull import this module, and only they import ``pyspark`` (an
optional extra: ``pip install -e '.[spark]'``, plus a Java 17 runtime).

The session's settings come from the params' ``spark:`` section (master, app name, extra
``conf``); opsreview adds what its numbers depend on: the session time zone is UTC (store
columns are instants; local time is applied where a person reads it), ANSI mode is off (a
malformed field is NULL and the line goes to the exact parser, as with DuckDB's ``try_*``),
timestamps are written as microseconds, and the UI is off unless ``conf`` turns it on.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from opsreview.params import SparkParams

log = logging.getLogger("opsreview")

_lock = threading.Lock()
_session: SparkSession | None = None
_settings: tuple[str, str, tuple[tuple[str, str], ...]] | None = None

BASE_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


class SparkUnavailable(RuntimeError):
    """pyspark is not installed, or no Java runtime could start a session."""


def session(settings: SparkParams) -> SparkSession:
    """The process's Spark session (created on first use with ``settings``; a session stopped
    or lost since - the driver's JVM gone - is replaced by a new one)."""
    global _session, _settings
    wanted = (settings.master, settings.app_name, tuple(sorted((str(k), str(v)) for k, v in settings.conf.items())))
    with _lock:
        if _session is not None and (_settings != wanted or not _alive(_session)):
            _stop_locked()
        if _session is None:
            # pyspark 4 warns on every pandas 3 use; the agreement tests are what check the results
            warnings.filterwarnings(
                "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
            )
            try:
                from pyspark.sql import SparkSession
            except ImportError as exc:
                raise SparkUnavailable("engine: spark needs pyspark (pip install -e '.[spark]')") from exc
            builder: Any = SparkSession.builder.master(settings.master).appName(settings.app_name)
            conf = dict(BASE_CONF)
            if settings.master.startswith("local"):  # the workers run this interpreter (its packages)
                os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            # the session zone stays UTC whatever ``conf`` says: local hours are computed with
            # the params' time zone explicitly, and a shifted session zone would shift them again
            for key, value in {**conf, **dict(wanted[2]), "spark.sql.session.timeZone": "UTC"}.items():
                builder = builder.config(key, value)
            try:
                _session = builder.getOrCreate()
            except Exception as exc:
                raise SparkUnavailable(
                    f"cannot start a Spark session on {settings.master}: {_first_line(exc)}"
                ) from exc
            _settings = wanted
            _session.sparkContext.setLogLevel("WARN")
        return _session


def _alive(spark: SparkSession) -> bool:
    try:
        jsc = spark.sparkContext._jsc
        return jsc is not None and not jsc.sc().isStopped()
    except Exception:  # noqa: BLE001 - a dead py4j gateway raises anything
        return False


def _stop_locked() -> None:
    global _session, _settings
    if _session is not None:
        try:
            _session.stop()
        except Exception as exc:  # noqa: BLE001 - stopping a lost session may fail; it is gone anyway
            log.info("stopping the Spark session: %s", _first_line(exc))
    _session = None
    _settings = None


def stop() -> None:
    """Stop the process's session (at exit too)."""
    with _lock:
        _stop_locked()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


atexit.register(stop)
