"""Params section `logs`: access logs, application logs and their thresholds."""

from __future__ import annotations

from opsreview.params.base import Section


class LogsParams(Section):
    """Placeholder; the log-review issue fills it in."""
