"""The incident timeline: every area's anomaly windows on one time axis, grouped into incidents.

A finding with a window (``start``/``end``: a 5xx burst, a probe outage, a replication-lag
episode, an hour of payment declines ...) is a bar on the axis. Grouping, by a window's length:

- short windows (up to ``timeline.long_window_hours``) that overlap, or lie at most
  ``timeline.merge_gap_minutes`` apart, are one :class:`Incident` (a chain of them too);
- a long window (longer than that, up to ``timeline.day_long_hours``: a 4 h API outage) absorbs
  the short windows it overlaps (within the gap), with the whole chain each belongs to: the 5xx
  burst inside the outage is the outage's incident. It never chains onward: two long windows
  are two incidents even when they overlap, and a chain of short windows touching both joins
  the one it overlaps longest (the earlier on a tie);
- a day-long window (longer than ``timeline.day_long_hours``: a latency regression all day)
  stands alone and absorbs nothing, or it would fold the whole day into one incident.

Incidents are ranked by their worst severity, then by how many areas agree, then by duration;
each carries the deploy markers inside it or up to ``timeline.deploy_lookback_minutes`` before
it, and a one-line story built from its findings' own facts, in the review's time zone: times
of the review day as ``14:10``, others with their date (``12-05 03:10``), the midnight that
ends the review day as ``24:00``.

Pure functions over findings and markers; :func:`load_deploys` reads the params' markers and
their file (a bad file is a problem line, never an exception).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from opsreview.findings import Finding, Severity
from opsreview.localtime import Zone, local_iso
from opsreview.params import DeployMarker, TimelineParams

__all__ = ["Deploy", "Incident", "build_incidents", "clock", "finding_window", "load_deploys", "story_fact"]


@dataclass(frozen=True)
class Deploy:
    """A deploy marker: when (UTC), which version, what changed."""

    at: pd.Timestamp
    version: str = ""
    note: str = ""

    @property
    def label(self) -> str:
        return " ".join(p for p in (self.version, f"({self.note})" if self.note else "") if p) or "deploy"

    def to_dict(self, tz: Zone) -> dict[str, str]:
        return {"at": local_iso(self.at, tz), "version": self.version, "note": self.note}


@dataclass(frozen=True)
class Incident:
    """Anomaly windows of one stretch of time, from one or more areas; ``day`` is the review day
    its times are told against (without one: the local day the incident ends in)."""

    start: pd.Timestamp
    end: pd.Timestamp
    findings: tuple[Finding, ...]
    deploys: tuple[Deploy, ...] = ()
    day: dt.date | None = None

    @property
    def severity(self) -> Severity:
        return max(f.severity for f in self.findings)

    @property
    def areas(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.area for f in self.findings))

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60

    def review_day(self, tz: Zone) -> dt.date:
        """The day the times are told against: ``day``, or the local day the incident ends in
        (an end at midnight belongs to the day before)."""
        if self.day is not None:
            return self.day
        return (pd.Timestamp(self.end).tz_convert(tz) - pd.Timedelta(microseconds=1)).date()

    def clock(self, ts: pd.Timestamp, tz: Zone, end: bool = False) -> str:
        """``14:10`` on the review day, ``12-05 03:10`` on another, ``24:00`` for an ``end`` at
        the midnight that closes the review day."""
        return clock(ts, tz, self.review_day(tz), end)

    def span(self, tz: Zone) -> str:
        last = self.clock(self.end, tz, end=True)
        first = last if self.start == self.end else self.clock(self.start, tz)
        return first if first == last else f"{first}–{last}"

    def story(self, tz: Zone) -> str:
        """``14:10–14:30 (Europe/Berlin): POST /api/orders 5xx 55%, MongoNetworkTimeoutError ×41
        on api-1; after deploy v2.14 at 14:02``: the worst findings' facts first."""
        ordered = sorted(self.findings, key=lambda f: -int(f.severity))
        facts = list(dict.fromkeys(story_fact(f) for f in ordered))
        text = f"{self.span(tz)} ({tz}): " + ", ".join(facts[:6])
        if len(facts) > 6:
            text += f" and {len(facts) - 6} more"
        if self.deploys:
            text += "; " + ", ".join(
                f"{'after' if d.at < self.start else 'during'} deploy {d.label} at {self.clock(d.at, tz)}"
                for d in self.deploys
            )
        return text

    def to_dict(self, tz: Zone) -> dict[str, Any]:
        return {
            "start": local_iso(self.start, tz),
            "end": local_iso(self.end, tz),
            "severity": self.severity.name,
            "areas": list(self.areas),
            "fingerprints": list(dict.fromkeys(f.fingerprint for f in self.findings)),
            "deploys": [d.to_dict(tz) for d in self.deploys],
            "story": self.story(tz),
        }


