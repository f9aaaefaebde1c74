"""Properties of who is selected or flagged: the "excellent" shortlist, the political negative list
and full-marks streaks (shortlist.py and political.py docstrings), for any input."""
from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.scoring import (DEFAULT_NEGATIVE_LIST, NegativeItem, assess, excellent_shortlist,
                            full_marks_streaks, rank_by_category)

D = Decimal
PROPERTY = settings(max_examples=50, deadline=None)


def fixed(low, high, places):
    """Decimals with exactly `places` places in [low, high] (much faster to draw than st.decimals)."""
    scale = 10 ** places
    return st.integers(int(D(low) * scale), int(D(high) * scale)).map(lambda n: D(n).scaleb(-places))


CODES = [f"p{n:02d}" for n in range(16)]


@st.composite
def scored_people(draw):
    """{code: score} for up to 16 people, whole points (many ties), codes in no particular order."""
    scores = draw(st.lists(st.integers(60, 100).map(D), max_size=len(CODES)))
    return dict(zip(draw(st.permutations(CODES)), scores))


people = scored_people()


def best_first(scores):
    return sorted(scores.values(), reverse=True)


# ---------------------------------------------------------------- excellent shortlist (top 50 %)

@PROPERTY
@given(people)
def test_shortlist_has_n_half_places_plus_everyone_tied_with_the_last_place(scores):
    shortlist = excellent_shortlist(scores, [])
    places = len(scores) // 2
    if places == 0:
        assert shortlist == []
        return
    cutoff = best_first(scores)[places - 1]
    assert len(shortlist) == places + sum(s == cutoff for s in best_first(scores)[places:])
    assert all(scores[code] >= cutoff for code in shortlist)
    assert all(scores[code] == cutoff for code in shortlist[places:])     # beyond n // 2: only boundary ties


@PROPERTY
@given(people, st.data())
def test_shortlist_never_passes_over_a_better_score(scores, data):
    failed = data.draw(st.sets(st.sampled_from(sorted(scores)))) if scores else set()
    shortlist = excellent_shortlist(scores, failed)
    left_out = set(scores) - set(shortlist) - failed
    for included in shortlist:
        assert all(scores[other] < scores[included] for other in left_out)


