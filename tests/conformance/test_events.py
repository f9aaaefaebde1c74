"""spiff/EXPECTED.md rows about messages, signals, conditional events, event payloads, user task
variables and business rules; messages from outside arrive through `events.deliver_message`."""
from __future__ import annotations

import json

import pytest

from engine.bpmn.bundle import SourceFile
from engine.errors import InvalidState, NotFound, PermissionDenied, ValidationFailed
from engine.services import audit, events
from tests.conformance.driver import SPIFF_BPMN, SPIFF_SPIFF, source

COLLABORATION = SPIFF_BPMN / "collaboration.bpmn"
PEGGY_LETTER = {"from_name": "Peggy", "other_nonsense": 1001}


def start_buddy(drv) -> int:
    results = drv.deploy(source(COLLABORATION))
    # The other pool, random_person_process, is not executable.
    assert [r.process_id for r in results] == ["process_buddy"]
    return drv.start("process_buddy", lover_name="Peggy")


def test_collaboration_sends_a_letter_and_waits_for_the_answer(drv):
    instance = start_buddy(drv)
    stored = drv.reload(instance)
    assert [e.event_definition.name for e in stored.workflow.get_events()] == ["Love Letter"]
    [waiting] = stored.workflow.waiting_events()
    assert (waiting.event_type, waiting.name) == ("MessageEventDefinition", "Love Letter Response")
    [prop] = waiting.value
    assert (prop.correlation_keys, prop.retrieval_expression) == (["lover"], "from_name")
    assert prop.name == "lover_name"
    status = events.deliver_message(drv.rt, instance, drv.actor, "Love Letter Response", PEGGY_LETTER)
    assert status == "completed"
    done = drv.reload(instance)
    assert done.state("EventReceiveLetter") == "COMPLETED"
    assert done.workflow.correlations == {"lover": {"lover_name": "Peggy"}}


def test_collaboration_waiting_event_carries_the_sent_letters_correlation(drv):
    [waiting] = drv.reload(start_buddy(drv)).workflow.waiting_events()
    assert waiting.correlations == {"lover": {"lover_name": "Peggy"}}


def test_collaboration_answer_payload_lands_in_the_task_data(drv):
    instance = start_buddy(drv)
    events.deliver_message(drv.rt, instance, drv.actor, "Love Letter Response", PEGGY_LETTER)
    assert drv.reload(instance).last_data == {**PEGGY_LETTER, "lover_name": "Peggy"}


def test_answer_without_its_correlation_property_is_refused(drv):
    instance = start_buddy(drv)
    with pytest.raises(ValidationFailed) as caught:
        events.deliver_message(drv.rt, instance, drv.actor, "Love Letter Response", {"other_nonsense": 1})
    assert "from_name" in caught.value.message.en
    assert drv.reload(instance).state("EventReceiveLetter") == "WAITING"


def test_message_start_events_wait_until_one_message_arrives(drv):
    drv.deploy(source(SPIFF_BPMN / "start_event_split.bpmn"))
    instance = drv.start("main")
    waiting = drv.reload(instance)
    assert waiting.state("start_1") == waiting.state("start_2") == "WAITING" and drv.inbox(instance) == []
    events.deliver_message(drv.rt, instance, drv.actor, "message_1", {})
    started = drv.reload(instance)
    assert (started.state("start_1"), started.state("start_2")) == ("COMPLETED", "CANCELLED")
    assert started.state("any_task") == "READY" and drv.open_elements(instance) == ["any_task"]
    assert drv.complete(instance, "any_task") == "completed"


EVENT_GATEWAY = SPIFF_BPMN / "event-gateway.bpmn"
BRANCHES = ("message_1_event", "message_2_event", "timer_event")


def test_event_based_gateway_waits_as_one_task(drv):
    """EXPECTED.md records two behaviours; SpiffWorkflow 3.2.0 (kaohe's engine) shows the second:
    only the gateway waits, with a MultipleEventDefinition, and its branches are MAYBE."""
    drv.deploy(source(EVENT_GATEWAY))
    waiting = drv.reload(drv.start("Process_0pvx19v"))
    assert [(k, v) for k, v in waiting.states.items() if "WAITING" in v] == [("Gateway_1434v9l", ["WAITING"])]
    [event] = waiting.workflow.waiting_events()
    assert event.event_type == "MultipleEventDefinition"
    assert {waiting.state(branch) for branch in BRANCHES} == {"MAYBE"}
    assert waiting.status == "waiting_timer" and waiting.next_timer_at is not None


@pytest.mark.parametrize("chosen", ["message_1", "timer"])
def test_event_based_gateway_takes_the_first_event_and_drops_the_others(drv, chosen):
    drv.deploy(source(EVENT_GATEWAY))
    instance = drv.start("Process_0pvx19v")
    if chosen == "timer":
        drv.wake_when_due(instance, timeout=2.0)
        branch = "timer_event"
    else:
        assert events.deliver_message(drv.rt, instance, drv.actor, "message_1", {}) == "completed"
        branch = "message_1_event"
    done = drv.reload(instance)
    assert done.status == "completed" and done.state(branch) == "COMPLETED"
    assert [b for b in BRANCHES if b != branch and b in done.states] == []


def test_message_nobody_waits_for_is_refused_and_changes_nothing(drv):
    drv.deploy(source(EVENT_GATEWAY))
    instance = drv.start("Process_0pvx19v")
    before = drv.reload(instance).states
    with pytest.raises(InvalidState) as caught:
        events.deliver_message(drv.rt, instance, drv.actor, "message_3", {"x": 1})
    assert "message_3" in caught.value.message.zh
    assert "not waiting for message 'message_3'" in caught.value.message.en
    assert drv.reload(instance).states == before
    events.deliver_message(drv.rt, instance, drv.actor, "message_2", {})
    with pytest.raises(InvalidState):  # finished: nothing waits any more
        events.deliver_message(drv.rt, instance, drv.actor, "message_1", {})


