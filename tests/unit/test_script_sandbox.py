"""The script sandbox, driven through real SpiffWorkflow runs (no mocks of the engine).

Every attack runs inside a tiny BPMN diagram (a script task, a gateway condition or a timer expression)
and must be refused; canaries prove nothing happened: a file in tmp_path that must not appear, os and
subprocess functions that must not be called, and a `pwned` variable that must not reach the task data.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.scripting import (
    DEFAULT_HELPERS, MESSAGES, RestrictedEnvironment, ScriptLimitExceeded, ScriptRejected,
    ScriptSecurityError, ScriptTimeout, check_source, compile_script, make_script_engine, original_error)

TEST_TIME_LIMIT = 0.3

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="sandbox_definitions" targetNamespace="http://example.com/kaohe-tests">
  <bpmn:process id="sandbox" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="to_body" sourceRef="start" targetRef="{first}"/>
    {body}
  </bpmn:process>
</bpmn:definitions>"""

SCRIPT_BODY = """
    <bpmn:scriptTask id="script" name="Script"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="to_end" sourceRef="script" targetRef="end"/>
    <bpmn:endEvent id="end"/>"""

GATEWAY_BODY = """
    <bpmn:exclusiveGateway id="gateway" default="to_low"/>
    <bpmn:sequenceFlow id="to_high" sourceRef="gateway" targetRef="high">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_low" sourceRef="gateway" targetRef="low"/>
    <bpmn:scriptTask id="high"><bpmn:script>path = 'high'</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="low"><bpmn:script>path = 'low'</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="high_to_end" sourceRef="high" targetRef="end"/>
    <bpmn:sequenceFlow id="low_to_end" sourceRef="low" targetRef="end"/>
    <bpmn:endEvent id="end"/>"""

TIMER_BODY = """
    <bpmn:intermediateCatchEvent id="timer" name="Wait">
      <bpmn:timerEventDefinition id="timer_definition">
        <bpmn:timeDuration>{duration}</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="to_end" sourceRef="timer" targetRef="end"/>
    <bpmn:endEvent id="end"/>"""


def build_workflow(first: str, body: str, data: dict | None = None,
                   script_engine: PythonScriptEngine | None = None) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(DIAGRAM.format(first=first, body=body).encode("utf-8"))
    workflow = BpmnWorkflow(parser.get_spec("sandbox"),
                            script_engine=script_engine or make_script_engine(time_limit=TEST_TIME_LIMIT))
    workflow.get_next_task(state=TaskState.READY).data.update(data or {})   # seed the start event
    return workflow


def script_workflow(script: str, **kwargs) -> BpmnWorkflow:
    return build_workflow("script", SCRIPT_BODY.format(script=escape(script)), **kwargs)


def gateway_workflow(condition: str, **kwargs) -> BpmnWorkflow:
    return build_workflow("gateway", GATEWAY_BODY.format(condition=escape(condition)), **kwargs)


def timer_workflow(duration: str, **kwargs) -> BpmnWorkflow:
    return build_workflow("timer", TIMER_BODY.format(duration=escape(duration)), **kwargs)


class Canary:
    """Records every way an escaped script could act on the machine."""

    def __init__(self, tmp_path, monkeypatch):
        self.path = tmp_path / "pwned"
        self.calls: list[str] = []
        for name in ("system", "popen", "execv", "execve", "spawnv", "fork", "remove", "unlink"):
            if hasattr(os, name):
                monkeypatch.setattr(os, name, self._recorder(f"os.{name}"))
        for name in ("Popen", "run", "call", "check_output"):
            monkeypatch.setattr(subprocess, name, self._recorder(f"subprocess.{name}"))

    def _recorder(self, name):
        def record(*args, **kwargs):
            self.calls.append(name)
            raise AssertionError(f"sandbox escape: {name} called")
        return record

    def assert_untouched(self, workflow: BpmnWorkflow) -> None:
        assert not self.path.exists(), "the script created the canary file"
        assert self.calls == []
        assert all("pwned" not in task.data for task in workflow.get_tasks())
        assert "pwned" not in workflow.data


