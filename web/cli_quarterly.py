"""`kaohe publicity` and `kaohe interviews`: the quarter's public display and interview tracker."""
from __future__ import annotations

import sys

import click
from tabulate import tabulate

from engine.errors import KaoheError
from engine.runtime import Runtime
from engine.settings import Settings


def _run(call):
    settings = Settings.from_env()
    language = "en" if settings.language.startswith("en") else "zh"
    try:
        return call(Runtime(settings)), language
    except KaoheError as error:
        click.echo(click.style(error.text(language), fg="red"), err=True)
        sys.exit(1)


@click.command("publicity")
@click.option("--quarter", required=True, help="A quarter, e.g. 2026Q4.")
@click.option("--unit", help="Only this unit's code.")
def publicity(quarter: str, unit: str | None) -> None:
    """The achievements on public display (公示) for a quarter, with who rated them and why."""
    from engine.services.achievements import publicity as published
    items, language = _run(lambda rt: published(rt, quarter, unit))
    headers = (["Unit", "Name", "Month", "Achievement", "Task source", "Rating", "Rated by", "Why"]
               if language == "en" else ["单位", "姓名", "月份", "实绩", "任务来源", "评价", "评价人", "评价理由"])
    click.echo(tabulate([(i.unit_name, i.person_name, i.period, i.title, i.task_source, i.rating, i.rated_by,
                          i.rating_reason) for i in items], headers=headers))


@click.command("interviews")
@click.option("--quarter", required=True, help="A quarter, e.g. 2026Q4.")
@click.option("--unit", help="Only this unit's code.")
def interviews(quarter: str, unit: str | None) -> None:
    """How many people have had their one-on-one feedback interview for a quarter, and who has not."""
    from engine.services.achievements import interview_progress
    progress, language = _run(lambda rt: interview_progress(rt, quarter, unit))
    click.echo(f"{progress.done} / {progress.total} ({progress.percent}%)")
    if progress.missing:
        click.echo("Not interviewed yet:" if language == "en" else "尚未面谈：")
        click.echo(tabulate(progress.missing, headers=["Unit", "Name", "Username"] if language == "en"
                            else ["单位", "姓名", "用户名"]))
