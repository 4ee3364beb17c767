"""Params section `predeploy`: what `opsreview predeploy` checks before a deploy, and where.

The gate reads the *target* of the deploy (``base_url``, a staging or freshly deployed
instance), the app's ``.env.example`` and the deployment's environment (only variable
*names* are read into any output, never values), endpoints to smoke (listed, or the GET
endpoints of the app's OpenAPI file), the migrations collection and folder, and the recorded
rollback target. The database is ``params.database`` (its ``uri``), the security probes are
``params.probes.targets`` sent to ``base_url``, the backups and alert channels are those of
their own sections.

Every check that cannot run today is *not checked*, which makes the verdict NO-GO unless the
check is listed in ``optional``: a gate that passes because nothing was checked is wrong.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from opsreview.probes.params import check_url
from opsreview.schema import Section
from opsreview.secrets import SECRET_REF, SecretRef

# The checks of the gate, in the order they run (check ids: predeploy.<name>).
CHECK_NAMES = ("env", "database", "migrations", "smoke", "security", "backup", "alerts", "rollback")
CheckName = Literal["env", "database", "migrations", "smoke", "security", "backup", "alerts", "rollback"]
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_STATUS = re.compile(r"^[1-5](?:xx|\d\d)$")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def check_statuses(value: list[int | str]) -> list[int | str]:
    """Accepted statuses: numbers (200) or classes ("2xx"); at least one."""
    if not value:
        raise ValueError("at least one accepted status")
    for item in value:
        if isinstance(item, int) and not 100 <= item <= 599:
            raise ValueError(f"status {item} is not an HTTP status")
        if isinstance(item, str) and not _STATUS.match(item):
            raise ValueError(f"status {item!r}: expected a number or a class such as '2xx'")
    return value


def status_accepted(status: int, accepted: list[int | str]) -> bool:
    """Whether ``status`` is one of ``accepted`` (numbers, "404", or classes "2xx")."""
    for item in accepted:
        text = str(item)
        if text.endswith("xx") and str(status)[0] == text[0]:
            return True
        if text.isdigit() and int(text) == status:
            return True
    return False


class SmokeEndpoint(Section):
    """One request of the smoke run: ``{method: GET, path: /api/health, expect: [200]}``."""

    method: str = Field("GET", description="GET | HEAD | POST | PUT | PATCH | DELETE | OPTIONS")
    path: str = Field(description="path on base_url, starting with /")
    expect: list[int | str] = Field(["2xx"], description="accepted statuses: 200, '2xx', 401 ...")
    headers: dict[str, str | SecretRef] = Field(
        default_factory=dict, description="request headers; values with ${ENV} are secrets resolved when sent"
    )
    body: str | None = Field(None, description="request body (sent as is, application/json)")

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        if value.upper() not in METHODS:
            raise ValueError(f"unknown HTTP method {value!r} ({', '.join(METHODS)})")
        return value.upper()

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value) or "${" in value:
            raise ValueError(f"path {value!r} must start with / and hold no spaces or ${{ENV}} references")
        return value

    @field_validator("expect")
    @classmethod
    def _expect(cls, value: list[int | str]) -> list[int | str]:
        return check_statuses(value)

    @field_validator("headers", mode="after")
    @classmethod
    def _headers(cls, value: dict[str, str | SecretRef]) -> dict[str, str | SecretRef]:
        for name in value:
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"invalid header name {name!r}")
        return {k: SecretRef(v) if isinstance(v, str) and SECRET_REF.search(v) else v for k, v in value.items()}

    def label(self) -> str:
        return f"{self.method} {self.path}"


class EnvSources(Section):
    """Where the deployment's environment is read from (names only; values never reach output)."""

    process: bool = Field(False, description="the environment `opsreview predeploy` runs in (e.g. a CI deploy job)")
    dotenv: list[Path] = Field(default_factory=list, description="dotenv files of the deployment (NAME=value lines)")

    @field_validator("dotenv")
    @classmethod
    def _relative_to_params(cls, value: list[Path], info: ValidationInfo) -> list[Path]:
        # resolve_paths() follows Path fields, not lists of them: relative paths follow the file here.
        base = (info.context or {}).get("base")
        return [path if path.is_absolute() or base is None else (Path(base) / path).resolve() for path in value]


