"""The monthly task book: drafted by the unit head, valid only when the head AND the unit's
party-branch secretary have both signed; either may send it back with a reason."""
from __future__ import annotations

import pytest

from engine.errors import PermissionDenied, ValidationFailed
from engine.services import audit, instances, tasks
from engine.services.demo import DEMO_CASE_KEY
from engine.services.execution import fetch_instance

DRAFT = {"key_tasks": "1. 完成月度产量任务\n2. 安全检查零隐患", "indicators": "产量 40%，安全 30%，党建 30%"}


def names(rt, username: str) -> list[str]:
    return sorted(t.name for t in tasks.inbox(rt, rt.actor(username)) if t.instance_id == rt.case)


def only(rt, username: str):
    [task] = [t for t in tasks.inbox(rt, rt.actor(username)) if t.instance_id == rt.case]
    return task


@pytest.fixture
def case(demo):
    owner = demo.actor("owner")
    demo.case = instances.start(demo, "task_book", owner, data={"unit_code": "P02", "branch_code": "B02"},
                                title="采油二队 月度任务书")
    return demo


def test_the_demo_case_waits_for_the_head_of_unit_p01(demo):
    [task] = tasks.inbox(demo, demo.actor("p01_head"))
    with demo.db.reading() as session:
        case = fetch_instance(session, task.instance_id)
    assert (task.name, case.business_key) == ("编制月度任务书", DEMO_CASE_KEY)


def test_draft_goes_to_the_unit_head_only(case):
    assert names(case, "p02_head") == ["编制月度任务书"]
    for other in ("p01_head", "p02_deputy", "p02_staff1", "b02_secretary"):
        assert names(case, other) == []
    with pytest.raises(PermissionDenied):
        tasks.complete(case, only(case, "p02_head").id, case.actor("p01_head"), DRAFT)


def test_both_signatures_make_the_task_book_valid(case):
    tasks.complete(case, only(case, "p02_head").id, case.actor("p02_head"), DRAFT)
    assert names(case, "p02_head") == ["正职签字"]
    assert names(case, "b02_secretary") == ["书记签字"]
    assert names(case, "b01_secretary") == []  # the secretary of another branch
    tasks.complete(case, only(case, "b02_secretary").id, case.actor("b02_secretary"), {"secretary_approved": True})
    assert names(case, "p02_head") == ["正职签字"]  # still waiting for the head's signature
    status = tasks.complete(case, only(case, "p02_head").id, case.actor("p02_head"), {"head_approved": True})
    assert status == "completed"
    with case.db.reading() as session:
        trail = [(e.action, e.actor) for e in audit.instance_trail(session, case.case)]
    assert trail == [("start", "owner"), ("complete", "p02_head"), ("complete", "b02_secretary"),
                     ("complete", "p02_head"), ("complete_instance", "p02_head")]


def test_a_refusal_needs_a_reason_and_sends_the_draft_back(case):
    tasks.complete(case, only(case, "p02_head").id, case.actor("p02_head"), DRAFT)
    secretary = case.actor("b02_secretary")
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(case, only(case, "b02_secretary").id, secretary, {"secretary_approved": False})
    assert "secretary_comment" in caught.value.field_errors
    tasks.complete(case, only(case, "b02_secretary").id, secretary,
                   {"secretary_approved": False, "secretary_comment": "党建指标权重偏低"})
    tasks.complete(case, only(case, "p02_head").id, case.actor("p02_head"), {"head_approved": True})
    assert names(case, "p02_head") == ["编制月度任务书"]
    draft = tasks.get(case, only(case, "p02_head").id, case.actor("p02_head"))
    assert draft.data["secretary_comment"] == "党建指标权重偏低"
    assert draft.data["key_tasks"] == DRAFT["key_tasks"]  # the earlier draft is there to revise
