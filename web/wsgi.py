"""Serving kaohe with gunicorn: the WSGI entry point and `kaohe serve --workers N`.

    gunicorn --workers 2 --bind 127.0.0.1:5000 'web.wsgi:create_worker_app()'   # web workers
    KAOHE_SCHEDULER=external kaohe scheduler                                     # one scheduler

A web worker never runs the timer scheduler, whatever KAOHE_SCHEDULER says: with several workers
each would keep its own copy of every timer and calendar job, and gunicorn starts and stops
workers as it likes. Timers and the calendar belong to exactly one `kaohe scheduler` process beside
them (its database claims would stop a deadline from firing twice anyway, but one is the design).

The app is built in each worker after the fork (no preload), so no database connection is ever
shared between processes.
"""
from __future__ import annotations

import gc
import logging
import os
import subprocess
import sys

from flask import Flask

from engine.settings import Settings
from web import create_app

log = logging.getLogger(__name__)
# Exports and imports still run inside the request (docs/PERFORMANCE.md): give them time.
REQUEST_TIMEOUT_SECONDS = 120


def create_worker_app() -> Flask:
    """The app as one gunicorn worker serves it: pages and API, no scheduler."""
    app = create_app({"START_SCHEDULER": False})
    # Everything built so far lives as long as the worker: keep it out of the collector's full passes
    # (a frozen start-up heap makes the pauses of long-lived workers shorter and rarer).
    gc.collect()
    gc.freeze()
    if app.extensions["kaohe"].settings.scheduler_mode == "embedded":
        log.warning("gunicorn workers do not run the scheduler: run one `kaohe scheduler` beside them "
                    "(and set KAOHE_SCHEDULER=external to silence this), or timers and the calendar stop")
    return app


def serve(host: str, port: int, workers: int, threads: int = 1) -> None:
    """`kaohe serve --workers N`: gunicorn with N workers and, in embedded mode, one scheduler
    process next to them, so this one command still fires timers; stops both together."""
    from gunicorn.app.base import BaseApplication

    class KaoheGunicorn(BaseApplication):
        def load_config(self) -> None:
            settings = {"bind": f"{host}:{port}", "workers": workers, "threads": threads,
                        # gthread keeps connections alive and overlaps database waits; sync is leaner.
                        "worker_class": "gthread" if threads > 1 else "sync",
                        "timeout": REQUEST_TIMEOUT_SECONDS, "preload_app": False,
                        # One fixed path per user by default: a second server would take it over.
                        "control_socket_disable": True}
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return create_worker_app()

    scheduler = None
    if Settings.from_env().scheduler_mode == "embedded":
        scheduler = subprocess.Popen([sys.executable, "-m", "web.cli", "scheduler"])
        os.environ["KAOHE_SCHEDULER"] = "external"  # for the workers: the scheduler is that process
    try:
        KaoheGunicorn().run()
    finally:
        if scheduler is not None:
            scheduler.terminate()
            scheduler.wait(timeout=30)
