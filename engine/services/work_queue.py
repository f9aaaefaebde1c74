"""Who runs work that follows a commit: KAOHE_WORK_QUEUE decides, the same for launches
(engine/services/fan_out.py) and background jobs (engine/services/jobs.py).

`inline` runs it in the committing caller before it returns; `thread` in a background thread of this
process; `scheduler` leaves it to the scheduler process's sweep; `celery` sends a message to the
workers (engine/worker.py). Whatever the mode, a sweep takes up work whose runner died."""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from engine.runtime import Runtime

log = logging.getLogger(__name__)
# One background thread per kind of work (launches, jobs) for the whole process, whatever Runtime asks:
# the work carries its own Runtime, and a pool per Runtime would leave idle threads behind each one.
_POOLS: dict[str, ThreadPoolExecutor] = {}


def hand_over(rt: Runtime, what: str, run_here: Callable[[], object], send_to_celery: Callable[[], object]) -> None:
    """Start `what` the configured way. Never raises: the caller's work is committed already, and
    what did not start is taken up by the sweep."""
    mode = rt.settings.work_queue
    try:
        if mode == "celery":
            send_to_celery()
        elif mode == "scheduler":
            pass  # the scheduler process's sweep takes it up within seconds
        elif mode == "thread":
            kind = what.split()[0]
            pool = _POOLS.get(kind) or _POOLS.setdefault(kind, ThreadPoolExecutor(1, thread_name_prefix=f"kaohe-{kind}"))
            pool.submit(_logged, what, run_here)
        else:
            _logged(what, run_here)
    except Exception:
        log.exception("%s could not be handed over; the sweep will take it up", what)


def _logged(what: str, run_here: Callable[[], object]) -> None:
    try:
        run_here()
    except Exception:
        log.exception("%s stopped; the sweep will take it up", what)
