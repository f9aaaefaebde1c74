"""kaohe's BPMN parser: the SpiffWorkflow dialect, plus BPMN's own rule for messages and signals
that declare no spiffworkflow payload.

In SpiffWorkflow's dialect a message or signal without `spiffworkflow:messagePayload` /
`payloadExpression` carries nothing, and a catch without `messageVariable` / `variableName`
drops what arrives. A diagram drawn in any other modeler would then lose its data silently.
Here such an event follows the BPMN rule instead: the thrower's data travels, and the catcher
receives it into its own data. Declared payloads and variables behave exactly as in SpiffWorkflow.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ItemAwareEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition as BpmnMessageDefinition
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessageDefinition
from SpiffWorkflow.spiff.specs.event_definitions import SignalEventDefinition as SpiffSignalDefinition


class MessageEventDefinition(SpiffMessageDefinition):
    # Same class name as SpiffWorkflow's: event types reported to callers and stored state read as usual.

    def throw(self, my_task):
        if self.expression is None:
            BpmnMessageDefinition.throw(self, my_task)
        else:
            super().throw(my_task)

    def update_task_data(self, my_task):
        if self.message_var is None:
            BpmnMessageDefinition.update_task_data(self, my_task)
        else:
            super().update_task_data(my_task)


class SignalEventDefinition(SpiffSignalDefinition):
    def throw(self, my_task):
        if self.expression is None:
            ItemAwareEventDefinition.throw(self, my_task)
        else:
            super().throw(my_task)

    def update_task_data(self, my_task):
        if self.variable is None:
            ItemAwareEventDefinition.update_task_data(self, my_task)
        else:
            super().update_task_data(my_task)


class _PlainPayloadEvents:
    """Mixed into every SpiffWorkflow event parser: swap in the definitions above."""

    def parse_message_event(self, message_event):
        parsed = super().parse_message_event(message_event)
        return MessageEventDefinition(parsed.name, parsed.correlation_properties, parsed.expression,
                                           parsed.message_var, parsed.process_correlations)

    def parse_signal_event(self, signal_event):
        parsed = super().parse_signal_event(signal_event)
        return SignalEventDefinition(parsed.name, expression=parsed.expression, variable=parsed.variable)


_EVENT_TAGS = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
               "sendTask", "receiveTask")


def _with_plain_payloads(overrides: dict) -> dict:
    result = dict(overrides)
    for tag in map(full_tag, _EVENT_TAGS):
        parser_class, spec_class = overrides[tag]
        result[tag] = (type(f"Kaohe{parser_class.__name__}", (_PlainPayloadEvents, parser_class), {}), spec_class)
    return result


class KaoheBpmnParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = _with_plain_payloads(SpiffBpmnParser.OVERRIDE_PARSER_CLASSES)
