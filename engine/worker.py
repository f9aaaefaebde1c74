"""Celery workers for fan-out work and background jobs, when one machine's web process should not do it.

    KAOHE_WORK_QUEUE=celery KAOHE_BROKER_URL=redis://127.0.0.1:6379/0 \\
        celery -A engine.worker worker --concurrency 1 --loglevel INFO

A launch (engine/services/fan_out.py) becomes a few messages; each worker that takes one starts
chunks of the launch's children until none is left, so two workers share a launch, and on
PostgreSQL never take the same chunk (FOR UPDATE SKIP LOCKED). Messages are acknowledged only
after the work (a worker killed mid-chunk leaves its message to another worker), and a chunk is
one transaction, so a redelivered message finds only what is not yet started.
"""
from __future__ import annotations

import logging

from celery import Celery
from sqlalchemy.exc import OperationalError

from engine.runtime import Runtime
from engine.settings import Settings

log = logging.getLogger(__name__)
# At most this many workers take part in one launch (more messages would only find nothing left).
MAX_PARALLEL = 8

app = Celery("kaohe", broker=Settings.from_env().broker_url)
app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
                broker_connection_retry_on_startup=True, task_ignore_result=True,
                worker_hijack_root_logger=False)
_runtime: Runtime | None = None


def runtime() -> Runtime:
    """One runtime per worker process (its database pool and spec cache), made on first use."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime(Settings.from_env())
    return _runtime


@app.task(name="kaohe.run_launch", bind=True, max_retries=None, default_retry_delay=5)
def run_launch(self, fan_out_id: int) -> int:
    """Start children of the launch until none is left; a lost database is retried, not dropped."""
    from engine.services import fan_out
    try:
        return fan_out.run(runtime(), fan_out_id)
    except OperationalError as error:
        log.warning("launch %s: database unavailable, retrying: %s", fan_out_id, error)
        raise self.retry(exc=error)


@app.task(name="kaohe.run_job", bind=True, max_retries=None, default_retry_delay=5)
def run_job(self, job_id: int) -> str | None:
    """Run a background job (an export or import, engine/services/jobs.py) if nobody else runs it."""
    from engine.services import jobs
    try:
        return jobs.run(runtime(), job_id)
    except OperationalError as error:
        log.warning("job %s: database unavailable, retrying: %s", job_id, error)
        raise self.retry(exc=error)


def queue_job(job_id: int) -> None:
    run_job.delay(job_id)


def queue_launch(fan_out_id: int, chunks: int) -> None:
    """Called after the parent's commit: one message per chunk, up to MAX_PARALLEL."""
    for _ in range(min(max(chunks, 1), MAX_PARALLEL)):
        run_launch.delay(fan_out_id)
