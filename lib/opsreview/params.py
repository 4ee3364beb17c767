"""Params: one YAML file per environment, validated on load.

Precedence (documented in the README): notebook defaults < params YAML < CLI overrides.
Relative paths are resolved against the params file's folder. Secrets are ``${ENV}``
references (:class:`opsreview.secrets.SecretRef`), resolved only when used.
Each area owns its section model (``params/logs.py``, ``params/probes.py``); this module
composes them and turns any validation problem into one :class:`ParamsError` line.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AwareDatetime, Field, ValidationError, field_validator

from opsreview.alerts.params import AlertsParams
from opsreview.attestations import ChecklistParams
from opsreview.backups.params import BackupsParams
from opsreview.database.params import DatabaseParams
from opsreview.exceptions import ParamsError
from opsreview.findings import Severity
from opsreview.logs.params import LogsParams
from opsreview.payments.params import PaymentsParams
from opsreview.predeploy.params import PredeployParams
from opsreview.probes.params import ProbesParams
from opsreview.schema import Section, resolve_paths
from opsreview.secrets import SECRET_REF, remember_secret
from opsreview.share import ShareParams, configure

__all__ = ["Params", "RunnerParams", "SparkParams", "load_params", "Section"]


class RunnerParams(Section):
    """How `opsreview run` executes the notebooks."""

    timeout_seconds: int = Field(600, gt=0, description="per-notebook execution timeout")
    jobs: int = Field(2, gt=0, description="notebooks executed in parallel")
    kernel: str = Field("python3", description="Jupyter kernel name")
    notebooks: Path | None = Field(None, description="folder of review notebooks (default: the suite's own)")


class DeployMarker(Section):
    """One deploy on the incident timeline."""

    at: AwareDatetime = Field(description="when it went live, ISO 8601 with its offset")
    version: str = Field("", description="release, tag or commit")
    note: str = Field("", description="what changed, one line")


class TimelineParams(Section):
    """How the summary's incident timeline groups the areas' anomaly windows."""

    merge_gap_minutes: int = Field(10, ge=0, le=720, description="windows this close are one incident")
    deploy_lookback_minutes: int = Field(
        30, ge=0, le=1440, description="a deploy this long before an incident is shown with it"
    )
    long_window_hours: float = Field(
        3.0, gt=0, description="longer windows absorb the short ones they overlap but never chain onward"
    )
    day_long_hours: float = Field(
        12.0, gt=0, description="longer windows (most of the day) stand alone, absorbing nothing"
    )
    deploys: tuple[DeployMarker, ...] = Field((), description="deploy markers")
    deploys_file: Path | None = Field(None, description="more deploy markers: JSON lines or CSV with at, version, note")


class SparkParams(Section):
    """Where `engine: spark` runs the log pull (see README, "Running on Spark")."""

    master: str = Field("local[2]", description="Spark master: local[N], spark://host:7077, yarn, k8s://https://...")
    app_name: str = Field("opsreview", description="the application name shown by the cluster")
    conf: dict[str, str] = Field(
        default_factory=dict, description="extra Spark settings (spark.executor.memory, spark.hadoop.fs.s3a.*, ...)"
    )
    parse: Literal["lines", "files"] = Field(
        "lines",
        description="lines: morgan files split into lines (spark.read.text, column expressions); "
        "files: one task per file running the DuckDB pull (JSON-lines files always)",
    )


class Params(Section):
    environment: str = Field(description="name shown in reports and summary.json")
    timezone: str = Field("UTC", description="IANA zone in which a review day is taken")
    fail_on: Severity = Field(Severity.critical, description="exit 1 at or above this severity")
    store: Path = Field(description="folder of the date-partitioned store")
    engine: Literal["duckdb", "spark"] = Field(
        "duckdb", description="where the log pull runs: duckdb (embedded) or spark"
    )
    spark: SparkParams = Field(default_factory=lambda: SparkParams())
    outputs: Path = Field(description="folder of the dated reports")
    baseline_days: int = Field(7, ge=1, le=60, description="trailing days used as baseline")
    runner: RunnerParams = Field(default_factory=lambda: RunnerParams())
    logs: LogsParams = Field(default_factory=lambda: LogsParams())
    probes: ProbesParams = Field(default_factory=lambda: ProbesParams())
    database: DatabaseParams = Field(default_factory=lambda: DatabaseParams())
    payments: PaymentsParams = Field(default_factory=lambda: PaymentsParams())
    alerts: AlertsParams = Field(default_factory=lambda: AlertsParams())
    share: ShareParams = Field(default_factory=lambda: ShareParams())
    timeline: TimelineParams = Field(default_factory=lambda: TimelineParams())
    backups: BackupsParams = Field(default_factory=lambda: BackupsParams())
    checklist: ChecklistParams = Field(default_factory=lambda: ChecklistParams())
    predeploy: PredeployParams = Field(default_factory=lambda: PredeployParams())
    source_file: Path = Field(Path("."), exclude=True)
    secret_env_vars: tuple[str, ...] = Field((), exclude=True)

    @field_validator("fail_on", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Severity:
        return Severity.parse(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def mask_referenced_secrets(self) -> None:
        """Register the current values of every ``${ENV}`` the params file references for redaction.

        The runner calls this before executing notebooks, so that a secret a notebook resolves
        in its own kernel is still masked in everything the runner writes.
        """
        for name in self.secret_env_vars:
            value = os.environ.get(name)
            if value:
                remember_secret(value)
                remember_secret(quote(value, safe=""))  # as a probe URL sends it

    def referenced_variables(self) -> dict[str, list[str]]:
        """Every ``${ENV}`` variable the params use, with the keys that reference it
        (``{"API_KEY": ["probes.targets.0.url"]}``), from the validated values (comments are
        not references)."""
        found: dict[str, list[str]] = {}

        def walk(value: Any, key: str) -> None:
            if isinstance(value, dict):
                for name, item in value.items():
                    walk(item, f"{key}.{name}" if key else str(name))
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    walk(item, f"{key}.{index}")
            elif isinstance(value, str):
                for name in SECRET_REF.findall(value):
                    found.setdefault(name, []).append(key)

        walk(self.model_dump(mode="json"), "")
        return found

    def unset_secret_variables(self) -> dict[str, list[str]]:
        """The referenced variables that are not set now, with the keys that use them."""
        return {name: keys for name, keys in self.referenced_variables().items() if name not in os.environ}

    def default_review_date(self, now: dt.datetime | None = None) -> dt.date:
        """Yesterday in the params' timezone."""
        now = now or dt.datetime.now(dt.UTC)
        return now.astimezone(self.tz).date() - dt.timedelta(days=1)

    def day_window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) of a local day as UTC datetimes (23 or 25 hours on DST days)."""
        start = dt.datetime.combine(day, dt.time(), self.tz)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), self.tz)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def load_params(path: str | Path) -> Params:
    """Read and validate a params file; any problem is one ParamsError naming file and key."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(name, None, "params file not found") from None
    except OSError as exc:
        raise ParamsError(name, None, f"cannot read params file ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        raise ParamsError(name, where, f"invalid YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(data, dict):
        raise ParamsError(name, None, "expected a mapping of keys at the top level")
    try:
        params = Params.model_validate(
            {**data, "source_file": path.resolve(), "secret_env_vars": tuple(sorted(set(SECRET_REF.findall(text))))},
            context={"base": path.resolve().parent},
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or None
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err["type"] == "missing":
            message = "required key is missing"
        raise ParamsError(name, key, message) from None
    params = resolve_paths(params, path.resolve().parent)
    configure(params.share)  # what leaves for outputs/ is masked as these params say
    return params
