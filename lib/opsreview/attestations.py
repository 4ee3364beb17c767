"""Attestations: the checklist items no machine can check (Redis caching, a CDN, load testing,
API docs…), signed off by a person — who, when, a note — and valid for a number of days.

Declared in params (``checklist.attestations``) or in a file the team keeps beside them
(``checklist.attestations_file``: a YAML or JSON list of the same entries), so that signing an
item off is a reviewed change like any other. An attestation names an item by its exact text;
one that names an item a machine checks is an error (the review's evidence speaks for it).
An attestation expires ``expires_days`` (default ``checklist.attestation_days``) after it was
given; the item then reads *overdue* until someone attests it again.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator

from opsreview import checklist
from opsreview.schema import Section


def _attestable(text: str) -> str:
    try:
        item = checklist.item(text)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    if not item.attested:
        raise ValueError(
            f"{text!r} is checked by the {item.area} review: attestations are for items no source can check"
        )
    return text


class Attestation(Section):
    """One sign-off of a checklist item no machine can check."""

    item: str = Field(description="the checklist item's exact text")
    by: str = Field(description="who attests it (a name or a team)")
    date: dt.date = Field(description="when (YYYY-MM-DD)")
    note: str = Field("", description="what was checked, or where the evidence is (a link, a ticket)")
    expires_days: int | None = Field(
        None, gt=0, description="valid this many days (default: checklist.attestation_days)"
    )

    @field_validator("item")
    @classmethod
    def _item(cls, value: str) -> str:
        return _attestable(value)


class ChecklistParams(Section):
    """The living checklist: attestations and how far its history reaches."""

    attestations: tuple[Attestation, ...] = Field((), description="sign-offs of items no source can check")
    attestations_file: Path | None = Field(
        None, description="a YAML or JSON list of attestations kept beside the params (read at each run)"
    )
    attestation_days: int = Field(90, gt=0, description="how long an attestation stays valid, in days")
    history_days: int = Field(30, ge=1, le=120, description="days shown in each item's history strip")
    predeploy_max_age_days: int = Field(
        30, gt=0, description="a pre-deployment result older than this no longer verifies its items"
    )


@dataclass(frozen=True)
class AttestationState:
    """An item's attestation as of a review day."""

    attestation: Attestation
    expires_on: dt.date
    overdue: bool

    @property
    def evidence(self) -> str:
        a = self.attestation
        note = f": {a.note}" if a.note else ""
        if self.overdue:
            return f"attested by {a.by} on {a.date}{note} - expired on {self.expires_on}: attest it again"
        return f"attested by {a.by} on {a.date}{note} (valid until {self.expires_on})"


def load_attestations(params: ChecklistParams) -> tuple[list[Attestation], list[str]]:
    """The attestations of the params and of their file, and a one-line problem per bad file or
    entry (a bad entry is skipped, the others are kept)."""
    found = list(params.attestations)
    problems: list[str] = []
    path = params.attestations_file
    if path is None:
        return found, problems
    try:
        text = path.read_text(encoding="utf-8")
        # strings only (BaseLoader): a mistyped date is one bad entry, not an unreadable file
        data: Any = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=yaml.BaseLoader)
    except FileNotFoundError:
        return found, [f"{path}: attestations file not found"]
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return found, [f"{path}: cannot read attestations ({str(exc).splitlines()[0]})"]
    if isinstance(data, dict):
        data = data.get("attestations", [])
    if not isinstance(data, list):
        return found, [f"{path}: expected a list of attestations"]
    for index, entry in enumerate(data):
        try:
            found.append(Attestation.model_validate(entry))
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{path}: entry {index}{f' {key}' if key else ''}: {message}")
    return found, problems


def attestation_state(
    item: str, attestations: list[Attestation], day: dt.date, default_days: int
) -> AttestationState | None:
    """The newest attestation of ``item`` given on or before ``day``, and whether it has expired."""
    given = [a for a in attestations if a.item == item and a.date <= day]
    if not given:
        return None
    newest = max(given, key=lambda a: a.date)
    expires_on = newest.date + dt.timedelta(days=newest.expires_days or default_days)
    return AttestationState(newest, expires_on, overdue=day > expires_on)
