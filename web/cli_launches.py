"""`kaohe launches list|run|resume`: the children a parent's step starts (one per unit, person or
group), with a progress bar; `run` and `resume` finish a launch that stopped half-way."""
from __future__ import annotations

import sys

import click
from sqlalchemy import select
from tabulate import tabulate

from engine.models import FanOut
from engine.runtime import Runtime
from engine.services import fan_out
from engine.settings import Settings


def _runtime() -> Runtime:
    return Runtime(Settings.from_env())


def _english() -> bool:
    return Settings.from_env().language.startswith("en")


@click.group("launches")
def launches() -> None:
    """Launches of child instances (一个步骤为每个单位、每个人启动的子流程)."""


@launches.command("list")
@click.option("--instance", "instance_id", type=int, default=None, help="Only this parent instance's launches.")
def list_launches(instance_id: int | None) -> None:
    """Every launch, newest first, with how many of its children have started."""
    rt = _runtime()
    with rt.db.reading() as session:
        rows = fan_out.progress_of(session, parent_id=instance_id)
    english = _english()
    headers = ["launch", "instance", "step", "process", "status", "started", "total", "%"] if english else \
        ["启动批次", "父实例", "步骤", "流程", "状态", "已启动", "总数", "%"]
    click.echo(tabulate([[p.id, p.parent_instance_id, p.element, p.process_id, p.status_text(english), p.started,
                          p.total, p.percent] for p in rows], headers=headers))


def _run_with_bar(rt: Runtime, launch_id: int) -> None:
    with rt.db.reading() as session:
        launch = session.get(FanOut, launch_id)
    if launch is None:
        click.echo(click.style(f"没有启动批次 {launch_id} / no launch {launch_id}", fg="red"), err=True)
        sys.exit(1)
    label = f"{launch.element} ({launch_id})"
    with click.progressbar(length=launch.total, label=label, show_pos=True, file=sys.stderr) as bar:
        bar.update(launch.started)
        fan_out.run(rt, launch_id, progress=bar.update)
    with rt.db.reading() as session:
        launch = session.get(FanOut, launch_id)
    click.echo(f"{label}: {launch.started}/{launch.total} {launch.status}")


@launches.command("run")
@click.argument("launch_id", type=int)
def run_launch(launch_id: int) -> None:
    """Start the children of one launch that are not started yet (safe to repeat)."""
    _run_with_bar(_runtime(), launch_id)


@launches.command("resume")
def resume() -> None:
    """Finish every launch still running (after a crash or an outage); safe while workers run."""
    rt = _runtime()
    with rt.db.reading() as session:
        ids = list(session.scalars(select(FanOut.id).where(FanOut.status == "running").order_by(FanOut.id)))
    if not ids:
        click.echo("没有未完成的启动批次 / no launch is running")
    for launch_id in ids:
        _run_with_bar(rt, launch_id)