def clock(ts: pd.Timestamp, tz: Zone, day: dt.date, end: bool = False) -> str:
    """A time for people against the review ``day``: ``14:10`` on it, ``12-05 03:10`` on another
    day (a backup gap from the night before), ``24:00`` for an ``end`` at the midnight after it."""
    local = pd.Timestamp(ts).tz_convert(tz)
    if local.date() == day:
        return local.strftime("%H:%M")
    if end and local.date() == day + dt.timedelta(days=1) and local.strftime("%H:%M:%S.%f") == "00:00:00.000000":
        return "24:00"
    return local.strftime("%m-%d %H:%M")


def finding_window(finding: Finding) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """A finding's window as UTC timestamps; a point when it has only a start; none without one
    (or with an unreadable one: the finding is still in the report, only not on the axis)."""
    if not finding.start:
        return None
    try:
        start = _utc(finding.start)
        end = _utc(finding.end) if finding.end else start
    except ValueError:
        return None
    return (start, end) if start <= end else (end, start)


def _utc(text: str) -> pd.Timestamp:
    stamp = pd.Timestamp(text)
    if stamp.tzinfo is None:
        raise ValueError(f"no offset in {text!r}")
    return stamp.tz_convert("UTC")


Window = tuple[pd.Timestamp, pd.Timestamp]
Group = list[tuple[Window, Finding]]


def build_incidents(
    findings: Iterable[Finding],
    deploys: Sequence[Deploy] = (),
    settings: TimelineParams | None = None,
    day: dt.date | None = None,
) -> list[Incident]:
    """Incidents from the findings' windows, the most important first (the rules are in the
    module docstring); ``day`` is the review day their stories tell times against."""
    settings = settings or TimelineParams()
    gap = pd.Timedelta(minutes=settings.merge_gap_minutes)
    long = pd.Timedelta(hours=settings.long_window_hours)
    day_long = pd.Timedelta(hours=settings.day_long_hours)
    windows = sorted(
        ((w, f) for f in findings if (w := finding_window(f)) is not None), key=lambda item: (item[0][0], item[0][1])
    )
    alone: list[Group] = []  # day-long windows, one incident each
    longs: list[Group] = []  # long windows, each seeding an incident that absorbs short chains
    chains: list[Group] = []  # chains of short windows
    open_end = pd.Timestamp.min.tz_localize("UTC")
    for window, finding in windows:
        length = window[1] - window[0]
        if length > long:
            (alone if length > day_long else longs).append([(window, finding)])
        elif chains and window[0] <= open_end + gap:
            chains[-1].append((window, finding))
            open_end = max(open_end, window[1])
        else:
            chains.append([(window, finding)])
            open_end = window[1]
    for chain in chains:
        host = _absorbing(chain, longs, gap)
        if host is None:
            alone.append(chain)
        else:
            host.extend(chain)
    lookback = pd.Timedelta(minutes=settings.deploy_lookback_minutes)
    incidents = []
    for group in alone + longs:
        group.sort(key=lambda item: (item[0][0], item[0][1]))
        start, end = min(w[0] for w, _ in group), max(w[1] for w, _ in group)
        near = tuple(sorted((d for d in deploys if start - lookback <= d.at <= end), key=lambda d: d.at))
        incidents.append(Incident(start, end, tuple(f for _, f in group), near, day))
    return sorted(incidents, key=lambda i: (-int(i.severity), -len(i.areas), -i.minutes, i.start))


def _absorbing(chain: Group, longs: list[Group], gap: pd.Timedelta) -> Group | None:
    """The long window's group a chain of short windows joins: of those one of its windows
    overlaps (within the gap), the one it overlaps longest, the earlier on a tie; none if none."""
    best: tuple[pd.Timedelta, Group] | None = None
    for group in longs:  # sorted by start: a tie keeps the earlier
        (ls, le), _ = group[0]
        if not any(w[0] <= le + gap and ls <= w[1] + gap for w, _ in chain):
            continue
        overlap = sum((max(min(w[1], le) - max(w[0], ls), pd.Timedelta(0)) for w, _ in chain), start=pd.Timedelta(0))
        if best is None or overlap > best[0]:
            best = (overlap, group)
    return best[1] if best else None


def incidents_summary(
    findings: Iterable[Finding], settings: TimelineParams, tz: Zone, day: dt.date | None = None
) -> list[dict[str, Any]]:
    """``summary.json``'s ``incidents``: the day's incidents as dicts (markers from the params
    and their file; a bad file leaves its markers out, the summary notebook says why)."""
    deploys, _problems = load_deploys(settings)
    return [i.to_dict(tz) for i in build_incidents(findings, deploys, settings, day)]


# --- deploy markers ---------------------------------------------------------------------------


