"""`kaohe check`: do instance states, task rows, statuses, timers and the audit trail agree?
Run it after a crash or a restore; it changes nothing."""
from __future__ import annotations

import sys

import click


@click.command("check")
@click.option("--limit", default=50, show_default=True, help="Print at most this many problems.")
def check(limit: int) -> None:
    """Check every instance against its stored tasks, status, timer and audit trail."""
    from engine.services import consistency
    from web import cli
    problems = consistency.check(cli._runtime())
    if not problems:
        click.echo("数据一致 consistent: 流程状态、任务、定时器与审计记录相符 "
                   "states, tasks, timers and the audit trail agree")
        return
    for problem in problems[:limit]:
        click.echo(f"不一致 inconsistent {problem}", err=True)
    if len(problems) > limit:
        click.echo(f"… 另有 {len(problems) - limit} 处 and {len(problems) - limit} more", err=True)
    click.echo(click.style(f"发现 {len(problems)} 处不一致 {len(problems)} problem(s) found", fg="red"), err=True)
    sys.exit(1)
