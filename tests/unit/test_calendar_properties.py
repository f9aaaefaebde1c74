"""Properties of the evaluation calendar (engine/calendar.py), periods (engine/periods.py) and the
next-working-day rule (engine/services/working_days.py), for any date, zone and time of day."""
from __future__ import annotations

import calendar as month_calendar
import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendar import JOBS, days_of, firings_between, next_firings, parse_time_of_day
from engine.errors import ValidationFailed
from engine.periods import last_month, month_of, months_ending, months_of, quarter_of, shift_month
from engine.services.working_days import next_working_day

PROPERTY = settings(max_examples=50, deadline=None)
FEW = settings(max_examples=25, deadline=None)
MONTH_LABEL = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

years = st.integers(1900, 2400)            # 1900 and 2100 are not leap years, 2000 and 2400 are
months = st.integers(1, 12)
# KAOHE_TIMEZONE is Asia/Shanghai in practice; zones with summer time check that nothing assumes a
# fixed offset. Times of day stay clear of the 01:00–03:00 summer-time switch.
zones = st.sampled_from(["Asia/Shanghai", "UTC", "Europe/Berlin", "America/New_York"])
times_of_day = st.builds(time, st.integers(4, 23), st.integers(0, 59))
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31),
                       timezones=st.just(timezone.utc))


def last_day(year, month):
    return month_calendar.monthrange(year, month)[1]


# ---------------------------------------------------------------- calendar days

@PROPERTY
@given(years)
def test_the_task_issuing_meeting_is_the_30th_or_the_last_day_of_a_shorter_month(year):
    for month in range(1, 13):
        [day] = days_of("task_issuing_meeting", year, month)
        assert day == (30 if last_day(year, month) >= 30 else last_day(year, month))
        assert date(year, month, day).month == month        # a real day of that month, never 1 March


@PROPERTY
@given(years)
def test_the_results_report_meeting_is_always_the_15th(year):
    assert all(days_of("results_report_meeting", year, month) == [15] for month in range(1, 13))


@PROPERTY
@given(years)
def test_the_xun_checks_are_the_10th_the_20th_and_the_last_day(year):
    for month in range(1, 13):
        assert days_of("xun_spot_check", year, month) == [10, 20, last_day(year, month)]


@PROPERTY
@given(years)
def test_the_quarter_end_is_the_last_day_of_a_quarters_last_month(year):
    for month in range(1, 13):
        ends_quarter = months_of(f"{year}Q{(month - 1) // 3 + 1}")[-1] == f"{year}-{month:02d}"
        assert days_of("quarter_end", year, month) == ([last_day(year, month)] if ends_quarter else [])


@PROPERTY
@given(years)
def test_every_job_falls_on_existing_days_of_its_own_month(year):
    for month in range(1, 13):
        for job in JOBS:
            days = days_of(job, year, month)
            assert days == sorted(set(days))
            assert all(date(year, month, day).month == month for day in days)


@PROPERTY
@given(moments, st.integers(1, 24 * 120), zones, times_of_day)
def test_firings_lie_in_the_window_in_order_at_the_local_time_on_their_calendar_day(start, hours, zone, at):
    end = start + timedelta(hours=hours)
    firings = firings_between(start, end, zone, at)
    assert firings == sorted(set(firings))
    for firing in firings:
        assert start < firing.scheduled_for <= end and firing.scheduled_for.utcoffset() == timedelta(0)
        local = firing.scheduled_for.astimezone(ZoneInfo(zone))
        assert local.time() == at
        assert local.day in days_of(firing.job, local.year, local.month)   # in the month it belongs to


@FEW
@given(st.integers(1900, 2299), months, st.integers(1, 14), zones, times_of_day)
def test_every_month_of_a_window_has_each_of_its_firings_exactly_once(year, month, count, zone, at):
    tz = ZoneInfo(zone)
    first = datetime(year, month, 1, tzinfo=tz)
    after = shift_month(f"{year}-{month:02d}", count)
    end = datetime(int(after[:4]), int(after[5:]), 1, tzinfo=tz)
    found = [(f.job, f.scheduled_for.astimezone(tz).date()) for f in firings_between(first, end, zone, at)]
    expected = []
    for label in months_ending(shift_month(after, -1), count):
        y, m = int(label[:4]), int(label[5:])
        expected += [(job, date(y, m, day)) for job in JOBS for day in days_of(job, y, m)]
    assert sorted(found) == sorted(expected)


@FEW
@given(moments, zones, st.integers(1, 30), st.integers(0, 10), times_of_day)
def test_next_firings_come_after_now_without_skipping_any(now, zone, count, more, at):
    upcoming = next_firings(now, zone, count, at)
    assert len(upcoming) == count and upcoming == sorted(upcoming)
    # none skipped (two jobs may share the last moment: e.g. the 30th of April is also its last day)
    assert upcoming == firings_between(now, upcoming[-1].scheduled_for, zone, at)[:count]
    assert next_firings(now, zone, count + more, at)[:count] == upcoming


@PROPERTY
@given(times_of_day)
def test_a_time_of_day_reads_back_as_written(at):
    assert parse_time_of_day(f"{at.hour:02d}:{at.minute:02d}") == at
    assert parse_time_of_day(f"{at.hour}:{at.minute:02d}") == at


# ---------------------------------------------------------------- periods

@PROPERTY
@given(moments, zones)
def test_every_moment_is_in_exactly_one_month_and_one_quarter(moment, zone):
    local = moment.astimezone(ZoneInfo(zone))
    month = month_of(moment, zone)
    assert month == f"{local.year}-{local.month:02d}"
    holding = [q for q in range(1, 5) if month in months_of(f"{local.year}Q{q}")]
    assert [f"{local.year}Q{q}" for q in holding] == [quarter_of(moment, zone)]
    assert last_month(moment, zone) == shift_month(month, -1)