@pytest.fixture
def canary(tmp_path, monkeypatch):
    return Canary(tmp_path, monkeypatch)


def run_expecting(workflow: BpmnWorkflow, expected) -> BaseException:
    """Run the workflow; it must fail, and the original (unwrapped) error must be of type `expected`."""
    with pytest.raises(SpiffWorkflowException) as raised:
        workflow.do_engine_steps()
    original = original_error(raised.value)
    assert isinstance(original, expected), f"{type(original).__name__}: {original}"
    return original


SCRIPT_ATTACKS = [
    ("dunder-import", "pwned = __import__('os').system('touch {canary}')", ScriptRejected),
    ("import-os", "import os\npwned = os.system('touch {canary}')", ScriptRejected),
    ("from-os-import", "from os import system\npwned = system('touch {canary}')", ScriptRejected),
    ("open-write", "pwned = open('{canary}', 'w').write('x')", ScriptRejected),
    ("open-passwd", "pwned = open('/etc/passwd').read()", ScriptRejected),
    ("subclasses-walk",
     "pwned = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]"
     ".__init__.__globals__['system']('touch {canary}')", ScriptRejected),
    ("getattr-dunder", "pwned = getattr((), '__class__')", ScriptRejected),
    ("type-call", "pwned = type(()).mro()", ScriptRejected),
    ("str-format-attribute", "pwned = '{{0.__class__.__base__.__subclasses__}}'.format(1)", ScriptRejected),
    ("str-format-map", "pwned = '{{a.__class__}}'.format_map({{'a': 1}})", ScriptRejected),
    ("fstring-dunder", "pwned = f'{{().__class__.__base__}}'", ScriptRejected),
    ("fstring-dynamic-spec", "width = '>99999999'\npwned = f'{{1:{{width}}}}'", ScriptRejected),
    ("globals", "pwned = globals()", ScriptRejected),
    ("vars", "pwned = vars()", ScriptRejected),
    ("eval", "pwned = eval('1')", ScriptRejected),
    ("exec", "exec('pwned = 1')", ScriptRejected),
    ("compile", "pwned = compile('1', 'x', 'eval')", ScriptRejected),
    ("generator-frame-walk", "pwned = (x for x in []).gi_frame.f_back.f_globals", ScriptRejected),
    ("class-definition", "class Pwned:\n    pass\npwned = Pwned", ScriptRejected),
    ("except-exception-swallows-timeout",
     "try:\n    while True: pass\nexcept Exception:\n    pass\npwned = 1", ScriptRejected),
    ("finally-after-timeout", "try:\n    while True: pass\nfinally:\n    pwned = 1", ScriptRejected),
    ("rebind-exception-name", "ValueError = Exception", ScriptRejected),
    ("str-repeat-bomb", "pwned = 'x' * 10**10", ScriptLimitExceeded),
    ("list-repeat-bomb", "pwned = [0] * 10**9", ScriptLimitExceeded),
    ("inplace-repeat-bomb", "items = [0]\nitems *= 10**9\npwned = items", ScriptLimitExceeded),
    ("power-tower", "pwned = 10 ** 10 ** 10", ScriptLimitExceeded),
    ("huge-power", "pwned = 2 ** 100000000", ScriptLimitExceeded),
    ("pow-builtin", "pwned = pow(2, 10**10)", ScriptLimitExceeded),
    ("shift-bomb", "pwned = 1 << 10**10", ScriptLimitExceeded),
    ("ljust-bomb", "pwned = 'a'.ljust(10**10)", ScriptLimitExceeded),
    ("unbound-ljust-bomb", "pwned = str.ljust('a', 10**10)", ScriptLimitExceeded),
    ("zfill-bomb", "pwned = '1'.zfill(10**10)", ScriptLimitExceeded),
    ("join-bomb", "pwned = ''.join(['x' * 1000000] * 1000000)", ScriptLimitExceeded),
    ("replace-bomb", "pwned = ('x' * 100000).replace('x', 'y' * 100000)", ScriptLimitExceeded),
    ("fstring-width-bomb", "pwned = f'{{1:>9999999999}}'", ScriptRejected),
    ("percent-width-bomb", "pwned = '%*d' % (10**10, 1)", ScriptLimitExceeded),
    ("percent-width-in-key-bomb", "pwned = '%(a%b)999999999d' % {{'a%b': 1}}", ScriptLimitExceeded),
    ("percent-unclosed-keys-scan", "pwned = ('%(' * 500000) % {{}}", ValueError),   # refused fast, by Python
    ("plain-decimal-via-mro", "pwned = int(Decimal.mro()[1]('1e999999999'))", ScriptRejected),
    ("range-bomb", "pwned = list(range(10**10))", ScriptLimitExceeded),
    ("decimal-digits-bomb", "pwned = int(Decimal('1e999999'))", ScriptLimitExceeded),
    ("round-digits-bomb", "pwned = round(5, -10**8)", ScriptLimitExceeded),
    ("while-true", "while True: pass\npwned = 1", ScriptTimeout),
    ("nested-loops",
     "for i in range(1000):\n    for j in range(1000):\n        for k in range(1000):\n"
     "            pass\npwned = 1", ScriptTimeout),
    ("narrow-except-cannot-catch-timeout",
     "try:\n    while True: pass\nexcept ValueError:\n    pass\npwned = 1", ScriptTimeout),
    ("exponential-lambda-recursion",
     "fib = lambda n: n if n < 2 else fib(n - 1) + fib(n - 2)\npwned = fib(100)", ScriptTimeout),
    ("deep-lambda-recursion", "dive = lambda n: dive(n + 1)\npwned = dive(0)",
     (RecursionError, ScriptTimeout)),
    ("c-level-loop-via-map", "items = [1]\npwned = any(map(items.append, items))", ScriptTimeout),
    # Closing a suspended generator swallows exceptions raised by the tracer and switches tracing off.
    ("generator-finalizer-swallows-timeout", "while True:\n    any(x for x in [1, 2])", ScriptTimeout),
]


