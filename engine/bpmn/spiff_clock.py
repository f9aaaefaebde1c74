"""Let SpiffWorkflow's timers read kaohe's injectable clock.

SpiffWorkflow 3.2 reads `datetime.now(timezone.utc)` inside its timer event definitions
(`SpiffWorkflow/bpmn/specs/event_definitions/timer.py`): when a timer starts (due = now + duration)
and when it checks whether it has fired. kaohe must run timers against its own clock, so tests and
`kaohe run-due --now …` can travel in time and a catch-up after downtime fires what was due then.
The module's `datetime` name is replaced once by a subclass whose `now()` asks the clock of the
current context (a ContextVar: each thread and request has its own); outside `running_on(...)`
it is the real time, exactly as before.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Iterator

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

from engine.clock import Clock

_CURRENT: ContextVar[Clock | None] = ContextVar("kaohe_spiff_clock", default=None)


class _ClockedDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        clock = _CURRENT.get()
        if clock is None:
            return datetime.now(tz)
        moment = clock.now()
        return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)


def install() -> None:
    """Idempotent: route SpiffWorkflow's timer clock through the current context's clock."""
    if spiff_timer.datetime is not _ClockedDatetime:
        spiff_timer.datetime = _ClockedDatetime


@contextmanager
def running_on(clock: Clock) -> Iterator[None]:
    """Within this block SpiffWorkflow's timers read `clock`."""
    token = _CURRENT.set(clock)
    try:
        yield
    finally:
        _CURRENT.reset(token)


install()
