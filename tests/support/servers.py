"""Real kaohe processes for the tests that need more than one: gunicorn web workers, the
`kaohe scheduler`, Celery workers. Each runs against the test's database with its own log file;
a test may kill one with SIGKILL and start it again, as an operator's supervisor would."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.cli import ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kaohe_env(database_url: str, files_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a deployed kaohe process: its database, files, a fixed secret key, the
    scheduler run apart from the web workers; `extra` overrides any of it (KAOHE_* names)."""
    env = {**os.environ, "KAOHE_DATABASE_URL": database_url, "KAOHE_FILES_DIR": str(files_dir),
           "KAOHE_SECRET_KEY": "reliability-test-secret", "KAOHE_SCHEDULER": "external",
           "KAOHE_WORKFLOWS_DIR": str(ROOT / "workflows")}
    env.pop("KAOHE_TEST_DATABASE_URL", None)
    env.update(extra)
    return env


@dataclass
class Process:
    """One started process, restartable with the same command and environment."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    ready_url: str | None = None
    popen: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, timeout: float = 30) -> "Process":
        log = open(self.log_path, "a")
        self.popen = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)  # its own group: a kill reaches gunicorn's workers too
        log.close()
        if self.ready_url:
            self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.log()}")
            try:
                urllib.request.urlopen(self.ready_url, timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: nothing gets to finish or clean up."""
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        if not self.popen or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def web(env: dict[str, str], logs: Path, *, workers: int = 1, name: str = "web", port: int | None = None) -> Process:
    """gunicorn serving kaohe's pages and API on loopback; `.base` is its address."""
    port = port or free_port()
    process = Process(name, [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
                             f"127.0.0.1:{port}", "--graceful-timeout", "5", "web.wsgi:create_worker_app()"],
                      env, logs / f"{name}.log", ready_url=f"http://127.0.0.1:{port}/login")
    process.base = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return process


def scheduler(env: dict[str, str], logs: Path, *, poll: float = 0.5, name: str = "scheduler") -> Process:
    """`kaohe scheduler`: the one process that fires timers and calendar meetings."""
    return Process(name, [sys.executable, "-m", "web.cli", "scheduler", "--poll", str(poll)], env,
                   logs / f"{name}.log")


def stop_all(*processes: Process) -> None:
    for process in processes:
        process.stop()