@PROPERTY
@given(st.integers(1900, 2400))
def test_the_quarters_of_a_year_are_its_twelve_months_in_order(year):
    quarters = [months_of(f"{year}Q{q}") for q in range(1, 5)]
    assert [m for quarter in quarters for m in quarter] == [f"{year}-{m:02d}" for m in range(1, 13)]
    assert shift_month(months_of(f"{year}Q4")[-1], 1) == months_of(f"{year + 1}Q1")[0]   # no gap at new year


@PROPERTY
@given(years, months, zones)
def test_a_month_starts_exactly_where_the_previous_one_ends(year, month, zone):
    first = datetime(year, month, 1, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
    label = f"{year}-{month:02d}"
    assert month_of(first, zone) == label
    assert month_of(first - timedelta(microseconds=1), zone) == shift_month(label, -1)


@PROPERTY
@given(moments, moments, zones)
def test_later_moments_never_fall_in_an_earlier_period(a, b, zone):
    early, late = sorted((a, b))
    assert month_of(early, zone) <= month_of(late, zone) and quarter_of(early, zone) <= quarter_of(late, zone)


@PROPERTY
@given(years, months, st.integers(-600, 600), st.integers(-600, 600))
def test_shifting_months_is_invertible_and_adds_up(year, month, a, b):
    label = f"{year}-{month:02d}"
    shifted = shift_month(label, a)
    assert MONTH_LABEL.match(shifted)
    assert shift_month(shifted, -a) == label
    assert shift_month(shifted, b) == shift_month(label, a + b)
    assert shift_month(label, 12 * (a // 12)) == f"{year + a // 12}-{month:02d}"


@PROPERTY
@given(years, months, st.integers(1, 40))
def test_months_ending_are_consecutive_and_end_with_the_period(year, month, count):
    label = f"{year}-{month:02d}"
    run = months_ending(label, count)
    assert len(run) == count and run[-1] == label and months_of(run[0]) == [run[0]]
    assert all(shift_month(a, 1) == b for a, b in zip(run, run[1:]))


@PROPERTY
@given(years, months)
def test_months_of_reads_every_month_and_quarter_label(year, month):
    label, quarter = f"{year}-{month:02d}", f"{year}Q{(month - 1) // 3 + 1}"
    assert months_of(label) == [label]
    assert label in months_of(quarter) and len(months_of(quarter)) == 3


@PROPERTY
@given(st.text("0123456789-Qq /年月", max_size=8))
def test_months_of_refuses_anything_but_a_month_or_a_quarter(label):
    if re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])|[0-9]{4}Q[1-4]", label):
        assert len(months_of(label)) in (1, 3)
    else:
        with pytest.raises(ValidationFailed):
            months_of(label)


@pytest.mark.parametrize("label", ["2026-03\n", "2026Q1\n", "\u0662\u0660\u0662\u0666-03"])
def test_months_of_refuses_a_label_with_a_trailing_newline_or_non_ascii_digits(label):
    # months_of is the validator of period labels (record_interview, results pages): a label it lets
    # through is stored as given, and "2026Q4\n" would never match the interviews of "2026Q4".
    with pytest.raises(ValidationFailed):
        months_of(label)


# ---------------------------------------------------------------- next working day

class Holidays:
    """Stands in for the session next_working_day reads the listed non-working days from; it answers
    with every listed day (a superset of the window the real query asks for)."""

    def __init__(self, days):
        self.days = set(days)

    def scalars(self, _statement):
        return list(self.days)


days = st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31))
holiday_lists = st.sets(st.dates(min_value=date(2020, 1, 1), max_value=date(2041, 3, 31)), max_size=40)


def working(day, holidays):
    return day.weekday() < 5 and day not in holidays


@PROPERTY
@given(days)
def test_without_holidays_the_next_working_day_is_the_day_itself_or_the_monday_after(day):
    moved = next_working_day(None, day)
    assert moved == (day if day.weekday() < 5 else day + timedelta(days=7 - day.weekday()))


@PROPERTY
@given(days, holiday_lists, st.lists(st.integers(0, 6), max_size=3))
def test_the_next_working_day_is_the_first_working_day_not_before_the_deadline(day, holidays, runs):
    # a run of holidays right after the day (a Golden Week) as well as scattered ones
    holidays = holidays | {day + timedelta(days=n) for length in runs for n in range(length)}
    moved = next_working_day(Holidays(holidays), day)
    assert moved >= day and working(moved, holidays)
    assert not any(working(day + timedelta(days=n), holidays) for n in range((moved - day).days))
    assert next_working_day(Holidays(holidays), moved) == moved


@PROPERTY
@given(days, days, holiday_lists)
def test_a_later_deadline_never_moves_to_an_earlier_working_day(a, b, holidays):
    early, late = sorted((a, b))
    assert next_working_day(Holidays(holidays), early) <= next_working_day(Holidays(holidays), late)


@PROPERTY
@given(st.integers(2020, 2040), months, holiday_lists, st.integers(0, 9))
def test_a_meeting_on_a_non_working_day_moves_forward_and_only_then(year, month, holidays, closed):
    for job in ("task_issuing_meeting", "results_report_meeting"):
        [day] = days_of(job, year, month)
        deadline = date(year, month, day)
        # e.g. the National Day week starting on the meeting day
        listed = holidays | {deadline + timedelta(days=n) for n in range(closed)}
        moved = next_working_day(Holidays(listed), deadline)
        assert working(moved, listed) and deadline <= moved
        assert (moved == deadline) == working(deadline, listed)