@pytest.mark.parametrize("script, expected", [(s, e) for _, s, e in SCRIPT_ATTACKS],
                         ids=[name for name, _, _ in SCRIPT_ATTACKS])
def test_script_task_attack_is_blocked(script, expected, canary):
    workflow = script_workflow(script.format(canary=canary.path))
    started = time.monotonic()
    run_expecting(workflow, expected)
    assert time.monotonic() - started < 5 * TEST_TIME_LIMIT + 1
    canary.assert_untouched(workflow)


GATEWAY_ATTACKS = [
    ("dunder-import", "__import__('os').system('touch {canary}') == 0", ScriptRejected),
    ("subclasses-walk", "len(().__class__.__base__.__subclasses__()) > 0", ScriptRejected),
    ("power-tower", "10 ** 10 ** 10 > 0", ScriptLimitExceeded),
    ("exponential-lambda",
     "(lambda f: f(f, 100))(lambda f, n: n if n < 2 else f(f, n - 1) + f(f, n - 2)) > 0", ScriptTimeout),
]


@pytest.mark.parametrize("condition, expected", [(c, e) for _, c, e in GATEWAY_ATTACKS],
                         ids=[name for name, _, _ in GATEWAY_ATTACKS])
def test_gateway_condition_attack_is_blocked(condition, expected, canary):
    workflow = gateway_workflow(condition.format(canary=canary.path))
    run_expecting(workflow, expected)
    canary.assert_untouched(workflow)


TIMER_ATTACKS = [
    ("dunder-import", "__import__('os').system('touch {canary}')", ScriptRejected),
    ("open", "open('{canary}', 'w').write('PT1H')", ScriptRejected),
    ("str-repeat-bomb", "'PT' + '1' * 10**10 + 'S'", ScriptLimitExceeded),
    ("fstring-width-bomb", "f'{{1:>9999999999}}'", ScriptRejected),
]


