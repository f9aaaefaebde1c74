"""Evaluation schemes: validated whole, versioned by content, chosen by period."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from engine.errors import NotFound, PermissionDenied, ValidationFailed
from engine.runtime import SYSTEM
from engine.services import schemes

DEFAULT = schemes.DEFAULT_SCHEME_FILE.read_text(encoding="utf-8")


def edited(change) -> str:
    doc = json.loads(DEFAULT)
    change(doc)
    return json.dumps(doc, ensure_ascii=False)


def test_the_default_scheme_has_six_areas_and_imports_once(rt, people):
    scheme, created = schemes.import_scheme(rt, DEFAULT, people.owner)
    assert created and [a.name for a in scheme.areas] == ["党务", "经营", "安全", "环境", "服务", "三产"]
    assert sum(a.weight for a in scheme.areas) == 100 and scheme.own_weight == Decimal("0.700")
    again, created_again = schemes.import_scheme(rt, DEFAULT, people.owner)
    assert (again.version, created_again) == (1, False)


def test_a_changed_scheme_is_a_new_version_for_later_periods(rt, people):
    schemes.import_scheme(rt, DEFAULT, people.owner)
    later = edited(lambda d: d.update(valid_from="2026-07", name="下半年方案"))
    new, created = schemes.import_scheme(rt, later, people.owner)
    assert created and new.version == 2
    with rt.db.reading() as session:
        assert schemes.scheme_for_period(session, "2026-06").version == 1
        assert schemes.scheme_for_period(session, "2026-07").name == "下半年方案"


BROKEN = {
    "area weights": (lambda d: d["areas"][0].update(weight=30), "areas", "100%"),
    "indicator weights": (lambda d: d["areas"][1]["indicators"][0].update(weight=10), "areas.1.indicators", "100%"),
    "duplicate indicator": (lambda d: d["areas"][1]["indicators"][1].update(code="ops_output"),
                            "areas.1.indicators.1.code", "ops_output"),
    "unknown area": (lambda d: d["areas"][0].update(code="sports"), "areas.0.code", "sports"),
    "unknown category": (lambda d: d["areas"][0].update(categories=["factory"]), "areas.0.categories.0", "factory"),
    "rater weights": (lambda d: d.update(rater_weights={"direct_head": 50, "peer": 10}), "rater_weights", "100%"),
    "bad period": (lambda d: d.update(valid_from="2026-13"), "valid_from", "2026-13"),
    "unknown field": (lambda d: d.update(colour="red"), "_document", "colour"),
}


@pytest.mark.parametrize("change, field, words", BROKEN.values(), ids=BROKEN.keys())
def test_a_bad_scheme_is_refused_naming_the_place(rt, people, change, field, words):
    with pytest.raises(ValidationFailed) as caught:
        schemes.import_scheme(rt, edited(change), people.owner)
    message = caught.value.field_errors[field]
    assert words in message.zh or words in message.en, message
    with rt.db.reading() as session, pytest.raises(NotFound):
        schemes.scheme_for_period(session, "2026-03")  # nothing was stored


def test_not_json_and_not_allowed(rt, people):
    with pytest.raises(ValidationFailed) as caught:
        schemes.import_scheme(rt, "{not json", people.owner)
    assert "JSON" in caught.value.message.en
    with pytest.raises(PermissionDenied):
        schemes.import_scheme(rt, DEFAULT, people.alice)
    assert schemes.import_scheme(rt, DEFAULT, SYSTEM)[1]
