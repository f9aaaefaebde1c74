"""Deliver a BPMN message from outside to a running instance.

A diagram may wait for a message (an intermediate or boundary catch event, a message start
event, a branch of an event-based gateway). Something outside kaohe (another system, an
administrator) says that the message arrived; this service hands it to the waiting element,
lets the engine run on and saves, exactly like completing a task does.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.errors import InvalidState, PermissionDenied, ValidationFailed
from engine.models.instance import ACTIVE_STATUSES
from engine.runtime import MANAGERS, Actor, Runtime
from engine.services import audit
from engine.services.execution import load_workflow, lock_instance, run_engine, save

def _waiting_definition(workflow: BpmnWorkflow, message_name: str) -> MessageEventDefinition | None:
    """The definition of a WAITING element that catches `message_name` (gateway branches included).

    The event must carry the waiting element's own definition: SpiffWorkflow matches events by
    class as well as by name, and the dialect's parser decides the class.
    """
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, MultipleEventDefinition):  # an event-based gateway waits for all its branches
            candidates = definition.event_definitions
        else:
            candidates = [definition]
        for candidate in candidates:
            if isinstance(candidate, MessageEventDefinition) and candidate.name == message_name:
                return candidate
    return None


def _correlations(workflow: BpmnWorkflow, definition: MessageEventDefinition, payload: dict) -> dict:
    """Correlation keys read from the payload, so the message reaches the conversation it belongs to."""
    try:
        return definition.calculate_correlations(workflow.script_engine, definition.correlation_properties,
                                                 payload)
    except Exception as exc:  # a retrieval expression that the payload cannot satisfy
        raise ValidationFailed(f"消息内容缺少关联属性：{exc}",
                               f"the message payload lacks a correlation property: {exc}") from exc


def deliver_message(rt: Runtime, instance_id: int, actor: Actor, message_name: str,
                    payload: dict | None = None) -> str:
    """Hand message `message_name` with `payload` to the instance; returns its new status."""
    if not actor.has_role(*MANAGERS):
        raise PermissionDenied("只有流程负责人可以投递消息", "only process owners may deliver messages")
    if payload is not None and not isinstance(payload, dict):
        raise ValidationFailed("消息内容必须是对象", "the message payload must be an object")
    payload = dict(payload or {})
    with rt.db.unit_of_work() as session:
        instance = lock_instance(session, instance_id)
        return deliver_in_session(rt, session, instance, message_name, payload, actor.audit_name)


def deliver_in_session(rt: Runtime, session, instance, message_name: str, payload: dict, actor: str) -> str:
    """Deliver within the caller's unit of work, to an instance the caller has locked."""
    if instance.status not in ACTIVE_STATUSES:
        raise InvalidState(f"实例当前状态为「{instance.status}」，不能接收消息",
                           f"the instance is {instance.status} and cannot receive messages")
    workflow, loaded = load_workflow(rt, session, instance)
    definition = _waiting_definition(workflow, message_name)
    if definition is None:
        raise InvalidState(f"实例没有在等待消息「{message_name}」",
                           f"the instance is not waiting for message '{message_name}'")
    event = BpmnEvent(definition, payload, _correlations(workflow, definition, payload))
    try:
        workflow.send_event(event)
    except WorkflowException as exc:  # waiting, but for another conversation (correlation keys differ)
        raise InvalidState(f"消息「{message_name}」与实例等待的会话不符",
                           f"message '{message_name}' does not belong to the conversation the instance "
                           "waits in") from exc
    audit.record(session, at=rt.clock.now(), actor=actor, action="message", instance_id=instance.id,
                 subject=message_name, data=payload)
    error = run_engine(rt, session, instance, workflow)
    save(rt, session, instance, workflow, loaded, error=error, actor=actor)
    return instance.status
