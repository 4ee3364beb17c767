"""The review context a notebook (or the CLI) opens: params, day, window, baseline, store."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from opsreview.exceptions import UsageError
from opsreview.params import Params, load_params
from opsreview.store import Store

RUN_DIR_ENV = "OPSREVIEW_RUN_DIR"


def parse_review_date(value: str | dt.date | None, params: Params, now: dt.datetime | None = None) -> dt.date:
    """Validate a review date: YYYY-MM-DD, not in the future of the params' timezone."""
    if value in (None, ""):
        return params.default_review_date(now)
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value))
        except ValueError:
            raise UsageError(f"--date {value!r}: expected YYYY-MM-DD") from None
    today = (now or dt.datetime.now(dt.UTC)).astimezone(params.tz).date()
    if day > today:
        raise UsageError(f"--date {day}: in the future (today is {today} in {params.timezone})")
    return day


@dataclass(frozen=True)
class ReviewContext:
    """Everything a review notebook needs to know about the day it reviews."""

    params: Params
    day: dt.date

    @property
    def store(self) -> Store:
        return Store(self.params.store)

    @property
    def window(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) of the review day in UTC."""
        return self.params.day_window(self.day)

    @property
    def baseline_days(self) -> list[dt.date]:
        """The trailing days compared against, oldest first."""
        n = self.params.baseline_days
        return [self.day - dt.timedelta(days=i) for i in range(n, 0, -1)]

    @property
    def run_dir(self) -> Path:
        """Where this run's outputs are staged (set by the runner) or published."""
        staged = os.environ.get(RUN_DIR_ENV)
        return Path(staged) if staged else self.params.outputs / self.day.isoformat()


def open_review(params_path: str | Path, review_date: str | dt.date | None = None) -> ReviewContext:
    """Open a review: what the first cell of every notebook calls."""
    params = load_params(params_path)
    return ReviewContext(params=params, day=parse_review_date(review_date, params))
