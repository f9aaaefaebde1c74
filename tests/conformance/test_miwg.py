"""The 21 MIWG reference models: each either deploys or is refused with a clear reason.

A refusal must be a DeploymentRejected (never another exception), every problem must name the
file and carry a Chinese and an English message, and nothing may be stored. C.9.0 and C.9.2
`<import>` C.9.1, so they are deployed with C.9.1 beside them.
"""
from __future__ import annotations

import pytest

from tests.conformance.driver import MIWG, source

NOT_EXECUTABLE = 'no executable process (isExecutable="true") in the file'
# Conditions written in JUEL (${approved}), FEEL (= approved) or prose are not Python.
NOT_PYTHON = "unsafe or invalid script/expression: line 1: syntax error (invalid syntax)"
NO_OPERATOR = "BPMN validation failed: A Service Task must have an operator"


def data_store(name: str) -> str:
    return f"BPMN validation failed: Data Store with name {name} has no implementation"


def unquoted(timer: str) -> str:
    """Timer texts are Python in SpiffWorkflow: a bare ISO duration would fail when the timer starts."""
    return f'timer expression {timer} must be quoted: "{timer}"'


def unresolved(what: str, ref: str) -> str:
    return f"BPMN validation failed: Cannot resolve {what} bpmn:{ref}"


# file -> (companion files, deployed process ids, or the English reasons of the refusal: every problem
# must carry one of them and each of them must occur)
CASES = {
    "A.1.0.bpmn": ((), None, {NOT_EXECUTABLE}),
    "A.2.0.bpmn": ((), None, {NOT_EXECUTABLE}),
    "A.2.1.bpmn": ((), None, {NOT_EXECUTABLE}),
    "A.3.0.bpmn": ((), None, {NOT_EXECUTABLE}),
    "A.4.0.bpmn": ((), None, {NOT_EXECUTABLE}),
    "A.4.1.bpmn": ((), None, {NOT_EXECUTABLE}),
    "B.1.0.bpmn": ((), None, {data_store("Data\nStore Reference")}),
    "B.2.0.bpmn": ((), None, {data_store("Data Store Reference")}),
    "C.1.0.bpmn": ((), None, {NOT_PYTHON, NO_OPERATOR}),
    "C.1.1.bpmn": ((), None, {data_store("Financial Accounting System")}),
    "C.2.0.bpmn": ((), None, {NOT_EXECUTABLE}),
    "C.3.0.bpmn": ((), None, {NOT_PYTHON, unquoted("PT2H"),
                              "BPMN validation failed: Exactly one start event is required in a SubWorkflow "
                              "Task; found 0."}),
    "C.4.0.bpmn": ((), None, {data_store("Employee Details")}),
    "C.5.0.bpmn": ((), None, {data_store("Bank System")}),
    "C.6.0.bpmn": ((), None, {unresolved("dataInputAssociation", "sourceRef")}),
    "C.7.0.bpmn": ((), None, {unresolved("dataOutputAssociation", "targetRef")}),
    "C.8.0.bpmn": ((), None, {NOT_EXECUTABLE}),
    "C.8.1.bpmn": ((), None, {NOT_PYTHON, NO_OPERATOR}),
    "C.9.0.bpmn": (("C.9.1.bpmn",), None, {NOT_PYTHON, NO_OPERATOR, unquoted("P7D"), unquoted("R6/P1D")}),
    "C.9.1.bpmn": ((), None, {unquoted("P7D"), unquoted("R6/P1D")}),
    "C.9.2.bpmn": (("C.9.1.bpmn",), None, {
        NOT_PYTHON, unquoted("P7D"), unquoted("R6/P1D"), unquoted("R1/P5D"),
        "BPMN validation failed: A multiinstance task must specify a cardinality or a loop input data reference"}),
}


def test_every_reference_model_has_a_case():
    assert sorted(p.name for p in MIWG.glob("*.bpmn")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES), ids=lambda name: name.removesuffix(".bpmn"))
def test_reference_model_deploys_or_is_refused_with_a_reason(drv, name):
    companions, deployed, reasons = CASES[name]
    files = [source(MIWG / name)] + [source(MIWG / other) for other in companions]
    if deployed is not None:
        assert sorted(r.process_id for r in drv.deploy(*files)) == deployed
        assert drv.stored()[0] == len(deployed)
        return
    problems = drv.refused(*files)  # also: DeploymentRejected only, zh + en, file named, nothing stored
    # Problems name the file they are in: the model itself, or the C.9.1 it imports.
    assert name in {p.file for p in problems} and {p.file for p in problems} <= {name, *companions}
    assert {p.en for p in problems} == reasons
    assert all(p.zh != p.en for p in problems)