@PROPERTY
@given(people)
def test_shortlist_is_exactly_those_ranked_within_the_top_n_half(scores):
    ranked = rank_by_category(scores, dict.fromkeys(scores, "production"))
    expected = {code for code, r in ranked.items() if r.rank <= len(scores) // 2}
    assert set(excellent_shortlist(scores, [])) == expected


@PROPERTY
@given(people, st.data())
def test_failing_the_political_check_only_removes_that_person(scores, data):
    failed = data.draw(st.sets(st.sampled_from(sorted(scores)))) if scores else set()
    everyone = excellent_shortlist(scores, [])
    # the failed still count in n and still take a place: nobody below moves up in their stead
    assert excellent_shortlist(scores, failed) == [code for code in everyone if code not in failed]


@PROPERTY
@given(people, st.data())
def test_shortlist_is_best_first_then_by_code_whatever_the_input_order(scores, data):
    shortlist = excellent_shortlist(scores, [])
    assert shortlist == sorted(shortlist, key=lambda code: (-scores[code], code))
    shuffled = dict(data.draw(st.permutations(list(scores.items()))))
    assert excellent_shortlist(shuffled, []) == shortlist


# ---------------------------------------------------------------- political negative list

@st.composite
def negative_lists(draw):
    count = draw(st.integers(1, 6))
    return tuple(NegativeItem(f"i{n}", f"事项{n}", f"item {n}",
                              draw(fixed(0, 12, 1)), draw(st.booleans()))
                 for n in range(count))


@st.composite
def checks(draw):
    items = draw(st.one_of(st.just(DEFAULT_NEGATIVE_LIST), negative_lists()))
    findings = draw(st.lists(st.sampled_from([item.code for item in items]), max_size=6))
    threshold = draw(fixed("0.5", 30, 1))
    return items, findings, threshold


@PROPERTY
@given(checks())
def test_the_deduction_is_the_sum_of_the_findings_and_the_verdict_is_veto_or_threshold(check):
    items, findings, threshold = check
    by_code = {item.code: item for item in items}
    result = assess(findings, items, threshold)
    assert result.deduction == sum((by_code[code].deduction for code in findings), D(0)) >= 0
    assert result.failed == (any(by_code[code].veto for code in findings) or result.deduction >= threshold)
    assert [item.code for item in result.items] == findings


@PROPERTY
@given(checks(), st.data())
def test_another_finding_never_helps(check, data):
    items, findings, threshold = check
    codes = [item.code for item in items]
    more = findings + data.draw(st.lists(st.sampled_from(codes), min_size=1, max_size=3))
    before, after = assess(findings, items, threshold), assess(more, items, threshold)
    assert after.deduction >= before.deduction
    assert after.failed or not before.failed


@PROPERTY
@given(checks(), st.data())
def test_the_order_of_findings_does_not_change_the_verdict(check, data):
    items, findings, threshold = check
    before = assess(findings, items, threshold)
    after = assess(data.draw(st.permutations(findings)), items, threshold)
    assert (after.deduction, after.failed) == (before.deduction, before.failed)


@PROPERTY
@given(checks(), fixed(0, 20, 1))
def test_a_higher_threshold_never_fails_more_people(check, raise_by):
    items, findings, threshold = check
    if assess(findings, items, threshold + raise_by).failed:
        assert assess(findings, items, threshold).failed


@PROPERTY
@given(st.one_of(st.just(DEFAULT_NEGATIVE_LIST), negative_lists()), fixed("0.1", 30, 1))
def test_nobody_without_findings_fails(items, threshold):
    result = assess([], items, threshold)
    assert (result.deduction, result.failed, result.items) == (0, False, ())


# ---------------------------------------------------------------- full-marks streaks

BASE = 2025 * 12       # month numbers from January 2025; months are shifted to cross years


def period(month_number):
    return f"{month_number // 12}-{month_number % 12 + 1:02d}"


histories = st.dictionaries(
    st.sampled_from(["p1", "p2", "p3", "p4"]),
    # month → (score, maximum); 11 of 10 is full marks too (bonus points), 9 of 10 is not
    st.dictionaries(st.integers(0, 9), st.tuples(st.sampled_from([D(9), D(10), D(11)]), st.just(D(10))),
                    max_size=7),
    max_size=4)


def as_history(raw, shift=0):
    return {code: [(period(BASE + month + shift), s, m) for month, (s, m) in months.items()]
            for code, months in raw.items()}


@PROPERTY
@given(histories, st.integers(1, 5))
def test_flagged_exactly_when_each_of_the_last_months_has_full_marks(raw, months):
    flagged = full_marks_streaks(as_history(raw), months)
    for code, entries in raw.items():
        full = {month for month, (s, m) in entries.items() if s >= m}
        last = max(entries, default=None)
        expected = last is not None and all(last - back in full for back in range(months))
        assert (code in flagged) == expected


@PROPERTY
@given(histories, st.integers(1, 4), st.data())
def test_streaks_ignore_the_order_of_entries_and_a_longer_streak_flags_fewer(raw, months, data):
    history = as_history(raw)
    shuffled = {code: data.draw(st.permutations(entries)) for code, entries in history.items()}
    flagged = full_marks_streaks(history, months)
    assert full_marks_streaks(shuffled, months) == flagged
    assert full_marks_streaks(history, months + 1) <= flagged


@PROPERTY
@given(histories, st.integers(-30, 30), st.integers(1, 4))
def test_streaks_run_across_the_new_year_like_any_other_months(raw, shift, months):
    assert full_marks_streaks(as_history(raw, shift), months) == full_marks_streaks(as_history(raw), months)


@PROPERTY
@given(histories, st.integers(1, 4), st.data())
def test_raising_a_score_never_clears_a_flag(raw, months, data):
    raised = {code: {month: (D(10), m) if data.draw(st.booleans()) else (s, m)
                     for month, (s, m) in entries.items()}
              for code, entries in raw.items()}
    assert full_marks_streaks(as_history(raw), months) <= full_marks_streaks(as_history(raised), months)


@PROPERTY
@given(histories, st.integers(0, 9), st.integers(1, 4))
def test_entries_after_as_of_are_ignored(raw, end, months):
    as_of = period(BASE + end)
    earlier = {code: {month: v for month, v in entries.items() if month <= end}
               for code, entries in raw.items()}
    assert full_marks_streaks(as_history(raw), months, as_of=as_of) == \
        full_marks_streaks(as_history(earlier), months, as_of=as_of)
