"""Params section `logs`: access logs, application logs and their thresholds."""

from __future__ import annotations

from pydantic import Field

from opsreview.params.base import Section
from opsreview.params.log_thresholds import LogThresholds


class LogsParams(Section):
    """Sources of the log review (filled in by the log-review work)."""

    thresholds: LogThresholds = Field(default_factory=lambda: LogThresholds())
