"""How long work tells how far it is: a callback `report(done, total, stage_zh, stage_en)`.

The work calls it as it reads or writes rows; a background job (engine/services/jobs.py) keeps the
latest figures and writes them to its row, the command line draws a bar (web/cli_progress.py). The
callback must be cheap and must never fail the work, so it only records numbers."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Report = Callable[[int, int, str, str], None]
T = TypeVar("T")
# Rows between two reports: often enough for a bar to move, rare enough to cost nothing.
EVERY = 200


def quiet(done: int, total: int, stage_zh: str, stage_en: str) -> None:
    """The report of work nobody watches."""


def counted(items: Iterable[T], report: Report | None, total: int, stage_zh: str, stage_en: str,
            every: int = EVERY) -> Iterator[T]:
    """Yield `items`, reporting every `every` of them (and the last) as done out of `total`."""
    if report is None:
        yield from items
        return
    report(0, total, stage_zh, stage_en)
    done = 0
    for item in items:
        yield item
        done += 1
        if done % every == 0:
            report(done, max(total, done), stage_zh, stage_en)
    report(done, max(total, done), stage_zh, stage_en)


def step(report: Report | None, stage_zh: str, stage_en: str) -> None:
    """A stage that has no rows to count (checking, saving): shown as its name alone."""
    if report is not None:
        report(0, 0, stage_zh, stage_en)
