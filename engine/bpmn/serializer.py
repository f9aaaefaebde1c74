"""Instance state as JSON *without* the spec: the spec lives once per deployed version.

SpiffWorkflow's default format embeds the whole spec in every instance (about half the
bytes and most of the load time, primer §8). Here the workflow converter drops it on
save and the caller hands the cached spec objects back on load.
"""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessageDefinition
from SpiffWorkflow.spiff.specs.event_definitions import SignalEventDefinition as SpiffSignalDefinition

from engine.bpmn import parser as kaohe_events


class StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


def _build_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = StateOnlyWorkflowConverter
    # Pending events in the state carry their definition; kaohe's parser makes its own classes
    # (same names), so they take the place of SpiffWorkflow's in the registry.
    config[kaohe_events.MessageEventDefinition] = config.pop(SpiffMessageDefinition)
    config[kaohe_events.SignalEventDefinition] = config.pop(SpiffSignalDefinition)
    registry = BpmnWorkflowSerializer.configure(config)
    # Task data may hold exact scores and calendar dates; keep them typed across saves.
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda d: Decimal(d["value"]))
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda d: date.fromisoformat(d["value"]),
                      typename="date")
    registry.register(set, lambda v: {"items": registry.convert(list(v))}, lambda d: set(registry.restore(d["items"])))
    registry.register(frozenset, lambda v: {"items": registry.convert(list(v))},
                      lambda d: frozenset(registry.restore(d["items"])))
    return BpmnWorkflowSerializer(registry)


class StateSerializer:
    """Turns a live workflow into state JSON and back, given the version's spec objects."""

    def __init__(self):
        self._serializer = _build_serializer()

    @property
    def version(self) -> str:
        return self._serializer.VERSION

    def dumps(self, workflow: BpmnWorkflow) -> str:
        return self._serializer.serialize_json(workflow)

    def loads(self, state: str, spec, subprocess_specs: dict, script_engine) -> BpmnWorkflow:
        dct = json.loads(state)
        self._serializer.migrate(dct)
        # Spec objects pass through registry.restore unchanged, so hand them in ready-made.
        dct["spec"], dct["subprocess_specs"] = spec, dict(subprocess_specs)
        workflow = self._serializer.from_dict(dct)
        # The script engine is never serialised; without this line the unsafe default would run.
        workflow.script_engine = script_engine
        return workflow


STATE_SERIALIZER = StateSerializer()
