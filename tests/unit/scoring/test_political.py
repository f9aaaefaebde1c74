from decimal import Decimal

import pytest

from engine.scoring import DEFAULT_NEGATIVE_LIST, NegativeItem, PoliticalResult, ScoringError, assess

D = Decimal
ITEMS = {item.code: item for item in DEFAULT_NEGATIVE_LIST}


def test_the_default_list_is_observable_behaviour_in_both_languages():
    assert len(ITEMS) == len(DEFAULT_NEGATIVE_LIST) >= 8
    assert all(item.text_zh and item.text_en and item.deduction > 0 for item in DEFAULT_NEGATIVE_LIST)
    assert ITEMS["political_discipline"].veto and ITEMS["integrity_violation"].veto
    assert "违反政治纪律" in ITEMS["political_discipline"].text_zh


@pytest.mark.parametrize("findings, deduction, failed", [
    pytest.param([], D(0), False, id="clean"),
    pytest.param(["absent_from_study"], D(2), False, id="one small item"),
    pytest.param(["improper_remarks", "shirking_responsibility"], D(8), False, id="below the threshold"),
    pytest.param(["improper_remarks", "falsification"], D(10), True, id="reaching the threshold fails"),
    pytest.param(["formalism"] * 4, D(12), True, id="a repeated behaviour counts each time"),
    pytest.param(["integrity_violation"], D(10), True, id="veto"),
    pytest.param(["political_discipline"], D(10), True, id="veto, whatever the points"),
])
def test_assess_default_list(findings, deduction, failed):
    result = assess(findings)
    assert (result.deduction, result.failed) == (deduction, failed)
    assert [item.code for item in result.items] == findings


def test_a_veto_item_fails_even_with_a_tiny_deduction():
    items = (NegativeItem("late", "迟到", "late", D(1)),
             NegativeItem("leak", "泄密", "leaking secrets", D("0.5"), veto=True))
    assert assess(["leak"], items) == PoliticalResult(D("0.5"), True, (items[1],))
    assert assess(["late"] * 3, items).failed is False


def test_the_threshold_is_a_parameter():
    assert assess(["improper_remarks"], threshold=D(5)).failed is True
    assert assess(["improper_remarks", "falsification"], threshold=D(20)).failed is False


@pytest.mark.parametrize("call, word", [
    (lambda: assess(["typo_code"]), "not on the negative list: typo_code"),
    (lambda: assess("formalism"), "list of item codes"),
    (lambda: assess([], threshold=D(0)), "above 0"),
    (lambda: assess([], items=[NegativeItem("a", "甲", "a", D(1))] * 2), "twice"),
    (lambda: assess([], items=[NegativeItem("a", "甲", "a", D(-1))]), "negative"),
])
def test_invalid_input_is_refused(call, word):
    with pytest.raises(ScoringError) as raised:
        call()
    assert word in raised.value.message.en and raised.value.message.zh