def test_only_process_owners_deliver_messages_and_each_delivery_is_audited(drv, people):
    drv.deploy(source(EVENT_GATEWAY))
    instance = drv.start("Process_0pvx19v")
    with pytest.raises(PermissionDenied):
        events.deliver_message(drv.rt, instance, people.alice, "message_1", {})
    with pytest.raises(NotFound):
        events.deliver_message(drv.rt, instance + 1, drv.actor, "message_1", {})
    events.deliver_message(drv.rt, instance, drv.actor, "message_1", {"note": "送达"})
    with drv.rt.db.reading() as session:
        trail = [(e.action, e.actor, e.subject) for e in audit.instance_trail(session, instance)]
        assert audit.verify(session).ok
    assert ("message", "owner", "message_1") in trail


CONDITIONAL = SPIFF_BPMN / "conditional_event.bpmn"


def test_conditional_intermediate_event_waits_for_its_data_object(drv):
    drv.deploy(source(CONDITIONAL))
    instance = drv.start("intermediate")
    assert sorted(drv.open_elements(instance)) == ["task_a", "task_b"]
    drv.complete(instance, "task_b")
    assert drv.reload(instance).state("event_1") == "WAITING"
    assert drv.complete(instance, "task_a", {"task_a_done": True}) == "completed"
    assert drv.reload(instance).state("event_1") == "COMPLETED"


def test_pool_without_is_executable_is_deployed_as_spiffworkflow_builds_it(drv):
    """The pool `boundary` has no isExecutable attribute: like SpiffWorkflow, kaohe treats it as
    executable; only isExecutable="false" keeps a process out."""
    assert sorted(r.process_id for r in drv.deploy(source(CONDITIONAL))) == ["boundary", "intermediate"]
    assert drv.start("boundary")


def test_conditional_boundary_event_interrupts_its_task(drv):
    drv.deploy(source(CONDITIONAL))
    instance = drv.start("boundary")
    assert drv.reload(instance).state("event_2") == "WAITING"
    assert sorted(drv.open_elements(instance)) == ["task_c", "task_d"]
    assert drv.complete(instance, "task_c", {"task_c_done": True}) == "completed"
    stored = drv.reload(instance)
    assert stored.state("task_d") == "CANCELLED" and stored.state("event_2") == "COMPLETED"


def test_signal_payload_is_stored_in_the_catch_variable(drv):
    drv.deploy(source(SPIFF_SPIFF / "signal_event_payload.bpmn"))
    instance = drv.start("event_test")
    assert drv.complete(instance, "set_data", {"v1": 1, "v2": 2, "v3": 3}) == "completed"
    assert drv.reload(instance).data == {"v1": 1, "v2": 2, "v3": 3, "result": {"r1": 1, "r2": 2}}


@pytest.mark.parametrize("kind", ["error", "escalation"])
def test_end_event_payload_reaches_the_boundary_variable(drv, kind):
    drv.deploy(source(SPIFF_SPIFF / f"{kind}_event_payload.bpmn"))
    instance = drv.start("event_test")
    assert drv.complete(instance, "set_data", {kind: True, "payload": "ERROR!"}) == "completed"
    assert drv.reload(instance).data == {"result": "ERROR!"}


USER_TASK_VARIABLE = SPIFF_SPIFF / "user_task_variable.bpmn"
PIZZA_FORM = SourceFile("pizza_form.json", json.dumps({
    "type": "object", "required": ["size"],
    "properties": {"size": {"type": "string"}, "toppings": {"type": "array", "items": {"type": "string"}}}}))


def test_user_task_form_file_must_be_deployed_with_the_diagram(drv):
    problems = drv.refused(source(USER_TASK_VARIABLE))
    assert {(p.element, p.en) for p in problems} == {
        ("user_task_one", "form file pizza_form.json not found"),
        ("user_task_two", "form file pizza_form.json not found")}


@pytest.mark.parametrize("process_id, element, expected_keys", [
    pytest.param("one", "user_task_two", {"order"}, id="variable-name"),
    pytest.param("two", "user_task_one", {"size", "toppings"}, id="empty-variable-name"),
])
def test_user_task_variable_name_decides_where_form_data_goes(drv, process_id, element, expected_keys):
    """The diagram with the form it names (a JSON Schema written here)."""
    drv.deploy(source(USER_TASK_VARIABLE), PIZZA_FORM)
    instance = drv.start(process_id)
    assert drv.complete(instance, element, {"size": "large", "toppings": ["cheese", "olives"]}) == "completed"
    data = drv.reload(instance).data
    assert expected_keys <= set(data)
    if "order" in expected_keys:
        assert data["order"] == {"size": "large", "toppings": ["cheese", "olives"]}


BUSINESS_RULES = SPIFF_SPIFF / "business_rule_task.bpmn"


def test_business_rule_task_runs_its_decision_table(drv):
    drv.deploy(source(BUSINESS_RULES), source(SPIFF_SPIFF / "dmn" / "business_rules.dmn"))
    instance = drv.start("Process_bd2e724")
    assert drv.reload(instance).status == "completed"


def test_business_rule_task_without_its_decision_table_is_refused(drv):
    [problem] = drv.refused(source(BUSINESS_RULES))
    assert problem.element == "Activity_0diq2z1"
    assert 'No DMN Diagram available with id "decision_1"' in problem.en
