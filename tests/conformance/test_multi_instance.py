"""spiff/EXPECTED.md rows about multi-instance and standard loops, run through kaohe.

The instances of `any_task` (a plain bpmn:task, so a manual task) are the owner's inbox tasks;
each is completed with `output_item = input_item * 2`, read from the task's own data.
Not reproducible through services (they edit the parsed spec in the upstream test): the
`input_item == 2` completion conditions and "output set to input_data".
"""
from __future__ import annotations

import pytest
from SpiffWorkflow.util.task import TaskState

from tests.conformance.driver import SPIFF_BPMN, SPIFF_SPIFF, source

PARALLEL_INPUT = SPIFF_BPMN / "parallel_multiinstance_loop_input.bpmn"
PARALLEL_CARDINALITY = SPIFF_BPMN / "parallel_multiinstance_cardinality.bpmn"
SEQUENTIAL_INPUT = SPIFF_BPMN / "sequential_multiinstance_loop_input.bpmn"
SEQUENTIAL_CARDINALITY = SPIFF_BPMN / "sequential_multiinstance_cardinality.bpmn"


def double_each(drv, instance: int, *, parallel: bool, count: int = 3) -> int:
    """Complete every instance with output_item = input_item * 2, read from the task's data.
    Parallel: all remaining instances are offered at once; sequential: one at a time."""
    done = 0
    while offered := drv.inbox(instance):
        assert len(offered) == (count - done if parallel else 1), [t.element_id for t in offered]
        data = drv.data_of(offered[0])
        assert "input_item" in data
        drv.finish(offered[0], {"output_item": data["input_item"] * 2})
        done += 1
    return done


def mi_info(drv, instance: int) -> dict:
    stored = drv.reload(instance)
    [parent] = [t for t in stored.tasks("any_task") if t.task_spec.name == "any_task"]
    return parent.task_spec.task_info(parent)


def test_parallel_loop_input_spec_is_parsed_as_upstream(drv):
    drv.deploy(source(PARALLEL_INPUT))
    stored = drv.reload(drv.start("main", input_data=[1, 2, 3]))
    spec = stored.workflow.spec.task_specs["any_task"]
    assert (spec.data_input.bpmn_id, spec.data_output.bpmn_id) == ("input_data", "output_data")
    assert (spec.input_item.bpmn_id, spec.output_item.bpmn_id) == ("input_item", "output_item")
    assert spec.cardinality is None


@pytest.mark.parametrize("start, expected", [
    pytest.param({"input_data": [1, 2, 3]}, {"input_data": [1, 2, 3], "output_data": [2, 4, 6]}, id="list"),
    pytest.param({"input_data": {"a": 1, "b": 2, "c": 3}},
                 {"input_data": {"a": 1, "b": 2, "c": 3}, "output_data": {"a": 2, "b": 4, "c": 6}},
                 id="dict"),
    # Upstream gets {0: 2, 1: 4, 2: 6}. kaohe keeps process data as JSON, where object keys are text,
    # so after the save between steps the list positions come back as "0", "1", "2" (README, "Data").
    pytest.param({"input_data": [1, 2, 3], "output_data": {}},
                 {"input_data": [1, 2, 3], "output_data": {"0": 2, "1": 4, "2": 6}}, id="list-into-existing-dict"),
    pytest.param({"input_data": {"a": 1, "b": 2, "c": 3}, "output_data": []},
                 {"input_data": {"a": 1, "b": 2, "c": 3}, "output_data": [2, 4, 6]},
                 id="dict-into-existing-list"),
])
def test_parallel_loop_input_doubles_every_item(drv, start, expected):
    drv.deploy(source(PARALLEL_INPUT))
    instance = drv.start("main", **start)
    info = mi_info(drv, instance)
    assert (len(info["running"]), len(info["future"]), len(info["instance_map"])) == (3, 0, 3)
    assert {t.name for t in drv.inbox(instance)} == {"Any Task"}
    assert double_each(drv, instance, parallel=True) == 3
    stored = drv.reload(instance)
    assert stored.status == "completed" and stored.data == expected


def test_parallel_loop_input_set_gives_a_list(drv):
    drv.deploy(source(PARALLEL_INPUT))
    instance = drv.start("main", input_data={1, 2, 3})
    assert double_each(drv, instance, parallel=True) == 3
    assert drv.reload(instance).data == {"input_data": {1, 2, 3}, "output_data": [2, 4, 6]}


