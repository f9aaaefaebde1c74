"""A click progress bar fed by the work's own reports (engine/services/progress.py), for the long
commands: org import/export, scores import, audit export, results. Drawn on a terminal only; in a
pipe or a test nothing extra is printed and the outcome is what the command prints."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from engine.services.progress import Report


@contextmanager
def progress_bar() -> Iterator[Report | None]:
    """Yields a report callback (None when stderr is no terminal); each stage gets a bar of its own."""
    if not sys.stderr.isatty():
        yield None
        return
    current: dict = {}

    def report(done: int, total: int, stage_zh: str, stage_en: str) -> None:
        if total <= 0:
            return  # a stage with nothing to count draws no bar
        bar = current.get("bar")
        if bar is None or current.get("stage") != stage_zh or bar.length != total:
            if bar is not None:
                bar.render_finish()
            bar = click.progressbar(length=total, label=stage_zh, show_pos=True, file=sys.stderr)
            current.update(bar=bar, stage=stage_zh)
        bar.update(done - bar.pos)

    try:
        yield report
    finally:
        if current.get("bar") is not None:
            current["bar"].render_finish()
