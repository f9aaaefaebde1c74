"""spiff/EXPECTED.md rows about call activities, escalation, transactions and event subprocesses."""
from __future__ import annotations

import pytest

from tests.conformance.driver import SPIFF_BPMN, source, without_camunda_forms, without_print

CALLER = SPIFF_BPMN / "call_activity_end_event.bpmn"
CALLEE = SPIFF_BPMN / "call_activity_call_activity.bpmn"
ERRORING = SPIFF_BPMN / "call_activity_with_error.bpmn"


def call_activity_files(*, edit=None):
    return [source(path, edit=edit) for path in (CALLEE, CALLER, ERRORING)]


def test_call_activity_diagrams_are_refused_for_print(drv):
    problems = drv.refused(*call_activity_files())
    assert {(p.file, p.element) for p in problems} == {
        ("call_activity_end_event.bpmn", "Activity_Print_Data_Script"),
        ("call_activity_with_error.bpmn", "Activity_1ta6769")}
    assert all(p.en.endswith("print is not allowed; store results in variables") for p in problems)


def test_call_activity_returns_data_and_deletions(drv):
    """Adapted copies (`print(x)` -> `str(x)`)."""
    drv.deploy(*call_activity_files(edit=lambda text: text.replace("print(", "str(")))
    instance = drv.start("Process_8200379")
    stored = drv.reload(instance)
    assert stored.status == "completed"
    assert stored.data == {"pre_var": "some string", "my_var": "World", "my_other_var": "Mike"}
    assert "remove_this_var" not in stored.last_data
    order = [t.task_spec.bpmn_id for t in stored.workflow.get_tasks()]
    called = ["Activity_Call_Activity", "Start_Called_Activity", "Sub_Bpmn_Task", "End_Called_Activity"]
    assert [order.index(name) for name in called] == sorted(order.index(name) for name in called)
    [sub] = stored.workflow.subprocesses.values()
    assert sub.script_engine is stored.workflow.script_engine


def test_error_in_a_called_process_is_reported_at_its_task(drv):
    drv.deploy(*call_activity_files(edit=lambda text: text.replace("print(", "str(")))
    instance = drv.start("ErroringBPMN")
    stored = drv.reload(instance)
    assert (stored.status, stored.error_element) == ("error", "Sub_Bpmn_Task")
    assert stored.state("Sub_Bpmn_Task") == "ERROR"
    assert "remove_this_var" in stored.error_message


def test_call_to_a_process_that_is_not_deployed_is_refused(drv):
    """Upstream removes the called spec and gets "The called process ... was not found" at run time;
    kaohe checks every call activity when the caller is deployed."""
    [problem] = drv.refused(source(ERRORING, edit=without_print))
    assert problem.file == "call_activity_with_error.bpmn"
    assert problem.en.endswith("The process 'Call_Activity_Get_Data' was not found")


ESCALATION = SPIFF_BPMN / "Test-Workflows"


def test_call_activity_escalation_diagrams_are_refused_for_vars_and_globals(drv):
    files = [source(path) for path in sorted(ESCALATION.glob("*.bpmn20.xml"))]
    problems = drv.refused(*files)
    assert {p.file for p in problems} == {"CallActivity-Escalation-Test-Sub.bpmn20.xml"}
    assert {p.element for p in problems} == {"SequenceFlow_0expyhf"}
    reasons = sorted(p.en.split("line 1: ")[-1] for p in problems)
    assert reasons == ["globals is not allowed", "vars is not allowed"]
    assert all("不允许使用" in p.zh for p in problems)


TRANSACTION = SPIFF_BPMN / "transaction.bpmn"


def test_transaction_diagram_is_refused_for_camunda_forms_and_print(drv):
    problems = drv.refused(source(TRANSACTION))
    reasons = {(p.element, p.en.split(" (")[0].split(": ")[-1]) for p in problems}
    assert reasons == {
        ("Activity_Get_Data", "unsupported extension camunda:formKey"),
        ("Activity_Get_Data", "unsupported extension camunda:formData"),
        ("Activity_Get_Quantity", "unsupported extension camunda:formKey"),
        ("Activity_Get_Quantity", "unsupported extension camunda:formData"),
        ("Activity_Print_Data", "print is not allowed; store results in variables")}


def run_transaction(drv, value, quantity=None):
    """Adapted copy: no camunda forms, `print` -> `str`."""
    drv.deploy(source(TRANSACTION, edit=lambda text: without_print(without_camunda_forms(text))))
    instance = drv.start("Main_Process")
    drv.complete(instance, "Activity_Get_Data", {"value": value})
    if quantity is not None:
        drv.complete(instance, "Activity_Get_Quantity", {"quantity": quantity})
    stored = drv.reload(instance)
    assert stored.status == "completed"
    return stored


def test_transaction_completes_normally(drv):
    stored = run_transaction(drv, "asdf", 2)
    assert stored.state("Subprocess") == stored.state("Activity_Print_Data") == "COMPLETED"
    for boundary in ("Catch_Cancel_Event", "Catch_Error_1", "Catch_Error_None"):
        assert stored.state(boundary) == "CANCELLED"
    assert "value" in stored.last_data


def test_transaction_cancel_end_runs_the_cancel_boundary(drv):
    stored = run_transaction(drv, "")
    assert stored.state("Cancel_Action") == "COMPLETED" and "value" not in stored.last_data
    assert stored.state("Catch_Error_1") == stored.state("Catch_Error_None") == "CANCELLED"
    assert stored.state("Activity_Print_Data") == "CANCELLED"


@pytest.mark.parametrize("quantity, completed, cancelled", [
    pytest.param(0, {"Catch_Error_None"}, {"Catch_Error_1", "Catch_Cancel_Event"}, id="error-without-code"),
    pytest.param(-1, {"Catch_Error_None", "Catch_Error_1"}, set(), id="error-1"),
])
def test_transaction_error_ends_are_caught_by_the_matching_boundaries(drv, quantity, completed, cancelled):
    stored = run_transaction(drv, "asdf", quantity)
    assert {name for name in completed if stored.state(name) == "COMPLETED"} == completed
    assert {name for name in cancelled if stored.state(name) == "CANCELLED"} == cancelled
    assert stored.state("Activity_Print_Data") == "CANCELLED"


def test_uncaught_escalation_is_exposed_as_an_outgoing_event(drv):
    drv.deploy(source(SPIFF_BPMN / "uncaught_escalation.bpmn"))
    instance = drv.start("top_level")
    stored = drv.reload(instance)
    assert stored.status == "completed"
    assert stored.workflow.get_events()[0].event_definition.code == "escalation-1"


def test_signal_starts_the_event_subprocess_with_the_process_data(drv):
    drv.deploy(source(SPIFF_BPMN / "event-subprocess.bpmn"))
    instance = drv.start("main")
    drv.complete(instance, "set_data", {"v1": True, "v2": False})
    assert drv.open_elements(instance) == ["task"]
    assert drv.task_data(instance, "task") == {"v1": True, "v2": False}
    assert drv.complete(instance, "task") == "completed"
    assert drv.reload(instance).status == "completed"
