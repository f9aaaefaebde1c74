"""spiff/camunda diagrams: kaohe runs the SpiffWorkflow dialect only, so each is refused, with every
problem naming the Camunda extension that would change how the process runs."""
from __future__ import annotations

import pytest

from tests.conformance.driver import SPIFF_CAMUNDA, source

DMN = sorted((SPIFF_CAMUNDA / "dmn").glob("*.dmn"))
USER_TASK_FORMS = ("formKey", "formData")

CASES = {
    "DMNMultiInstance.bpmn": {("Task_067fajl", "decisionRef"), ("Task_067fajl", "collection"),
                              ("Task_067fajl", "elementVariable")},
    "ExclusiveGatewayIfElseAndDecision.bpmn": {("TaskDecision", "decisionRef")},
    "MessageBoundary.bpmn": {("Activity_Interrupt", name) for name in USER_TASK_FORMS}
    | {("MessageEventDefinition_1cph049", "expression")},
    "noninterrupting-MessageBoundary.bpmn": {
        (task, name) for task in ("Activity_WorkLate", "Activity_WorkLateReason", "Activity_DoWork",
                                  "Activity_WorkCompleted") for name in USER_TASK_FORMS}
    | {("MessageEventDefinition_1cph049", "expression")},
}


def test_every_camunda_diagram_has_a_case():
    assert sorted(p.name for p in SPIFF_CAMUNDA.glob("*.bpmn")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_camunda_diagram_is_refused_naming_each_extension(drv, name):
    problems = drv.refused(source(SPIFF_CAMUNDA / name), *[source(path) for path in DMN])
    assert {p.file for p in problems} == {name}
    found = set()
    for problem in problems:
        extension = problem.en.split("unsupported extension camunda:")[1].split(" ")[0]
        assert f"camunda:{extension}" in problem.zh
        found.add((problem.element, extension))
    assert found == CASES[name]
