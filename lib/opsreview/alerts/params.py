"""Params section `alerts`: where the day's findings are sent, and when not to send them again.

The model is Prometheus Alertmanager's, cut to a daily review: **channels** are its receivers
(one apprise URL each, always an ``${ENV}`` reference: a webhook URL is a credential, so a
literal one is refused at load and never repeated in the error), **routes** its routing tree
flattened to an ordered list (the first route that matches a finding picks its channels, unless
it says ``continue_matching``), ``repeat_interval`` its repeat interval, ``send_resolved`` its
resolved notifications and **inhibit** its inhibition rules (a source finding mutes target
findings whose time windows overlap it and whose ``equal`` fields match).

Incident tools: a channel whose URL is ``pagerduty://`` or ``opsgenie://`` never gets RESOLVED
messages. apprise sends every message to them as a new incident (PagerDuty's ``action=trigger``
without a dedup key), so a resolve would page on-call again; the resolve is recorded in the
state (``cleared``) and the incident is resolved in the tool.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from opsreview.findings import Finding, Severity
from opsreview.schema import Section
from opsreview.secrets import SECRET_REF, SecretRef

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
EqualField = Literal["area", "check", "subject"]


def parse_duration_hours(value: object, key: str) -> float:
    """``24h``, ``2d``, ``1d12h``, ``90m`` or a number of hours -> hours."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        hours = float(value)
    else:
        match = _DURATION.fullmatch(str(value).strip())
        if not match or not any(match.groups()):
            raise ValueError(f"{key}: {value!r} is not a duration such as 24h, 2d or 90m")
        days, hrs, mins = (int(g or 0) for g in match.groups())
        hours = days * 24 + hrs + mins / 60
    if hours <= 0:
        raise ValueError(f"{key}: must be longer than 0")
    return hours


def _severity(value: object) -> Severity:
    return Severity.parse(value)  # type: ignore[arg-type]


class FindingMatcher(Section):
    """Which findings a route or an inhibition side applies to (every list empty: all)."""

    severities: list[Severity] = Field(default_factory=list, description="info | warning | critical; empty: any")
    areas: list[str] = Field(default_factory=list, description="areas (logs, probes, ...); empty: any")
    checks: list[str] = Field(
        default_factory=list, description="check ids, shell patterns allowed (logs.5xx_*); empty: any"
    )
    subjects: list[str] = Field(
        default_factory=list, description="subjects (route, probe, host...), shell patterns allowed; empty: any"
    )

    @field_validator("severities", mode="before")
    @classmethod
    def _severities(cls, value: Any) -> Any:
        return [_severity(v) for v in value] if isinstance(value, list) else value

    def matches(self, finding: Finding) -> bool:
        return (
            (not self.severities or finding.severity in self.severities)
            and (not self.areas or finding.area in self.areas)
            and (not self.checks or any(fnmatch.fnmatchcase(finding.check, p) for p in self.checks))
            and (not self.subjects or any(fnmatch.fnmatchcase(finding.subject, p) for p in self.subjects))
        )


class ChannelParams(Section):
    name: str = Field(min_length=1, description="how reports, logs and errors name the channel (never by its URL)")
    url: SecretRef = Field(
        description='the apprise URL as an ${ENV} reference, e.g. "${ALERTS_SLACK_URL}" holding slack://..., '
        "workflows://..., mailtos://..., pagerduty://..., opsgenie://... or json://...; a pagerduty:// or "
        "opsgenie:// channel never gets RESOLVED messages (apprise would open a new incident with one): "
        "resolve incidents in the tool"
    )
    min_severity: Severity = Field(Severity.warning, description="findings below this never reach the channel")
    areas: list[str] = Field(default_factory=list, description="only findings of these areas; empty: every area")

    @field_validator("min_severity", mode="before")
    @classmethod
    def _min_severity(cls, value: Any) -> Severity:
        return _severity(value)

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: object) -> object:
        text = value.reference if isinstance(value, SecretRef) else str(value)
        if not SECRET_REF.fullmatch(text.strip()):
            # the value itself is never repeated: it is a webhook URL or holds a password
            raise ValueError('must be an ${ENV} reference such as "${ALERTS_SLACK_URL}" (a channel URL is a secret)')
        return text.strip()

    def accepts(self, finding: Finding) -> bool:
        return finding.severity >= self.min_severity and (not self.areas or finding.area in self.areas)


class RouteParams(Section):
    match: FindingMatcher = Field(default_factory=lambda: FindingMatcher(), description="findings this route takes")
    channels: list[str] = Field(min_length=1, description="names of the channels these findings go to")
    continue_matching: bool = Field(
        False, description="also try the routes below (Alertmanager's continue); default: the first match wins"
    )


class InhibitRule(Section):
    source: FindingMatcher = Field(description="findings that mute others (e.g. checks: [probes.outage])")
    target: FindingMatcher = Field(description="findings muted (e.g. checks: [logs.5xx_rate, logs.5xx_burst])")
    equal: list[EqualField] = Field(
        default_factory=list, description="fields that must be equal on source and target: area, check, subject"
    )
    same_window: bool = Field(
        True,
        description="both findings must have a time window (start-end; a start alone is a point) and the windows "
        "must overlap; a finding without a window (a day-level one such as logs.5xx_rate) is never muted, nor mutes",
    )


class AlertTimeouts(Section):
    connect_seconds: float = Field(5, gt=0, le=60, description="connect timeout of every delivery (apprise cto)")
    read_seconds: float = Field(10, gt=0, le=120, description="read timeout of every delivery (apprise rto)")


class AlertsParams(Section):
    channels: list[ChannelParams] = Field(
        default_factory=list, description="where notifications go; empty: alerts not configured (a finding)"
    )
    routes: list[RouteParams] = Field(
        default_factory=list,
        description="ordered routes by severity/area/check; empty: every channel gets what its own filters accept",
    )
    repeat_interval: float = Field(
        24,
        description="an open finding unchanged since it was sent is sent again once this much has passed since it "
        "was last sent (24h, 2d), counted in review days, rounded up to whole days, never by the clock of the run "
        "(a daily cron that runs minutes early still counts a day): 24h (the default) sends every open finding again "
        "on every daily review (a daily reminder); 48h every second day; 7d once a week; under 24h acts as 24h",
    )
    send_resolved: bool = Field(True, description="send once, as resolved, a finding that cleared")
    inhibit: list[InhibitRule] = Field(default_factory=list, description="findings that mute others")
    report_base_url: str | None = Field(
        None, description="where the reports are served; the message links <base>/<date>/index.html"
    )
    top_findings: int = Field(5, ge=1, le=50, description="findings listed in one message (the rest: a count)")
    timeouts: AlertTimeouts = Field(default_factory=lambda: AlertTimeouts())

    @field_validator("repeat_interval", mode="before")
    @classmethod
    def _repeat(cls, value: Any) -> float:
        return parse_duration_hours(value, "repeat_interval")

    @model_validator(mode="after")
    def _routes_name_channels(self) -> AlertsParams:
        names = [c.name for c in self.channels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"channel names must be unique: {', '.join(duplicates)}")
        for index, route in enumerate(self.routes):
            unknown = [n for n in route.channels if n not in names]
            if unknown:
                raise ValueError(f"routes.{index}.channels: unknown channel {', '.join(unknown)}")
        return self

    def channel(self, name: str) -> ChannelParams:
        return next(c for c in self.channels if c.name == name)
