"""The calendar: the 30th (or the month's last day), the 15th, the 旬 checks and quarter ends."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.calendar import days_of, firings_between, next_firings

ZONE = "Asia/Shanghai"


@pytest.mark.parametrize("year, month, day", [(2026, 1, 30), (2026, 2, 28), (2028, 2, 29), (2026, 4, 30),
                                              (2026, 12, 30)])
def test_the_task_issuing_meeting_is_the_30th_or_the_last_day(year, month, day):
    assert days_of("task_issuing_meeting", year, month) == [day]


def test_a_whole_year_has_every_meeting_once():
    firings = firings_between(datetime(2025, 12, 31, 16, tzinfo=timezone.utc),  # 2026-01-01 00:00 in Shanghai
                              datetime(2026, 12, 31, 16, tzinfo=timezone.utc), ZONE)
    counts = Counter(f.job for f in firings)
    assert counts == {"task_issuing_meeting": 12, "results_report_meeting": 12, "xun_spot_check": 36,
                      "quarter_end": 4}
    assert len(set(firings)) == len(firings)
    february = [f for f in firings if f.job == "task_issuing_meeting" and f.scheduled_for.month == 2]
    assert february[0].scheduled_for == datetime(2026, 2, 28, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai


def test_next_firings_start_after_now_in_order_at_the_configured_time():
    now = datetime(2026, 3, 15, 1, 0, tzinfo=timezone.utc)  # the 15th, 09:00 local: that one is not "next"
    upcoming = next_firings(now, ZONE, 12, at=time(8, 30))
    assert len(upcoming) == 12 and upcoming == sorted(upcoming)
    assert upcoming[0].scheduled_for > now
    assert (upcoming[0].job, upcoming[0].scheduled_for) == ("xun_spot_check",
                                                            datetime(2026, 3, 20, 0, 30, tzinfo=timezone.utc))


@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(timezone.utc)),
       st.integers(min_value=1, max_value=400))
def test_consecutive_windows_never_lose_or_repeat_a_firing(start, hours):
    from datetime import timedelta
    middle, end = start + timedelta(hours=hours), start + timedelta(hours=2 * hours)
    assert firings_between(start, middle, ZONE) + firings_between(middle, end, ZONE) == \
        firings_between(start, end, ZONE)


def test_periods_cross_year_boundaries():
    from engine.periods import last_month, months_ending, quarter_of, shift_month
    assert shift_month("2026-01", -1) == "2025-12" and shift_month("2025-12", 1) == "2026-01"
    assert months_ending("2026-02", 3) == ["2025-12", "2026-01", "2026-02"]
    new_year_eve_utc = datetime(2025, 12, 31, 16, 30, tzinfo=timezone.utc)  # already 1 January in Shanghai
    assert last_month(new_year_eve_utc, ZONE) == "2025-12" and quarter_of(new_year_eve_utc, ZONE) == "2026Q1"
