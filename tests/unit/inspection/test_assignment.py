"""Cross-inspection assignment: never one's own unit, loads even, edits checked."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.inspection import AssignmentRejected, propose_assignment, validate_assignment

SEED_001 = {"A": ["A"], "B": ["B"]}  # seed 001: A inspects B, C, D; B inspects A, E, F
UNITS = ["A", "B", "C", "D", "E", "F"]


def test_seed_001_shape_each_group_inspects_three_others():
    assignment = propose_assignment(SEED_001, UNITS)
    assert sorted(len(units) for units in assignment.values()) == [3, 3]
    assert "A" not in assignment["A"] and "B" not in assignment["B"]
    assert sorted(assignment["A"] + assignment["B"]) == UNITS
    validate_assignment(assignment, SEED_001, UNITS)


def test_an_edit_that_makes_a_group_inspect_itself_is_refused():
    edited = {"A": ["A", "C", "D"], "B": ["B", "E", "F"]}
    with pytest.raises(AssignmentRejected) as caught:
        validate_assignment(edited, SEED_001, UNITS)
    errors = caught.value.field_errors
    assert "A.A" in errors and "B.B" in errors and "本单位" in errors["A.A"].zh


def test_units_inspected_twice_or_never_and_unknown_names_are_refused():
    with pytest.raises(AssignmentRejected) as caught:
        validate_assignment({"A": ["B", "C", "X"], "B": ["C", "A"], "Z": ["D"]}, SEED_001, UNITS)
    errors = caught.value.field_errors
    assert set(errors) >= {"A.X", "B.C", "Z", "D", "E", "F"}


def test_a_unit_no_group_may_inspect_is_reported():
    with pytest.raises(AssignmentRejected) as caught:
        propose_assignment({"A": ["A"]}, ["A", "B"])
    assert set(caught.value.field_errors) == {"A"}


groups = st.dictionaries(st.sampled_from("GHIJKL"), st.lists(st.sampled_from("uvwxyz"), max_size=2), min_size=2,
                         max_size=6)


@given(groups, st.lists(st.sampled_from("uvwxyz"), min_size=1, max_size=6, unique=True))
def test_proposals_follow_the_rules_and_are_balanced_when_possible(homes, units):
    try:
        assignment = propose_assignment(homes, units)
    except AssignmentRejected:
        assert any(all(u in own for own in homes.values()) for u in units)
        return
    validate_assignment(assignment, homes, units)
    if all(not own for own in homes.values()):  # no constraint at all: perfectly even
        loads = [len(a) for a in assignment.values()]
        assert max(loads) - min(loads) <= 1