def load_deploys(settings: TimelineParams) -> tuple[list[Deploy], list[str]]:
    """The params' markers and those of ``deploys_file``; problems as one line each (file, line)."""
    deploys = [_deploy(m) for m in settings.deploys]
    problems: list[str] = []
    path = settings.deploys_file
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            problems.append(f"timeline.deploys_file {path}: cannot read it ({exc.strerror or exc})")
        else:
            found, bad = parse_deploys(text, str(path))
            deploys += found
            problems += bad
    return sorted(deploys, key=lambda d: d.at), problems


def parse_deploys(text: str, name: str) -> tuple[list[Deploy], list[str]]:
    """Markers from JSON lines or CSV (header ``at,version,note``), told apart by the first
    character; a bad line is a problem naming the file and line, the others are kept."""
    stripped = text.lstrip()
    if not stripped:
        return [], []
    rows: list[tuple[int, Any]] = []
    problems: list[str] = []
    if stripped.startswith("{"):
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((number, json.loads(line)))
                except ValueError as exc:
                    problems.append(f"{name} line {number}: not JSON ({exc.args[0] if exc.args else exc})")
    else:
        reader = csv.DictReader(io.StringIO(text))
        if "at" not in (reader.fieldnames or []):
            return [], [f"{name}: neither JSON lines nor CSV with an 'at' column"]
        rows = [(reader.line_num, row) for row in reader]
    out = []
    for number, row in rows:
        try:
            if not isinstance(row, dict):
                raise ValueError("expected an object with at, version, note")
            marker = DeployMarker.model_validate({k: v for k, v in row.items() if k in ("at", "version", "note") and v})
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            problems.append(f"{name} line {number}: {str(exc).splitlines()[-1].strip() or exc}")
            continue
        out.append(_deploy(marker))
    return out, problems


def _deploy(marker: DeployMarker) -> Deploy:
    return Deploy(pd.Timestamp(marker.at).tz_convert("UTC"), marker.version, marker.note)


# --- the story's facts ------------------------------------------------------------------------


def _pct(value: Any) -> str:
    return f"{float(value) * 100:.0f}%" if isinstance(value, int | float) else "?"


def _error_fact(f: Finding) -> str:
    what = f.evidence.get("error_type") or f.title.split(":", 1)[0]
    hosts = ", ".join(str(h) for h in f.evidence.get("hosts") or [])
    return f"{what} ×{f.value}" + (f" on {hosts}" if hosts else "")


# One short fact per check, from the finding's own value, subject and evidence; any other check
# tells its title.
FACTS: dict[str, Callable[[Finding], str]] = {
    "logs.5xx_burst": lambda f: f"{f.subject} 5xx {_pct(f.value)}",
    "logs.p95_regression": lambda f: f"{f.subject} p95 {f.value}× its baseline",
    "logs.p95_route": lambda f: f"{f.subject} p95 {f.value:.0f} ms",
    "logs.auth_failure_burst": lambda f: f"{f.evidence.get('401', 0)} failed logins from {f.subject}",
    "logs.gap": lambda f: f"no access log from {f.subject} for {f.value} min",
    "errors.gap": lambda f: f"no application log from {f.subject} for {f.value} min",
    "errors.new_fingerprint": _error_fact,
    "errors.spike": _error_fact,
    "errors.fatal": _error_fact,
    "probes.outage": lambda f: f"{f.subject} down {f.value:.0f} min",
    "probes.gap": lambda f: f"no probe results for {f.subject} for {f.value:.0f} min",
    "database.connections": lambda f: f"db connections at {_pct(f.value)} on {f.subject}",
    "database.cache": lambda f: "db cache {} {} on {}".format(_pct(f.value), *reversed(f.subject.rsplit(" ", 1))),
    "database.queue": lambda f: f"{f.value:.0f} db operations queued on {f.subject}",
    "database.long_op": lambda f: f"db operation running {f.value:.0f} s ({f.subject})",
    "database.repl_lag": lambda f: f"{f.subject} replication lag {f.value:.0f} s",
    "database.member_unhealthy": lambda f: f"{f.subject} {f.evidence.get('state', 'unhealthy')}",
    "payments.decline_spike": lambda f: f"declines {f.subject} ×{f.value} ({f.threshold} expected)",
    "payments.auth_rate_hour": lambda f: f"card authorization rate {_pct(f.value)}",
    "payments.volume_drop": lambda f: f"{f.value} payments in an hour (fewer than {f.threshold})",
    "payments.webhook_failures": lambda f: f"webhook deliveries failing ({_pct(f.value)} of events)",
}


def story_fact(finding: Finding) -> str:
    """The finding's fact in a few words (its title when its check has no short form, or when
    the short form cannot be built from what the finding holds)."""
    fact = FACTS.get(finding.check)
    if fact is not None:
        try:
            return fact(finding)
        except (TypeError, ValueError, KeyError):
            pass
    return finding.title if len(finding.title) <= 120 else finding.title[:119] + "…"
