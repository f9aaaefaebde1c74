"""How much does kaohe add to SpiffWorkflow per completed user task?

(a) bare SpiffWorkflow, in memory: deserialise the state, complete the task, run the
    engine, serialise. Measured twice: with SpiffWorkflow's stock serializer (spec
    embedded in every state) and with kaohe's state-only format (the least possible).
(b) kaohe's service tasks.complete: load, validate, run, save, task projection, audit, commit.

Prints medians in ms and the ratio b/a, on SQLite and (if KAOHE_TEST_DATABASE_URL is set)
on PostgreSQL. Run: .venv/bin/python bench/engine_overhead.py [instances] [tasks-per-instance]
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.spiff.parser import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402
from sqlalchemy import select  # noqa: E402

import engine.models  # noqa: E402,F401
from engine.bpmn.bundle import SourceFile  # noqa: E402
from engine.bpmn.serializer import STATE_SERIALIZER  # noqa: E402
from engine.db import Base, Database  # noqa: E402
from engine.models import HumanTask  # noqa: E402
from engine.runtime import Runtime  # noqa: E402
from engine.services import deploy, instances, tasks  # noqa: E402
from engine.services.demo import load_demo  # noqa: E402
from engine.services.people import actor_for  # noqa: E402
from engine.settings import Settings  # noqa: E402


def linear_process(n: int) -> str:
    tasks_xml, flows = [], []
    previous = "start"
    for i in range(1, n + 1):
        tasks_xml.append(f'<bpmn:userTask id="t{i}" name="第{i}步"/>')
        flows.append(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{previous}" targetRef="t{i}"/>')
        previous = f"t{i}"
    flows.append(f'<bpmn:sequenceFlow id="f_end" sourceRef="{previous}" targetRef="end"/>')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="bench">
  <bpmn:process id="bench_linear" name="基准" isExecutable="true">
    <bpmn:startEvent id="start"/>{''.join(tasks_xml)}<bpmn:endEvent id="end"/>{''.join(flows)}
  </bpmn:process>
</bpmn:definitions>"""


def bare(xml: str, instances_count: int, steps: int, rt: Runtime) -> tuple[float, float]:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(xml.encode())
    spec = parser.get_spec("bench_linear")
    stock = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    timings = {"stock": [], "state": []}
    for kind in timings:
        for _ in range(instances_count):
            wf = BpmnWorkflow(spec, script_engine=rt.script_engine)
            wf.do_engine_steps()
            state = stock.serialize_json(wf) if kind == "stock" else STATE_SERIALIZER.dumps(wf)
            for _step in range(steps):
                started = time.perf_counter()
                if kind == "stock":
                    wf = stock.deserialize_json(state)
                    wf.script_engine = rt.script_engine
                else:
                    wf = STATE_SERIALIZER.loads(state, spec, {}, rt.script_engine)
                task = wf.get_next_task(state=TaskState.READY, manual=True)
                task.data["step"] = task.task_spec.name
                task.run()
                wf.refresh_timers()
                wf.do_engine_steps()
                state = stock.serialize_json(wf) if kind == "stock" else STATE_SERIALIZER.dumps(wf)
                timings[kind].append(time.perf_counter() - started)
    return statistics.median(timings["stock"]) * 1000, statistics.median(timings["state"]) * 1000


def kaohe(xml: str, instances_count: int, steps: int, rt: Runtime) -> float:
    owner = rt.owner
    deploy.deploy(rt, [SourceFile("bench_linear.bpmn", xml)], owner)
    timings = []
    for _ in range(instances_count):
        instance_id = instances.start(rt, "bench_linear", owner)
        for _step in range(steps):
            with rt.db.reading() as session:
                task_id = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                                    HumanTask.status == "open"))
            started = time.perf_counter()
            tasks.complete(rt, task_id, owner, {"step": task_id})
            timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def runtime_for(url: str) -> Runtime:
    database = Database(url)
    Base.metadata.drop_all(database.engine)
    Base.metadata.create_all(database.engine)
    rt = Runtime(Settings(database_url=url), database=database)
    load_demo(rt)
    with rt.db.reading() as session:
        from engine.models import Person
        rt.owner = actor_for(session.scalar(select(Person).where(Person.username == "owner")))
    return rt


def main() -> None:
    instances_count = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    xml = linear_process(steps)
    targets = [("SQLite", f"sqlite:///{tempfile.mkdtemp()}/bench.db")]
    if os.environ.get("KAOHE_TEST_DATABASE_URL"):
        targets.append(("PostgreSQL", os.environ["KAOHE_TEST_DATABASE_URL"]))
    print(f"{instances_count} instances x {steps} user tasks each; medians per completion")
    for label, url in targets:
        rt = runtime_for(url)
        stock_ms, state_ms = bare(xml, instances_count, steps, rt)
        service_ms = kaohe(xml, instances_count, steps, rt)
        print(f"[{label}]")
        print(f"  (a) bare SpiffWorkflow, stock serializer (spec embedded): {stock_ms:6.2f} ms")
        print(f"  (a') bare SpiffWorkflow, state-only serializer:           {state_ms:6.2f} ms")
        print(f"  (b) kaohe tasks.complete (load, run, save, projection, audit, commit): {service_ms:6.2f} ms")
        print(f"  ratio b/a = {service_ms / stock_ms:4.2f}   b/a' = {service_ms / state_ms:4.2f}"
              f"   target: b/a <= 3 and b <= 5 ms on SQLite")
        rt.db.dispose()


if __name__ == "__main__":
    main()
