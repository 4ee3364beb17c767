"""What the Spark pulls of both log kinds share (``engine: spark``): file URIs as Spark names
them, the params' secrets for the executors, Arrow schemas as Spark's, and the staging folder
a job writes its parts into before they are published.

A job writes its parts into ``<store>/.staging/<random>/`` (a store of its own, the same
layout); only when the job has succeeded does the driver move them into the store, one
``os.replace`` per part (the staging folder is inside the store: the same file system, so each
move is atomic). A failed job's staging folder is removed and the store keeps what it had.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlparse

if TYPE_CHECKING:
    import datetime as dt

    import pyarrow as pa

    from opsreview.params import Params
    from opsreview.store import Store

STAGING = ".staging"
VISIBLE = ".visible"  # written by the driver into a job's staging folder; every task checks it
# Names handed to Spark by path: letters, digits and ``. _ / + = @ , ~ -`` only. Hadoop reads
# other characters as globs (``* ? [ ] { }``), cannot name them (``:``), or Spark hands the path
# back encoded differently (``%``, ``#``, spaces, non-ASCII): such files stay off that path.
_NAMEABLE = re.compile(r"[A-Za-z0-9._/+=@,~-]+")


def nameable(path: Path) -> bool:
    """Whether Spark can be given ``path`` by name and names it back the same way."""
    return _NAMEABLE.fullmatch(str(path.resolve())) is not None


STALE_AFTER_S = 24 * 3600


def prepare_staging(folder: Path) -> None:
    """Create a job's staging folder with the mark its tasks look for (:func:`check_staging`);
    staging folders of jobs a killed driver left behind (older than a day) are removed."""
    import time

    if folder.parent.is_dir():
        for old in folder.parent.iterdir():
            try:
                if old.is_dir() and time.time() - old.stat().st_mtime > STALE_AFTER_S:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                continue
    folder.mkdir(parents=True, exist_ok=True)
    (folder / VISIBLE).write_text("", encoding="utf-8")


def check_staging(folder: str | Path) -> None:
    """In a task: fail the job unless the driver's staging folder is visible here (a store on a
    disk only the driver sees would have every task write where the driver never looks, and the
    driver would then find nothing to publish - and drop the parts the store had)."""
    if not (Path(folder) / VISIBLE).is_file():
        raise RuntimeError(
            f"the store's staging folder {folder} is not visible from this Spark executor: the store must be "
            "a folder every node sees (a shared mount)"
        )


def local_key(uri: str) -> str:
    """A file URI as Spark's input_file_name() gives it, reduced to compare (file:/x = /x)."""
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme in ("", "file") else uri


def secret_values(params: Params) -> list[str]:
    """What the params' ``${ENV}`` references resolve to, and every other secret this process
    has learned to mask (URI passwords, resolved references): the executors mask them too."""
    from opsreview.secrets import resolved_values

    values = [os.environ.get(name) for name in params.secret_env_vars]
    env = [v for value in values if value for v in (value, quote(value, safe=""))]
    return list(dict.fromkeys([*env, *resolved_values()]))


def spark_schema(schema: pa.Schema) -> Any:
    """``schema`` as Spark's StructType (the output of a ``mapInArrow`` step)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


@contextmanager
def staging(store: Store) -> Iterator[Path]:
    """A fresh staging folder inside ``store`` for one job, removed when the block ends
    (published or not)."""
    folder = store.root / STAGING / uuid.uuid4().hex
    try:
        prepare_staging(folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def publish_parts(store: Store, staged: Path, table: str, part: str) -> list[dt.date]:
    """Move ``part``'s staged parts of ``table`` (``staged`` is the job's staging folder) into
    the store, replacing what is there; returns their days."""
    import datetime as dt

    days = []
    for path in sorted((staged / table).glob(f"date=*/{part}.parquet")):
        day = dt.date.fromisoformat(path.parent.name[5:])
        target = store.day_dir(table, day)
        target.mkdir(parents=True, exist_ok=True)
        os.replace(path, target / path.name)
        days.append(day)
    return days


_CAUSE = re.compile(r"^(?:Caused by: )?(?:[\w.$]+(?:Exception|Error): )?(\[[A-Z_.]+\] .*)$|^Caused by: (.*)$")


def job_failure(exc: BaseException) -> str:
    """One line saying why a Spark job failed (Spark's error class and message, such as
    ``[FAILED_READ_FILE.FILE_NOT_EXIST] ... file:/var/log/app/app.log.1 ...``), not py4j's wrapper."""
    from opsreview.secrets import redact

    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        match = _CAUSE.match(line)
        if match:
            return redact((match.group(1) or match.group(2))[:400])
    raised = [line for line in lines if re.match(r"^[\w.]+(?:Error|Exception): ", line)]  # a Python worker's
    return redact((raised[-1] if raised else lines[0])[:400]) if lines else type(exc).__name__
