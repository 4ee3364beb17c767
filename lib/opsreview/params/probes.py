"""Params section `probes`: probe targets, checks and thresholds."""

from __future__ import annotations

from opsreview.params.base import Section


class ProbesParams(Section):
    """Placeholder; the probes issue fills it in."""
