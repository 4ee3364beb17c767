"""The payments review's own analysis: hours without their usual payments."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd

from opsreview.payments.analysis import volume_drops

TZ = ZoneInfo("Europe/Berlin")
DAY = dt.date(2026, 12, 5)


def hourly(day: dt.date, counts: dict[int, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": [pd.Timestamp(dt.datetime.combine(day, dt.time(h), TZ)) for h in counts],
            "attempts": list(counts.values()),
        }
    )


def test_an_hour_far_below_its_usual_payments_is_a_drop_and_a_quiet_night_is_not() -> None:
    usual = {3: 2, 12: 100, 13: 110, 14: 90}
    baseline = pd.concat([hourly(DAY - dt.timedelta(days=d), usual) for d in range(1, 8)], ignore_index=True)
    today = hourly(DAY, {3: 0, 12: 95, 14: 20})  # 13:00 had no payment at all; 03:00 is always quiet
    drops = volume_drops(today, baseline, TZ, drop=0.6, min_median=20)
    assert list(drops["hour"]) == [13, 14]
    assert list(drops["attempts"]) == [0, 20]
    assert list(drops["baseline_median"]) == [110, 90]
    assert volume_drops(today, baseline.iloc[:8], TZ, drop=0.6, min_median=20).empty  # two baseline days: not judged