@pytest.mark.parametrize("duration, expected", [(d, e) for _, d, e in TIMER_ATTACKS],
                         ids=[name for name, _, _ in TIMER_ATTACKS])
def test_timer_expression_attack_is_blocked(duration, expected, canary):
    workflow = timer_workflow(duration.format(canary=canary.path))
    run_expecting(workflow, expected)
    canary.assert_untouched(workflow)


BUSINESS_SCRIPT = """
total = sum(row['score'] for row in rows)
passed = [row['name'] for row in rows if row['score'] >= 60]
count = 0
for row in rows:
    count += 1
by_unit = {}
for row in rows:
    by_unit[row['unit']] = by_unit.get(row['unit'], 0) + row['score']
ranked = sorted(rows, key=lambda row: row['score'], reverse=True)
results = []
for rank, row in enumerate(ranked, start=1):
    results.append({'rank': rank, 'name': row['name'], 'grade': 'A' if row['score'] >= 90 else 'B'})
bonus = str(round_half_up(Decimal('1000.005') * Decimal('1.5'), 2))
average = round_half_up(total / len(rows), 1)
half_up = round_half_up(2.675, 2)
is_decimal = isinstance(Decimal('1.5') * 2, Decimal)
days = days_between('2024-01-01', '2024-03-01')
label = f"{ranked[0]['name']}: {total:.1f}"
try:
    parsed = int('not a number')
except ValueError:
    parsed = -1
"""


def test_business_script_runs_and_fills_task_data():
    rows = [{"name": "Li", "unit": "U1", "score": 95}, {"name": "Wang", "unit": "U2", "score": 58},
            {"name": "Zhao", "unit": "U1", "score": 77}]
    workflow = script_workflow(BUSINESS_SCRIPT, data={"rows": rows})
    workflow.do_engine_steps()
    assert workflow.is_completed()
    data = workflow.data
    assert data["total"] == 230 and data["count"] == 3
    assert data["passed"] == ["Li", "Zhao"]
    assert data["by_unit"] == {"U1": 172, "U2": 58}
    assert [result["name"] for result in data["results"]] == ["Li", "Zhao", "Wang"]
    assert data["results"][0] == {"rank": 1, "name": "Li", "grade": "A"}
    assert data["bonus"] == "1500.01"            # 1500.0075 rounded half up
    assert data["average"] == 76.7 and data["half_up"] == 2.68 and data["is_decimal"] is True
    assert data["days"] == 60 and data["label"] == "Li: 230.0" and data["parsed"] == -1
    # Spiff removes functions and our globals from the data after the script.
    assert not {"round_half_up", "__builtins__", "_getattr_"} & set(data)


@pytest.mark.parametrize("score, unit, expected_path", [
    (95, "U1", "high"), (80, "U1", "low"), (95, "U9", "low")], ids=["high", "low-score", "other-unit"])
def test_gateway_condition_works(score, unit, expected_path):
    workflow = gateway_workflow("score >= 90 and unit in units",
                                data={"score": score, "unit": unit, "units": ["U1", "U2"]})
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert workflow.data["path"] == expected_path


def test_timer_expression_works():
    workflow = timer_workflow("'PT%dH' % hours", data={"hours": 2})
    workflow.do_engine_steps()
    timer = workflow.get_next_task(spec_name="timer")
    assert timer.state == TaskState.WAITING
    assert timer._get_internal_data("event_value")      # the duration was evaluated into a due time


def test_spiff_wraps_errors_and_original_stays_reachable():
    workflow = script_workflow("while True: pass")
    with pytest.raises(WorkflowTaskException) as raised:
        workflow.do_engine_steps()
    assert raised.value.error_type == "ScriptTimeout"
    assert isinstance(raised.value.__context__, ScriptTimeout)   # raised inside `except`, not `from`
    assert raised.value.__cause__ is None and not hasattr(raised.value, "error")
    assert isinstance(original_error(raised.value), ScriptTimeout)

    workflow = script_workflow("result = undefined_name + 1")
    with pytest.raises(WorkflowTaskException) as raised:
        workflow.do_engine_steps()
    assert isinstance(original_error(raised.value), NameError)
    assert not isinstance(original_error(raised.value), ScriptSecurityError)


