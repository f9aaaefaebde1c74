"""Attacks hidden in diagrams, through kaohe's own deploy and start: refused at deploy where the
sandbox can tell from the source, stopped at run time otherwise, and the instance goes to `error`
with its state intact. A canary file proves nothing ran."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.bpmn.bundle import SourceFile
from engine.errors import DeploymentRejected
from engine.models import ProcessInstance, ProcessVersion
from engine.services import deploy, instances, tasks

SCRIPT_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="attack" name="攻击" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="evil"/>
    <bpmn:scriptTask id="evil" name="脚本"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="evil" targetRef="after"/>
    <bpmn:userTask id="after" name="之后"/>
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""

CONDITION_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="attack" name="攻击" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" default="f_default"/>
    <bpmn:sequenceFlow id="f_evil" sourceRef="gw" targetRef="end"><bpmn:conditionExpression>{script}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_default" sourceRef="gw" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""

TIMER_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="attack" name="攻击" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDuration>{script}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Refused at deploy: the source alone shows the attack.
STATIC_ATTACKS = {
    "dunder import": "__import__('os').system('touch {canary}')",
    "import statement": "import os\nos.system('touch {canary}')",
    "from import": "from os import system\nsystem('touch {canary}')",
    "subclass walk": "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]",
    "getattr dunder": "getattr(1, '__class__')",
    "format attribute walk": "'{0.__class__}'.format(1)",
    "globals": "globals()",
    "eval": "eval('1 + 1')",
    "exec": "exec('x = 1')",
    "compile": "compile('1', 'f', 'eval')",
    "generator frame walk": "(x for x in []).gi_frame.f_globals",
    "open a file": "open('{canary}', 'w').write('x')",
    "huge f-string width": "x = f'{1:>99999999999}'",
    "class definition": "class A:\n    pass",
}
# Compile fine but are stopped while running: the instance goes to `error`.
RUNTIME_ATTACKS = {
    "string bomb": ("x = 'x' * 10 ** 10", "limit"),
    "list bomb": ("x = [0] * 10 ** 9", "limit"),
    "power tower": ("x = 10 ** 10 ** 10", "limit"),
    "padding bomb": ("x = 'a'.ljust(10 ** 10)", "limit"),
    "infinite loop": ("while True:\n    pass", "longer than"),
    "deep recursion": ("f = lambda n: f(n + 1)\nf(0)", ""),
}


@pytest.fixture
def canary(tmp_path):
    return tmp_path / "canary"


def count_versions(rt) -> int:
    with rt.db.reading() as session:
        return session.scalar(select(func.count()).select_from(ProcessVersion))


@pytest.mark.parametrize("script", STATIC_ATTACKS.values(), ids=STATIC_ATTACKS.keys())
@pytest.mark.parametrize("template", [SCRIPT_DIAGRAM, CONDITION_DIAGRAM], ids=["script task", "gateway condition"])
def test_unsafe_source_is_refused_at_deploy(rt, people, canary, script, template):
    if template is CONDITION_DIAGRAM and "\n" in script:
        script = script.replace("\n", "; ")
    diagram = template.format(script=escape(script.replace("{canary}", str(canary))))
    with pytest.raises(DeploymentRejected) as caught:
        deploy.deploy(rt, [SourceFile("attack.bpmn", diagram)], people.owner)
    [problem, *_] = caught.value.problems
    assert problem.file == "attack.bpmn" and problem.element in ("evil", "f_evil")
    assert count_versions(rt) == 0 and not canary.exists()


def test_unsafe_timer_expression_is_refused_at_deploy(rt, people, canary):
    diagram = TIMER_DIAGRAM.format(script=escape(f"__import__('os').system('touch {canary}')"))
    with pytest.raises(DeploymentRejected) as caught:
        deploy.deploy(rt, [SourceFile("attack.bpmn", diagram)], people.owner)
    assert caught.value.problems[0].element == "wait" and not canary.exists()


@pytest.mark.parametrize("script, reason", RUNTIME_ATTACKS.values(), ids=RUNTIME_ATTACKS.keys())
def test_runaway_script_is_stopped_and_the_instance_goes_to_error(rt, people, script, reason):
    deploy.deploy(rt, [SourceFile("attack.bpmn", SCRIPT_DIAGRAM.format(script=escape(script)))], people.owner)
    instance_id = instances.start(rt, "attack", people.owner)
    with rt.db.reading() as session:
        instance = session.get(ProcessInstance, instance_id)
    assert instance.status == "error" and instance.error_element == "evil"
    assert reason in instance.error_message.lower()
    assert tasks.inbox(rt, people.owner) == []


def test_a_normal_business_script_still_runs(rt, people):
    script = ("items = [{'unit': 'U1', 'score': 90}, {'unit': 'U2', 'score': 80}]\n"
              "total = sum(i['score'] for i in items)\n"
              "ranking = sorted(items, key=lambda i: -i['score'])\n"
              "best = ranking[0]['unit']\n"
              "average = round_half_up(total / len(items), 1)")
    deploy.deploy(rt, [SourceFile("attack.bpmn", SCRIPT_DIAGRAM.format(script=escape(script)))], people.owner)
    instances.start(rt, "attack", people.owner)
    [task] = tasks.inbox(rt, people.owner)
    data = tasks.get(rt, task.id, people.owner).data
    assert (data["total"], data["best"], data["average"]) == (170, "U1", 85.0)
