"""spiff/EXPECTED.md rows about gateways, parallel order, lanes and data objects, run through kaohe."""
from __future__ import annotations

import pytest

from tests.conformance.driver import SPIFF_BPMN, source, without_camunda_forms

INCLUSIVE = SPIFF_BPMN / "inclusive_gateway.bpmn"


def test_inclusive_gateway_default_path_increments_v(drv):
    drv.deploy(source(INCLUSIVE))
    instance = drv.start("main")
    assert drv.open_elements(instance) == ["set_data"]
    assert drv.complete(instance, "set_data", {"v": -1, "u": -1, "w": -1}) == "completed"
    assert drv.reload(instance).data == {"v": 0, "u": -1, "w": -1}


def test_inclusive_gateway_without_a_true_path_is_an_error_at_second(drv):
    drv.deploy(source(INCLUSIVE))
    instance = drv.start("main")
    assert drv.complete(instance, "set_data", {"v": 0, "u": -1, "w": -1}) == "error"
    stored = drv.reload(instance)
    assert (stored.status, stored.error_element) == ("error", "second")
    assert stored.state("second") == "ERROR"


def test_inclusive_gateway_takes_both_conditional_paths(drv):
    drv.deploy(source(INCLUSIVE))
    instance = drv.start("main")
    assert drv.complete(instance, "set_data", {"v": 0, "u": 1, "w": 1}) == "completed"
    stored = drv.reload(instance)
    assert stored.tasks("increment_v") == []
    assert stored.state("u_plus_v") == stored.state("w_plus_v") == "COMPLETED"
    assert stored.data == {"v": 0, "u": 1, "w": 1}


def test_exclusive_gateway_without_default_and_no_true_condition_is_an_error(drv):
    drv.deploy(source(SPIFF_BPMN / "exclusive_gateway_no_default.bpmn"))
    instance = drv.start("NoDefaultGateway", x=1)
    stored = drv.reload(instance)
    assert (stored.status, stored.error_element) == ("error", "Gateway_CheckValue")
    assert stored.state("Gateway_CheckValue") == "ERROR"


def test_gateway_reads_a_data_object_which_leaves_the_task_data(drv):
    drv.deploy(source(SPIFF_BPMN / "data_object_gateway.bpmn"))
    instance = drv.start("main")
    assert drv.complete(instance, "set_data", {"val": True}) == "completed"
    stored = drv.reload(instance)
    assert stored.state("yes") == "COMPLETED" and stored.tasks("no") == []
    assert "val" not in stored.last_data


def test_parallel_split_offers_four_tasks_in_visual_order(drv):
    drv.deploy(source(SPIFF_BPMN / "ParallelOrder.bpmn"))
    instance = drv.start("ParallelOrder")
    assert drv.status(instance) == "waiting_person"
    assert [t.name for t in drv.inbox(instance)] == ["Task 1", "Task 2", "Task 3", "Task 4"]
    for task in drv.inbox(instance):
        drv.complete(instance, task.element_id)
    assert drv.reload(instance).status == "completed"


LANES = SPIFF_BPMN / "lanes.bpmn"


def test_lanes_diagram_is_refused_for_its_camunda_forms(drv):
    problems = drv.refused(source(LANES))
    assert {(p.element, p.en.split(" (")[0]) for p in problems} == {
        (task, f"unsupported extension camunda:{name}")
        for task in ("Activity_A1", "Activity_B1", "Activity_A2") for name in ("formKey", "formData")}


def test_lanes_route_each_task_to_its_lane(drv, people):
    """Adapted copy without the camunda forms. Lanes A, B, C are given to alice, bob and head
    through kaohe's `lane_owners` data, so "ready tasks in lane X" is X's owner's inbox."""
    drv.deploy(source(LANES, edit=without_camunda_forms))
    instance = drv.start("lanes", lane_owners={"A": ["alice"], "B": ["bob"], "C": ["head"]})
    a, b, c = people.alice, people.bob, people.head
    assert [(t.element_id, t.lane) for t in drv.inbox(instance, a)] == [("Activity_A1", "A")]
    assert drv.inbox(instance, b) == []
    drv.complete(instance, "Activity_A1", {"NewBPMNFeautre": "timers"}, actor=a)
    assert drv.inbox(instance, a) == []
    assert [(t.element_id, t.lane) for t in drv.inbox(instance, b)] == [("Activity_B1", "B")]
    drv.complete(instance, "Activity_B1", {"NeedClarification": False}, actor=b)
    assert drv.open_elements(instance, b) == ["Implement_Feature"]
    drv.complete(instance, "Implement_Feature", actor=b)
    assert drv.inbox(instance, a) == drv.inbox(instance, b) == []
    assert [(t.element_id, t.lane) for t in drv.inbox(instance, c)] == [("Activity_1uksrqx", "C")]
    drv.complete(instance, "Activity_1uksrqx", actor=c)
    assert [(t.element_id, t.lane) for t in drv.inbox(instance, c)] == [("SubProcessTask", "C")]
    stored = drv.reload(instance)
    assert [t.task_spec.lane for t in stored.tasks("SubProcessTask")] == ["C"]


DATA_OBJECT = SPIFF_BPMN / "data_object.bpmn"


def test_data_object_is_shared_by_reference_and_kept_out_of_task_data(drv):
    drv.deploy(source(DATA_OBJECT))
    instance = drv.start("Process")
    assert drv.reload(instance).workflow.data["data_objects"]["obj_1"] is None
    drv.complete(instance, "generate_data", {"obj_1": "hello"})
    assert drv.reload(instance).workflow.data_objects["obj_1"] == "hello"
    drv.complete(instance, "task_1", {"obj_1": "hello again"})
    assert drv.task_data(instance, "read_data")["obj_1"] == "hello"  # the workflow's value wins
    drv.complete(instance, "read_data")
    stored = drv.reload(instance)
    assert stored.workflow.data_objects["obj_1"] == "hello"
    assert "obj_1" not in stored.tasks("read_data")[0].data
    [inside] = drv.open_elements(instance)
    assert inside == "placeholder" and drv.task_data(instance, inside)["obj_1"] == "hello"
    drv.complete(instance, inside, {"obj_1": "hello again"})
    stored = drv.reload(instance)
    assert stored.workflow.data_objects["obj_1"] == "hello again"
    assert "obj_1" not in stored.tasks("placeholder")[0].data


@pytest.mark.parametrize("missing", ["input", "output"])
def test_data_object_reference_to_a_missing_object_is_refused_at_deploy(drv, missing):
    """Upstream: a missing data object raises WorkflowDataException at run time; kaohe (the parser)
    already refuses a reference to an undefined data object when the diagram is deployed."""
    content = DATA_OBJECT.read_text(encoding="utf-8")
    reference = "DataObjectReference_0pztwm3" if missing == "input" else "DataObjectReference_17fhr1j"
    element = f'<bpmn:dataObjectReference id="{reference}" name="Data" dataObjectRef="obj_1" />'
    broken = content.replace(element, element.replace("obj_1", "obj_2"))
    assert broken != content
    problems = drv.refused(source(DATA_OBJECT, edit=lambda _text: broken))
    association = "dataInputAssociation bpmn:sourceRef" if missing == "input" else \
        "dataOutputAssociation bpmn:targetRef"
    assert [(p.element, p.en) for p in problems] == [
        ("read_data" if missing == "input" else "generate_data",
         f"BPMN validation failed: Cannot resolve {association}")]
