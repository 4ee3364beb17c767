"""Params section `logs`: access logs, application logs, route templates and thresholds.

Paths are files, globs or folders (rotated and ``.gz`` files are read transparently); relative
ones are taken from the params file's folder (see :meth:`LogSource.resolved_paths`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from opsreview.logs.thresholds import LogThresholds
from opsreview.schema import Section

# Columns of the `requests` table a JSON access log can fill, with pino-http's field names as
# the default mapping (dotted paths into each JSON object).
JSON_ACCESS_FIELDS: dict[str, str] = {
    "ts": "time",
    "remote_addr": "req.remoteAddress",
    "remote_user": "req.remoteUser",
    "method": "req.method",
    "url": "req.url",
    "http_version": "req.httpVersion",
    "status": "res.statusCode",
    "bytes": "res.headers.content-length",
    "referrer": "req.headers.referer",
    "user_agent": "req.headers.user-agent",
    "response_time_ms": "responseTime",
    "total_time_ms": "totalTime",
}


_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class LogSource(Section):
    """Files of one host."""

    host: str = Field(min_length=1, description="host label stored with every row")
    paths: list[str] = Field(min_length=1, description="files, globs or folders (relative to the params file)")

    @field_validator("paths")
    @classmethod
    def _local(cls, paths: list[str]) -> list[str]:
        for path in paths:
            scheme = _URI.match(path)
            if scheme:
                raise ValueError(
                    f"{path!r}: {scheme.group(1)}:// paths are not listed by opsreview yet; mount the bucket or "
                    "file system read-only (mountpoint-s3, gcsfuse, an HDFS NFS gateway) and give the mount's path "
                    "(README, 'Running on Spark')"
                )
        return paths

    def resolved_paths(self, base: Path) -> list[str]:
        """The paths with relative ones made absolute against ``base`` (globs kept as globs)."""
        return [os.path.normpath(os.path.join(base, os.path.expanduser(p))) for p in self.paths]


class AccessLogSource(LogSource):
    """An access log: morgan (predefined name or format string) or JSON lines."""

    format: str = Field(
        "combined",
        description="combined|common|dev|short|tiny|combined_rt|json|<any morgan format string>",
    )
    json_fields: dict[str, str] = Field(
        default_factory=dict,
        description="format json only: column -> dotted JSON path (defaults: pino-http names)",
    )

    @field_validator("format")
    @classmethod
    def _format_compiles(cls, value: str) -> str:
        if value != "json":
            from opsreview.logs.access.morgan import FormatError, compile_format

            try:
                compile_format(value)
            except FormatError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("json_fields")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(JSON_ACCESS_FIELDS))
        if unknown:
            raise ValueError(f"unknown column(s) {', '.join(unknown)} (known: {', '.join(JSON_ACCESS_FIELDS)})")
        return value

    @property
    def json_mapping(self) -> dict[str, str]:
        return {**JSON_ACCESS_FIELDS, **self.json_fields}


class AppLogSource(LogSource):
    """An application log: JSON lines (winston/pino) or plain text with stack traces."""

    format: Literal["json", "text"] = Field("json", description="json | text")
    json_fields: dict[str, str] = Field(
        default_factory=dict,
        description="format json only: level|ts|message|stack -> dotted JSON path, when not the usual names",
    )


class LogsParams(Section):
    """Sources of the log review."""

    access: list[AccessLogSource] = Field(default_factory=list, description="access-log sources")
    app: list[AppLogSource] = Field(default_factory=list, description="application-log sources")
    routes: list[str] = Field(
        default_factory=list,
        description="explicit route templates (Express syntax, e.g. /api/users/:id); auto-templating otherwise",
    )
    thresholds: LogThresholds = Field(default_factory=lambda: LogThresholds())

    @field_validator("routes")
    @classmethod
    def _routes_valid(cls, value: list[str]) -> list[str]:
        from opsreview.logs.access.routes import compile_routes

        compile_routes(value)
        return value