class MigrationsCheck(Section):
    """A migrate-mongo style changelog collection and the folder of migration files."""

    database: str = Field(description="database holding the changelog collection")
    collection: str = Field("changelog", description="collection of applied migrations (migrate-mongo: changelog)")
    folder: Path = Field(description="folder of the app's migration files")
    pattern: str = Field("*.js", description="glob of migration files in folder")
    file_field: str = Field("fileName", description="field naming the applied file")
    applied_field: str = Field("appliedAt", description="field with the time it was applied")
    max_documents: int = Field(10_000, ge=1, le=100_000, description="changelog documents read at most")


class RollbackTarget(Section):
    """The recorded rollback target: what to go back to, when it was recorded and by whom."""

    version: str | None = Field(None, description="release version to roll back to")
    image: str | None = Field(None, description="container image to roll back to")
    tag: str | None = Field(None, description="git tag or image tag to roll back to")
    recorded_at: dt.datetime | None = Field(None, description="when the target was recorded (ISO 8601 with offset)")
    by: str | None = Field(None, description="who recorded it")
    file: Path | None = Field(
        None, description="a YAML/JSON file holding these keys instead (written by the release job)"
    )
    max_age_days: float | None = Field(None, gt=0, description="a target recorded longer ago than this fails")


class PredeployTimeouts(Section):
    request_seconds: float = Field(5.0, gt=0, le=120, description="limit of each smoke request, connect to last byte")
    database_seconds: float = Field(5.0, gt=0, le=60, description="connect, server selection and command limit")
    max_db_latency_ms: float | None = Field(None, gt=0, description="a database round trip slower than this fails")


class PredeployParams(Section):
    """The pre-deployment go/no-go of `opsreview predeploy`."""

    base_url: str | None = Field(None, description="the deploy target, e.g. https://staging.example.com")
    env_example: Path | None = Field(None, description="the app's .env.example: the variable names required")
    env_from: EnvSources = Field(default_factory=lambda: EnvSources())
    endpoints: list[SmokeEndpoint] = Field(default_factory=list, description="requests of the smoke run")
    openapi: Path | None = Field(None, description="the app's OpenAPI file: its GET endpoints without path parameters")
    openapi_expect: list[int | str] = Field(
        ["2xx", "3xx", 401, 403], description="statuses accepted from the OpenAPI file's endpoints"
    )
    probe_targets: list[str] = Field(
        default_factory=list, description="names of probes.targets run against base_url; empty: all"
    )
    database: bool = Field(True, description="test the connection of database.uri (hello, latency)")
    migrations: MigrationsCheck | None = None
    rollback: RollbackTarget | None = None
    timeouts: PredeployTimeouts = Field(default_factory=lambda: PredeployTimeouts())
    optional: list[CheckName] = Field(
        default_factory=list, description="checks whose 'not checked' does not make the verdict NO-GO"
    )

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_url(value.rstrip("/"), no_secret_reason=" (base_url says where requests go)")

    @field_validator("openapi_expect")
    @classmethod
    def _openapi_expect(cls, value: list[int | str]) -> list[int | str]:
        return check_statuses(value)

    @model_validator(mode="after")
    def _rollback_has_one_source(self) -> PredeployParams:
        rollback = self.rollback
        if rollback is not None and rollback.file is not None:
            inline = [k for k in ("version", "image", "tag", "recorded_at", "by") if getattr(rollback, k) is not None]
            if inline:
                raise ValueError(f"rollback: give either file or {', '.join(inline)}, not both")
        return self

    def secret_references(self) -> list[tuple[str, SecretRef]]:
        """The ``${ENV}`` header values of the smoke endpoints, with their params keys."""
        return [
            (f"predeploy.endpoints.{i}.headers.{name}", value)
            for i, endpoint in enumerate(self.endpoints)
            for name, value in endpoint.headers.items()
            if isinstance(value, SecretRef)
        ]
