"""`kaohe backup FILE` and `kaohe restore FILE`: the whole installation (database rows and evidence files)
in one archive, and back into an empty database (engine/services/backup.py, engine/services/restore.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.errors import KaoheError


def _cli():
    """web.cli's shared helpers, imported late because web.cli registers these commands."""
    from web import cli
    return cli


class _RowsBar:
    """A click progress bar over the table rows, opened once the total is known (drawn only on a terminal)."""

    def __init__(self, label: str):
        self.label, self.bar = label, None

    def __call__(self, step: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(step)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def backup(file: str) -> None:
    """Write the database (KAOHE_DATABASE_URL, every table, read as one consistent moment while kaohe keeps
    running) and the evidence files (KAOHE_FILES_DIR) to one zip archive FILE, with a manifest of row counts
    and file hashes. Restore it with `kaohe restore`, into SQLite or PostgreSQL."""
    from engine.services.backup import write_backup
    rt = _cli()._runtime()
    bar = _RowsBar("备份 backing up rows")
    try:
        report = write_backup(rt.db, rt.settings.files_dir, Path(file), clock_now=rt.clock.now(), progress=bar)
    except KaoheError as error:
        bar.close()
        _cli()._fail(error)
    bar.close()
    click.echo(f"已备份 backed up: {report.path} (结构版本 revision {report.revision}, "
               f"{len(report.tables)} 张表 tables, {report.rows} 行 rows, {report.files} 个佐证文件 evidence files)")
    if report.missing_files:
        click.echo(click.style(f"警告：{len(report.missing_files)} 个佐证文件在 KAOHE_FILES_DIR 中缺失或已损坏，未能备份 "
                               f"warning: {len(report.missing_files)} evidence files are missing or damaged in "
                               f"KAOHE_FILES_DIR and were not backed up:", fg="yellow"), err=True)
        for sha256 in report.missing_files:
            click.echo(f"  - {sha256}", err=True)


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
def restore(file: str) -> None:
    """Restore a `kaohe backup` archive FILE into an EMPTY database (KAOHE_DATABASE_URL) and KAOHE_FILES_DIR.

    The archive is checked first (manifest, every table and file hash, a schema revision this kaohe knows),
    then the target must be empty; if anything is wrong nothing is changed and the exit code is 1. The schema
    is built at the backup's revision, the rows are loaded in one transaction, the schema is upgraded to this
    kaohe's, and the audit chain is verified."""
    from engine.services.restore import restore as restore_backup
    rt = _cli()._runtime()
    bar = _RowsBar("恢复 restoring rows")
    try:
        report = restore_backup(rt.db, rt.settings.files_dir, Path(file), progress=bar)
    except KaoheError as error:
        bar.close()
        _cli()._fail(error)
    bar.close()
    for name, rows in report.tables.items():
        click.echo(f"  {name}: {rows}")
    click.echo(f"已恢复 restored: {len(report.tables)} 张表 tables, {report.rows} 行 rows, "
               f"{report.files} 个佐证文件 evidence files (结构版本 revision {report.revision})")
    if report.upgraded_to:
        click.echo(f"已升级结构版本 schema upgraded: {report.revision} -> {report.upgraded_to}")
    if report.missing_files:
        click.echo(click.style(f"警告：备份时缺失 {len(report.missing_files)} 个佐证文件 warning: "
                               f"{len(report.missing_files)} evidence files were already missing when the backup "
                               "was taken", fg="yellow"), err=True)
    if not report.chain.ok:
        click.echo(click.style(f"审计链在事件 #{report.chain.first_broken_id} 处断开 audit chain broken at event "
                               f"#{report.chain.first_broken_id}: {report.chain.reason}", fg="red"), err=True)
        sys.exit(1)
    click.echo(f"审计链完整 audit chain intact: {report.chain.checked} 条事件 events")
