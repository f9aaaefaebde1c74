"""`kaohe scheduler` in its own process wakes timers set by another process (a web worker)."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

from engine.bpmn.bundle import SourceFile
from engine.models import ProcessInstance
from engine.services import audit, deploy, instances
from tests.integration.test_instances import TIMER_PROCESS
from tests.support.cli import ROOT


def test_a_separate_scheduler_process_fires_a_timer_set_by_this_process_once(rt, people):
    deploy.deploy(rt, [SourceFile("waiter.bpmn", TIMER_PROCESS.replace('"PT0.3S"', '"PT2S"'))], people.owner)
    env = {"KAOHE_DATABASE_URL": rt.settings.database_url, "PATH": "/usr/bin:/bin"}
    scheduler = subprocess.Popen([sys.executable, "-m", "web.cli", "scheduler", "--poll", "0.5"], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)  # let it start
        instance_id = instances.start(rt, "waiter", people.owner)  # this process is "the web worker"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with rt.db.reading() as session:
                if session.get(ProcessInstance, instance_id).status == "waiting_person":
                    break
            time.sleep(0.2)
        with rt.db.reading() as session:
            actions = [e.action for e in audit.instance_trail(session, instance_id)]
    finally:
        scheduler.send_signal(signal.SIGTERM)
        out, err = scheduler.communicate(timeout=10)
    assert actions.count("timer_fired") == 1, err
    assert scheduler.returncode == 0 and "scheduler running" in out
