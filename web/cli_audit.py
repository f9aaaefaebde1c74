"""`kaohe audit verify|export`: check the hash chain, and write the trail to a file."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.errors import KaoheError
from engine.runtime import SYSTEM


def _cli():
    """web.cli's shared helpers, imported late because web.cli registers this group."""
    from web import cli
    return cli


@click.group()
def audit() -> None:
    """Audit trail commands."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the hash chain of the audit trail; name the first broken link."""
    from engine.services import audit as audit_service
    rt = _cli()._runtime()
    with rt.db.reading() as session:
        report = audit_service.verify(session)
    if report.ok:
        click.echo(f"审计链完整 audit chain intact: {report.checked} 条事件 events")
        return
    click.echo(click.style(f"审计链在事件 #{report.first_broken_id} 处断开 audit chain broken at event "
                           f"#{report.first_broken_id}: {report.reason} ({report.checked} verified before it)",
                           fg="red"), err=True)
    sys.exit(1)


@audit.command("export")
@click.option("--instance", "instance_id", type=click.IntRange(min=1),
              help="Only this process instance's trail (default: the whole chain).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default=None,
              help="Default: from the file's extension, else xlsx.")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="The file to write.")
def audit_export(instance_id: int | None, fmt: str | None, output: str) -> None:
    """Write the audit trail, with every event's prev_hash and hash, to a CSV (UTF-8 with a BOM) or Excel
    file (headers in KAOHE_LANGUAGE); the export itself is recorded in the trail. In an export of the
    whole chain each row's prev_hash is the previous row's hash."""
    from engine.services import audit_export as export_service
    fmt = fmt or ("csv" if output.lower().endswith(".csv") else "xlsx")
    rt, language = _cli()._runtime(), "en" if _cli()._language().startswith("en") else "zh"
    from web.cli_progress import progress_bar
    try:
        with progress_bar() as progress:
            export = export_service.export_chain(rt, SYSTEM, fmt, language, progress) if instance_id is None \
                else export_service.export_case(rt, SYSTEM, instance_id, fmt, language)
    except KaoheError as error:
        _cli()._fail(error)
    Path(output).write_bytes(export.content)
    click.echo(f"已导出 {export.events} 条审计事件 exported {export.events} audit events: {output}")
