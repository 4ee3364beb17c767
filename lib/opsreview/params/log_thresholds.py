"""Thresholds of the log-review findings, with defaults."""

from __future__ import annotations

from opsreview.params.base import Section


class LogThresholds(Section):
    """Placeholder; filled in by the log analysis work."""