def test_parallel_loop_input_empty_list_completes_at_once(drv):
    drv.deploy(source(PARALLEL_INPUT))
    instance = drv.start("main", input_data=[])
    stored = drv.reload(instance)
    assert stored.status == "completed" and stored.data == {"input_data": [], "output_data": []}


def test_parallel_loop_input_into_a_non_empty_list_is_an_error(drv):
    drv.deploy(source(PARALLEL_INPUT))
    instance = drv.start("main", input_data=[1, 2, 3], output_data=[1, 2, 3])
    stored = drv.reload(instance)
    assert stored.status == "error" and drv.inbox(instance) == []
    assert "the output must be empty or it must be a map" in stored.error_message


def test_parallel_cardinality_counts_from_zero(drv):
    drv.deploy(source(PARALLEL_CARDINALITY))
    instance = drv.start("main")
    spec = drv.reload(instance).workflow.spec.task_specs["any_task"]
    assert spec.data_input is None and spec.cardinality == "3"
    assert double_each(drv, instance, parallel=True) == 3
    assert drv.reload(instance).data == {"output_data": [0, 2, 4]}


@pytest.mark.parametrize("start, expected", [
    pytest.param({"input_data": [1, 2, 3]}, [2, 4, 6], id="list"),
    pytest.param({"input_data": {"a": 1, "b": 2, "c": 3}}, {"a": 2, "b": 4, "c": 6}, id="dict"),
])
def test_sequential_loop_input_offers_one_instance_at_a_time(drv, start, expected):
    drv.deploy(source(SEQUENTIAL_INPUT))
    instance = drv.start("main", **start)
    info = mi_info(drv, instance)
    assert (len(info["running"]), len(info["future"])) == (1, 2)
    assert double_each(drv, instance, parallel=False) == 3
    info = mi_info(drv, instance)
    assert (len(info["completed"]), len(info["instance_map"])) == (3, 3)
    stored = drv.reload(instance)
    assert len([t for t in stored.tasks("any_task") if t.task_spec.name == "any_task [child]"]) == 3
    assert stored.status == "completed" and stored.data["output_data"] == expected


def test_sequential_cardinality_counts_from_zero(drv):
    drv.deploy(source(SEQUENTIAL_CARDINALITY))
    instance = drv.start("main")
    assert double_each(drv, instance, parallel=False) == 3
    assert drv.reload(instance).data == {"output_data": [0, 2, 4]}


STANDARD_LOOP = SPIFF_BPMN / "standard_loop.bpmn"


def test_standard_loop_stops_at_its_maximum(drv):
    drv.deploy(source(STANDARD_LOOP))
    instance = drv.start("main", done=False)
    for idx in range(3):
        stored = drv.reload(instance)
        [ready] = stored.workflow.get_tasks(state=TaskState.READY, manual=True)
        assert ready.task_spec.task_info(ready)["iteration"] == idx
        if idx == 0:
            parent = ready.parent
            info = parent.task_spec.task_info(parent)
            assert (info["iterations_completed"], info["iterations_remaining"]) == (0, 3)
        assert drv.open_elements(instance) == ["any_task"]
        drv.complete(instance, "any_task", {str(idx): True})
    stored = drv.reload(instance)
    [parent] = [t for t in stored.tasks("any_task") if t.task_spec.name == "any_task"]
    info = parent.task_spec.task_info(parent)
    assert (info["iterations_completed"], info["iterations_remaining"]) == (3, 0)
    assert len(info["instance_map"]) == 3
    assert stored.status == "completed"


def test_standard_loop_ends_when_its_condition_turns_false(drv):
    drv.deploy(source(STANDARD_LOOP))
    instance = drv.start("main", done=False)
    assert drv.complete(instance, "any_task", {"done": True}) == "completed"
    assert drv.reload(instance).status == "completed"


def test_standard_loop_is_skipped_when_done_at_start(drv):
    drv.deploy(source(STANDARD_LOOP))
    instance = drv.start("main", done=True)
    stored = drv.reload(instance)
    assert stored.status == "completed" and drv.inbox(instance) == []


def test_spiff_multiinstance_runs_pre_and_post_scripts(drv):
    drv.deploy(source(SPIFF_SPIFF / "spiff_multiinstance.bpmn"))
    instance = drv.start("Process_1", input_data=[1, 2, 3])
    assert double_each(drv, instance, parallel=True) == 3
    stored = drv.reload(instance)
    assert stored.status == "completed"
    assert stored.data == {"input_data": [2, 3, 4], "output_data": [3, 5, 7]}
