"""Drive the shared conformance diagrams through kaohe's own services.

Each Driver method is one service call, and every service call loads the instance from the
database and saves it again, so each step is a save/restore round trip. What a test finally
checks is read back in a fresh read-only session (`Driver.reload`).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

from engine.bpmn.bundle import SourceFile
from engine.errors import DeploymentRejected, Problem
from engine.models import DefinitionFile, HumanTask, ProcessInstance, ProcessVersion
from engine.services import deploy, instances, tasks
from engine.services.execution import fetch_instance, load_workflow

SHARED = Path(__file__).resolve().parents[3] / "shared"
CASES = SHARED / "bpmn-cases"
SPIFF_BPMN = CASES / "spiff" / "bpmn"
SPIFF_SPIFF = CASES / "spiff" / "spiff"
SPIFF_CAMUNDA = CASES / "spiff" / "camunda"
MIWG = CASES / "miwg"


def source(path: Path, *, edit=None) -> SourceFile:
    """A shared file as kaohe receives it; `edit` (text -> text) makes a labelled adapted copy."""
    content = path.read_text(encoding="utf-8")
    return SourceFile(path.name, edit(content) if edit else content)


def without_camunda_forms(content: str) -> str:
    """Drop camunda:formKey/formData. They only describe a form; the upstream tests' BpmnParser
    ignores them, so the process runs the same without them."""
    content = re.sub(r'\s+camunda:formKey="[^"]*"', "", content)
    content = re.sub(r"<bpmn:extensionElements>\s*<camunda:formData>.*?</camunda:formData>\s*"
                     r"</bpmn:extensionElements>", "", content, flags=re.S)
    assert "camunda:form" not in content
    return content


def without_print(content: str) -> str:
    """`print(x)` -> `str(x)`: the same names are evaluated, only nothing is written to stdout
    (kaohe's sandbox refuses print)."""
    assert "print(" in content
    return content.replace("print(", "str(")


@dataclass
class Snapshot:
    """An instance as stored: its row and its workflow, loaded in a fresh session."""

    status: str
    error_element: str | None
    error_message: str | None
    next_timer_at: object
    workflow: BpmnWorkflow
    states: dict[str, list[str]] = field(default_factory=dict)

    @property
    def data(self) -> dict:
        return self.workflow.data

    @property
    def last_data(self) -> dict:
        return self.workflow.last_task.data

    def state(self, bpmn_id: str) -> str:
        """The single state of an element; fails if the element has several tasks."""
        found = self.states.get(bpmn_id, [])
        assert len(found) == 1, f"{bpmn_id}: {found}"
        return found[0]

    def tasks(self, bpmn_id: str) -> list:
        return [t for t in self.workflow.get_tasks() if t.task_spec.bpmn_id == bpmn_id]


class Driver:
    """One person (the process owner) deploying, starting and working through one diagram."""

    def __init__(self, rt, actor):
        self.rt, self.actor = rt, actor

    def deploy(self, *files: SourceFile):
        return deploy.deploy(self.rt, list(files), self.actor)

    def refused(self, *files: SourceFile) -> list[Problem]:
        """Deploy, expect a refusal, check that nothing was stored; returns the problems."""
        before = self.stored()
        try:
            deploy.deploy(self.rt, list(files), self.actor)
        except DeploymentRejected as exc:
            problems = exc.problems
        else:
            raise AssertionError(f"deploy of {[f.name for f in files]} was not refused")
        assert problems and self.stored() == before
        names = {f.name for f in files}
        for problem in problems:
            assert problem.zh.strip() and problem.en.strip() and problem.file in names, problem
        return problems

    def stored(self) -> tuple[int, int]:
        with self.rt.db.reading() as session:
            return (session.scalar(select(func.count()).select_from(ProcessVersion)),
                    session.scalar(select(func.count()).select_from(DefinitionFile)))

    def start(self, process_id: str, **data) -> int:
        return instances.start(self.rt, process_id, self.actor, data=data)

    def inbox(self, instance_id: int | None = None, actor=None) -> list[HumanTask]:
        rows = tasks.inbox(self.rt, actor or self.actor, limit=500)
        return [t for t in rows if instance_id is None or t.instance_id == instance_id]

    def open_elements(self, instance_id: int, actor=None) -> list[str]:
        return [t.element_id for t in self.inbox(instance_id, actor)]

    def task(self, instance_id: int, element_id: str, actor=None) -> HumanTask:
        found = [t for t in self.inbox(instance_id, actor) if t.element_id == element_id]
        assert len(found) == 1, f"{element_id} in {self.open_elements(instance_id, actor)}"
        return found[0]

    def task_data(self, instance_id: int, element_id: str, actor=None) -> dict:
        return self.data_of(self.task(instance_id, element_id, actor), actor)

    def data_of(self, task: HumanTask, actor=None) -> dict:
        return tasks.get(self.rt, task.id, actor or self.actor).data

    def finish(self, task: HumanTask, data: dict | None = None, actor=None) -> str:
        return tasks.complete(self.rt, task.id, actor or self.actor, data or {})

    def complete(self, instance_id: int, element_id: str, data: dict | None = None, actor=None) -> str:
        return self.finish(self.task(instance_id, element_id, actor), data, actor)

    def reload(self, instance_id: int) -> Snapshot:
        with self.rt.db.reading() as session:
            row = fetch_instance(session, instance_id)
            workflow, _loaded = load_workflow(self.rt, session, row)
            states: dict[str, list[str]] = {}
            for task in workflow.get_tasks():
                if task.task_spec.bpmn_id:
                    states.setdefault(task.task_spec.bpmn_id, []).append(TaskState.get_name(task.state))
            return Snapshot(row.status, row.error_element, row.error_message, row.next_timer_at,
                            workflow, states)

    def status(self, instance_id: int) -> str:
        with self.rt.db.reading() as session:
            return session.get(ProcessInstance, instance_id).status

    def wake_when_due(self, instance_id: int, timeout: float = 3.0) -> float:
        """Wait (short sleeps) until the scheduler would see the instance due, then fire it the way the
        scheduler does. Returns the seconds waited."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if instance_id in instances.due_instance_ids(self.rt):
                assert instances.wake(self.rt, instance_id) is True
                return time.monotonic() - began
            time.sleep(0.01)
        raise AssertionError(f"instance {instance_id} never fell due (status {self.status(instance_id)})")

