from decimal import Decimal

import pytest

from engine.scoring import ScoringError, excellent_shortlist, full_marks_streaks

D = Decimal


def scores(**by_code):
    return {code: D(score) for code, score in by_code.items()}


@pytest.mark.parametrize("given, failed, expected", [
    pytest.param(scores(a=90, b=80, c=70, d=60), [], ["a", "b"], id="top half of an even count"),
    pytest.param(scores(a=90, b=80, c=70, d=60, e=50), [], ["a", "b"], id="odd count: the middle one is out"),
    pytest.param(scores(a=90), [], [], id="one person: no top half"),
    pytest.param({}, [], [], id="nobody"),
    pytest.param(scores(a=90, b=80, c=80, d=70), [], ["a", "b", "c"],
                 id="a tie at the boundary takes in all tied"),
    pytest.param(scores(a=85, b=85, c=85, d=85), [], ["a", "b", "c", "d"], id="all tied"),
    pytest.param(scores(a=90, b=80, c=70, d=60), ["a"], ["b"], id="failed the political check: left out"),
    pytest.param(scores(a=90, b=80, c=70, d=60), ["a", "b"], [], id="the failed still count and take places"),
    pytest.param(scores(a=70, b=95, c=80, d=60, e=99, f=10), ["x"], ["e", "b", "c"], id="best first"),
])
def test_excellent_shortlist(given, failed, expected):
    assert excellent_shortlist(given, failed) == expected


def full(period, score=100, maximum=100):
    return (period, D(score), D(maximum))


@pytest.mark.parametrize("entries, expected", [
    pytest.param([full("2026-01"), full("2026-02"), full("2026-03")], True, id="three full months"),
    pytest.param([full("2026-03"), full("2026-01"), full("2026-02")], True, id="any order"),
    pytest.param([full("2025-11"), full("2025-12"), full("2026-01")], True, id="across the new year"),
    pytest.param([full("2026-01"), full("2026-03"), full("2026-04")], False, id="a gap breaks the streak"),
    pytest.param([full("2026-01"), full("2026-02", 99), full("2026-03")], False, id="one month short"),
    pytest.param([full("2026-01"), full("2026-02"), full("2026-03"), full("2026-04", 90)], False,
                 id="the latest month counts"),
    pytest.param([full("2025-12", 90), full("2026-01"), full("2026-02"), full("2026-03")], True,
                 id="older months do not matter"),
    pytest.param([full("2026-02"), full("2026-03")], False, id="too few months"),
    pytest.param([full("2026-01", 12, 10), full("2026-02", 10, 10), full("2026-03", 10, 10)], True,
                 id="bonus points above the maximum are full marks too"),
    pytest.param([], False, id="no history"),
])
def test_full_marks_streaks(entries, expected):
    assert full_marks_streaks({"p1": entries}) == ({"p1"} if expected else set())


def test_several_codes_and_another_length():
    history = {"a": [full("2026-02"), full("2026-03")], "b": [full("2026-03")], "c": [full("2026-03", 50)]}
    assert full_marks_streaks(history) == set()
    assert full_marks_streaks(history, months=2) == {"a"}
    assert full_marks_streaks(history, months=1) == {"a", "b"}


def test_as_of_ends_every_streak_in_that_month():
    history = {"old": [full("2025-01"), full("2025-02"), full("2025-03")],
               "now": [full("2026-01"), full("2026-02"), full("2026-03"), full("2026-04", 0)]}
    assert full_marks_streaks(history) == {"old"}
    assert full_marks_streaks(history, as_of="2026-03") == {"now"}


@pytest.mark.parametrize("history, months, word", [
    ({"a": [full("2026-3")]}, 3, "year-month"),
    ({"a": [full("2026-13")]}, 3, "year-month"),
    ({"a": [full("2026-03"), full("2026-03", 90)]}, 3, "two entries"),
    ({}, 0, "positive integer"),
])
def test_invalid_history_is_refused(history, months, word):
    with pytest.raises(ScoringError) as raised:
        full_marks_streaks(history, months)
    assert word in raised.value.message.en and raised.value.message.zh