def test_messages_are_chinese_first_then_english():
    with pytest.raises(ScriptRejected) as raised:
        compile_script("import os", "exec")
    message = str(raised.value)
    assert message.startswith("第 1 行：不允许导入模块 (import os)")
    assert "imports are not allowed (import os)" in message
    assert raised.value.zh.startswith("第 1 行：不允许导入模块") and "imports" in raised.value.en
    assert all(isinstance(pair, tuple) and len(pair) == 2 for pair in MESSAGES.values())
    timeout = ScriptTimeout.from_key("timeout", limit=2.0)
    assert str(timeout) == f"{timeout.zh} / {timeout.en}" and timeout.zh.startswith("脚本运行超过 2.0 秒")


def test_check_source():
    assert check_source(BUSINESS_SCRIPT, "exec") == []
    assert check_source("score >= 90 and unit in units", "eval") == []
    problems = check_source("import os\nos.system('id')", "exec")
    assert problems and "不允许导入模块 (import os)" in problems[0] and "imports are not allowed" in problems[0]
    assert problems[0].zh == "第 1 行：不允许导入模块 (import os)"            # each language on its own
    assert problems[0].en == "line 1: imports are not allowed (import os)"
    assert check_source("x = (", "exec")[0].startswith("第 1 行：语法错误")
    assert check_source("a = 1", "eval")          # a statement is not an expression
    assert check_source(None, "eval") and check_source("1", "neither")     # bad input reported, not raised
    assert len(check_source("x" * 200_000, "eval")) == 1


def test_compiled_code_is_cached():
    assert compile_script("a > 1", "eval") is compile_script("a > 1", "eval")


def sentinel_tracer(frame, event, arg):
    return None


@pytest.mark.parametrize("script", ["result = 1", "while True: pass"], ids=["normal", "timeout"])
def test_time_limit_restores_previous_trace_function(script):
    environment = RestrictedEnvironment(DEFAULT_HELPERS, time_limit=TEST_TIME_LIMIT)
    previous = sys.gettrace()
    sys.settrace(sentinel_tracer)
    try:
        try:
            environment.execute(script, {})
        except ScriptTimeout:
            pass
        assert sys.gettrace() is sentinel_tracer
    finally:
        sys.settrace(previous)


def test_timeout_is_not_swallowed_by_generator_finalization(monkeypatch):
    # Each iteration leaves a suspended generator behind; CPython closes it at once, and an exception
    # the tracer raised during that close would be printed as "Exception ignored" and lost.
    swallowed = []
    monkeypatch.setattr(sys, "unraisablehook", swallowed.append)
    environment = RestrictedEnvironment(DEFAULT_HELPERS, time_limit=0.05)
    for _ in range(20):
        with pytest.raises(ScriptTimeout):
            environment.execute("while True:\n    any(x for x in [1, 2])", {})
    assert swallowed == []


def test_time_limit_works_in_a_worker_thread():
    environment = RestrictedEnvironment(DEFAULT_HELPERS, time_limit=TEST_TIME_LIMIT)
    outcome = []

    def worker():
        try:
            environment.execute("while True: pass", {})
        except ScriptTimeout as error:
            outcome.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive() and len(outcome) == 1


def test_memory_watchdog_stops_growth_between_guarded_operations(canary):
    # [*a, *a] doubles without going through a size guard; the tracer's memory check stops it.
    environment = RestrictedEnvironment(DEFAULT_HELPERS, time_limit=10, memory_limit_mb=64)
    workflow = script_workflow("a = [1]\nwhile True:\n    a = [*a, *a]\npwned = 1",
                               script_engine=PythonScriptEngine(environment=environment))
    error = run_expecting(workflow, ScriptLimitExceeded)
    assert error.key == "memory"
    canary.assert_untouched(workflow)
