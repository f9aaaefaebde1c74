"""`kaohe backup`: one archive holding a consistent snapshot of every table and every evidence file.

The archive is a zip file (members can be streamed in without knowing their size, each carries a
CRC-32, and a truncated copy has no central directory, so it is refused before anything is read):

  manifest.json              format, format_version, revision (Alembic), created_at, dialect,
                             tables [{name, file, columns, rows}] in foreign-key order,
                             files [{sha256, size}], missing_files
  tables/NNN-<table>.jsonl   one JSON array per row, values in the manifest's column order,
                             rows in primary-key order
  files/ab/<sha256>          the evidence files, as KAOHE_FILES_DIR stores them

Rows are dialect-neutral (datetimes as ISO 8601 in UTC, decimals as strings), so a backup taken
from SQLite restores into PostgreSQL and the reverse. Every table is read in ONE read-only
transaction (REPEATABLE READ on PostgreSQL, one WAL read transaction on SQLite): the app may keep
writing while the backup runs and the archive is still one moment of the database.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, Table, func, select

from engine.clock import as_utc
from engine.db import Database
from engine.errors import KaoheError
from engine.evidence import storage

FORMAT = "kaohe-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
BATCH = 1000
# Alembic's own bookkeeping: the revision travels in the manifest instead.
SKIPPED_TABLES = {"alembic_version"}

# Reports progress: (rows just written or loaded, total rows).
Progress = Callable[[int, int], None]


class BackupRefused(KaoheError):
    """A backup or restore that cannot be done; nothing was changed."""

    code = "backup_refused"


@dataclass
class BackupReport:
    path: Path
    revision: str
    tables: dict[str, int]
    files: int
    missing_files: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def encode(value):
    """A column value as JSON: datetimes in UTC (SQLite hands back naive UTC), exact decimals."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def ordered_tables(connection: Connection) -> list[Table]:
    """Every table of the database as it is (whatever its revision), parents before children."""
    metadata = MetaData()
    metadata.reflect(bind=connection)
    return [t for t in metadata.sorted_tables if t.name not in SKIPPED_TABLES]


def primary_key_order(table: Table) -> list:
    return list(table.primary_key.columns) or list(table.columns)


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def snapshot(db: Database) -> Iterator[Connection]:
    """One read-only transaction that sees a single moment of the database while others write."""
    connection = db.engine.connect()
    if db.dialect == "postgresql":
        connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    try:
        with connection.begin():  # SQLite: BEGIN (deferred); the first read fixes the WAL snapshot
            yield connection
    finally:
        connection.close()


def _entry(name: str) -> zipfile.ZipInfo:
    """A member dated now (zipfile would otherwise date streamed members 1980), compressed."""
    info = zipfile.ZipInfo(name, date_time=datetime.now().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _write_rows(archive: zipfile.ZipFile, member: str, connection: Connection, table: Table,
                progress: Progress | None, total: int) -> int:
    written = 0
    result = connection.execution_options(yield_per=BATCH).execute(select(table).order_by(*primary_key_order(table)))
    with archive.open(_entry(member), "w", force_zip64=True) as out:
        for rows in result.partitions():
            out.write("".join(json.dumps([encode(v) for v in row], ensure_ascii=False, separators=(",", ":")) + "\n"
                              for row in rows).encode("utf-8"))
            written += len(rows)
            if progress:
                progress(len(rows), total)
    return written


def _evidence_hashes(connection: Connection, tables: list[Table]) -> list[str]:
    [evidence] = [t for t in tables if t.name == "evidence_file"] or [None]
    if evidence is None:
        return []
    return list(connection.scalars(select(evidence.c.sha256).distinct().order_by(evidence.c.sha256)))


def _copy_file(archive: zipfile.ZipFile, source: Path, sha256: str) -> int | None:
    """Copy one stored file in chunks, checking its content on the way; None if it is missing or damaged
    (then the partly written member stays out of the manifest and restore never reads it)."""
    if not source.is_file():
        return None
    digest, size = hashlib.sha256(), 0
    member = _entry(f"files/{sha256[:2]}/{sha256}")
    with open(source, "rb") as stream, archive.open(member, "w", force_zip64=True) as out:
        while chunk := stream.read(storage.CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return size if digest.hexdigest() == sha256 else None


def write_backup(db: Database, files_dir: Path, target: Path, *, clock_now: datetime,
                 progress: Progress | None = None) -> BackupReport:
    """Write the archive to `target` (through a temporary file, so a crash never leaves half a backup
    under the final name). The evidence files named by the snapshot's rows are copied after the rows:
    stored files are content-addressed and never rewritten, so they still match."""
    target = Path(target)
    if not target.parent.is_dir():
        raise BackupRefused(f"目录 {target.parent} 不存在，无法写入备份", f"there is no folder {target.parent} to write "
                            "the backup in")
    partial = target.with_name(f".{target.name}.partial")
    try:
        with snapshot(db) as connection:
            revision = current_revision(connection)
            if revision is None:
                raise BackupRefused("数据库还没有结构版本（请先运行 kaohe init），无法备份",
                                    "the database has no schema revision yet (run kaohe init first); "
                                    "nothing to back up")
            tables = ordered_tables(connection)
            totals = {t.name: connection.scalar(select(func.count()).select_from(t)) for t in tables}
            total = sum(totals.values())
            manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "revision": revision,
                        "created_at": as_utc(clock_now).isoformat(), "dialect": db.dialect,
                        "tables": [], "files": [], "missing_files": []}
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
                for number, table in enumerate(tables, start=1):
                    member = f"tables/{number:03d}-{table.name}.jsonl"
                    rows = _write_rows(archive, member, connection, table, progress, total)
                    manifest["tables"].append({"name": table.name, "file": member,
                                               "columns": [c.name for c in table.columns], "rows": rows})
                for sha256 in _evidence_hashes(connection, tables):
                    size = _copy_file(archive, storage.path_for(Path(files_dir), sha256), sha256)
                    if size is None:
                        manifest["missing_files"].append(sha256)
                    else:
                        manifest["files"].append({"sha256": sha256, "size": size})
                archive.writestr(_entry(MANIFEST), json.dumps(manifest, ensure_ascii=False, indent=1))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupReport(target, revision, {t["name"]: t["rows"] for t in manifest["tables"]}, len(manifest["files"]),
                        manifest["missing_files"])
