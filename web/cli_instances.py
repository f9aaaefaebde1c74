"""`kaohe instances migrate`: move a running instance to a newer version of its process, run as the
system (whoever can run this command on the server already holds the database)."""
from __future__ import annotations

import sys

import click

from engine.errors import KaoheError
from engine.runtime import SYSTEM, Runtime
from engine.settings import Settings


def _language() -> str:
    return "en" if Settings.from_env().language.startswith("en") else "zh"


@click.group("instances")
def instances() -> None:
    """Process instances: move a running one to a newer version of its process."""


@instances.command("migrate")
@click.argument("instance_id", type=int)
@click.option("--to", "to_version", type=int, default=None, help="Version number to move to (default: the latest).")
@click.option("--check", "dry_run", is_flag=True, help="Only say whether the move is possible; change nothing.")
def migrate(instance_id: int, to_version: int | None, dry_run: bool) -> None:
    """Move INSTANCE_ID to a newer version where the change allows it; else print every reason and exit 1."""
    from engine.services import instance_migration
    language = _language()
    rt = Runtime(Settings.from_env())
    try:
        found = (instance_migration.check if dry_run else instance_migration.migrate)(
            rt, instance_id, SYSTEM, to_version)
    except instance_migration.MigrationRefused as refused:
        click.echo(click.style("不能迁移 refused" if language == "zh" else "refused", fg="red"), err=True)
        for reason in refused.reasons:
            click.echo(f"  - {reason.text(language)}", err=True)
        sys.exit(1)
    except KaoheError as error:
        click.echo(click.style(error.text(language), fg="red"), err=True)
        sys.exit(1)
    move = f"#{found.instance_id} {found.process_id} v{found.from_version} → v{found.to_version}"
    for note in found.notes:
        click.echo(f"  * {note.text(language)}")
    if not found.allowed:  # only a check gets here refused
        click.echo(click.style(f"不能迁移 cannot move {move}", fg="red"), err=True)
        for reason in found.reasons:
            click.echo(f"  - {reason.text(language)}", err=True)
        sys.exit(1)
    click.echo(f"可以迁移 can move {move}" if dry_run else f"已迁移 moved {move}")
