"""`kaohe restore`: load a backup (engine/services/backup.py) into an EMPTY database.

Order matters, so that a refusal changes nothing: first the whole archive is read and checked
(manifest, every member's CRC and row count, every evidence file's SHA-256, a revision this code
knows), then the target is checked to be empty; only then are the files put back, the schema built
by Alembic at the backup's revision, every table loaded in one transaction, PostgreSQL's sequences
moved past the loaded ids, the schema upgraded to head if the backup was older, and the audit chain
verified.
"""
from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy import Boolean, Connection, Date, DateTime, Float, LargeBinary, Numeric, Table, inspect, insert, \
    literal, select, table as table_named, text, update

from engine.db import Database
from engine.evidence import storage
from engine.migrate import alembic_config, upgrade
from engine.services import audit
from engine.services.backup import (BATCH, FORMAT, FORMAT_VERSION, MANIFEST, SKIPPED_TABLES, BackupRefused,
                                    Progress, current_revision, ordered_tables)


@dataclass
class RestoreReport:
    revision: str
    upgraded_to: str | None
    tables: dict[str, int]
    files: int
    chain: audit.ChainReport
    missing_files: list[str]

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _damaged(member: str, zh: str, en: str) -> BackupRefused:
    return BackupRefused(f"备份文件已损坏：{member}（{zh}），未做任何更改", f"the backup is damaged: {member} ({en}); "
                         "nothing was changed")


def _open(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BackupRefused(f"找不到备份文件 {path}", f"no backup file at {path}") from None
    except (zipfile.BadZipFile, OSError):
        raise BackupRefused(f"{path} 不是完整的 kaohe 备份（无法读取，可能已截断或损坏），未做任何更改",
                            f"{path} is not a complete kaohe backup (unreadable: truncated or damaged?); "
                            "nothing was changed") from None


def _read_manifest(archive: zipfile.ZipFile, path: Path) -> dict:
    not_ours = BackupRefused(f"{path} 不是 kaohe 备份文件（没有有效的 {MANIFEST}）",
                             f"{path} is not a kaohe backup (no valid {MANIFEST})")
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except (KeyError, ValueError, zipfile.BadZipFile):
        raise not_ours from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not _well_formed(manifest):
        raise not_ours
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupRefused(f"备份格式版本 {manifest.get('format_version')} 不受支持（本程序读取版本 {FORMAT_VERSION}）",
                            f"backup format version {manifest.get('format_version')} is not supported "
                            f"(this kaohe reads version {FORMAT_VERSION})")
    return manifest


def _well_formed(manifest: dict) -> bool:
    """The shape restore relies on, so a hand-edited manifest is refused rather than half-read."""
    tables, files = manifest.get("tables"), manifest.get("files")
    return (isinstance(tables, list) and isinstance(files, list)
            and all(isinstance(t, dict) and isinstance(t.get("name"), str) and isinstance(t.get("file"), str)
                    and isinstance(t.get("columns"), list) and isinstance(t.get("rows"), int) for t in tables)
            and all(isinstance(f, dict) and isinstance(f.get("sha256"), str) and storage.SHA256.match(f["sha256"])
                    and isinstance(f.get("size"), int) for f in files))


def _check_revision(manifest: dict, database_url: str) -> str:
    """The backup's revision must be one this code's migrations know; returns head."""
    scripts = ScriptDirectory.from_config(alembic_config(database_url))
    head, revision = scripts.get_current_head(), manifest.get("revision")
    try:
        known = isinstance(revision, str) and scripts.get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise BackupRefused(f"备份的数据库结构版本 {revision} 比本程序新或未知（本程序最高为 {head}），请先升级 kaohe",
                            f"the backup's schema revision {revision} is newer than, or unknown to, this kaohe "
                            f"(it knows up to {head}); upgrade kaohe first")
    return head


def _rows(archive: zipfile.ZipFile, entry: dict) -> Iterator[list]:
    with archive.open(entry["file"]) as stream:
        for line in stream:
            yield json.loads(line)


def check_archive(path: Path, database_url: str) -> tuple[zipfile.ZipFile, dict, str]:
    """Read every member once: CRC-32 (zipfile checks it at each member's end), JSON, row counts,
    evidence hashes. Returns the open archive, its manifest and this code's head revision."""
    archive = _open(Path(path))
    try:
        manifest = _read_manifest(archive, Path(path))
        head = _check_revision(manifest, database_url)
        for entry in manifest["tables"]:
            try:
                count = sum(1 for row in _rows(archive, entry) if len(row) == len(entry["columns"]))
            except KeyError:
                raise _damaged(entry["file"], "缺少此表", "the table is missing") from None
            except (zipfile.BadZipFile, ValueError, EOFError, OSError) as error:
                raise _damaged(entry["file"], f"无法读取：{error}", f"unreadable: {error}") from None
            if count != entry["rows"]:
                raise _damaged(entry["file"], f"应有 {entry['rows']} 行，读到 {count} 行",
                               f"{entry['rows']} rows expected, {count} read")
        for item in manifest["files"]:
            _check_file(archive, item)
    except BaseException:
        archive.close()
        raise
    return archive, manifest, head


def _member(item: dict) -> str:
    return f"files/{item['sha256'][:2]}/{item['sha256']}"


def _check_file(archive: zipfile.ZipFile, item: dict) -> None:
    digest = hashlib.sha256()
    try:
        with archive.open(_member(item)) as stream:
            while chunk := stream.read(storage.CHUNK):
                digest.update(chunk)
    except KeyError:
        raise _damaged(_member(item), "缺少此文件", "the file is missing") from None
    except (zipfile.BadZipFile, OSError) as error:
        raise _damaged(_member(item), f"无法读取：{error}", f"unreadable: {error}") from None
    if digest.hexdigest() != item["sha256"]:
        raise BackupRefused(f"备份中的佐证文件 {item['sha256']} 内容与其 SHA-256 不符，未做任何更改",
                            f"evidence file {item['sha256']} in the backup does not match its SHA-256; "
                            "nothing was changed")


def _check_empty(db: Database, revision: str) -> None:
    with db.engine.connect() as connection:
        names = [n for n in inspect(connection).get_table_names() if n not in SKIPPED_TABLES]
        filled = [n for n in names
                  if connection.execute(select(literal(1)).select_from(table_named(n)).limit(1)).first()]
        existing = current_revision(connection)
    if filled:
        raise BackupRefused(f"目标数据库不是空的（{', '.join(filled[:5])} 等表已有数据）；只能恢复到空数据库，未做任何更改",
                            f"the target database is not empty ({', '.join(filled[:5])} have rows); restore only "
                            "into an empty database. Nothing was changed")
    if names and existing != revision:
        raise BackupRefused(f"目标数据库已有结构版本 {existing}，与备份的 {revision} 不同；请使用全新的空数据库",
                            f"the target database already has schema revision {existing}, not the backup's "
                            f"{revision}; use a new, empty database")


def _restore_files(archive: zipfile.ZipFile, manifest: dict, files_dir: Path) -> int:
    for item in manifest["files"]:
        if storage.path_for(files_dir, item["sha256"]).is_file():
            continue
        with archive.open(_member(item)) as stream:
            staged = storage.stage(files_dir, stream, max_bytes=item["size"])
        storage.commit(files_dir, staged)
    return len(manifest["files"])


def _decoder(column_type, dialect: str):
    """Turn a backup's JSON value back into what the target column takes."""
    if isinstance(column_type, DateTime):
        def to_datetime(value: str) -> datetime:
            moment = datetime.fromisoformat(value).astimezone(timezone.utc)
            return moment.replace(tzinfo=None) if dialect == "sqlite" else moment  # as engine.db.UtcDateTime binds
        return to_datetime
    if isinstance(column_type, Date):
        return date.fromisoformat
    if isinstance(column_type, Numeric) and not isinstance(column_type, Float):
        return lambda value: Decimal(str(value))
    if isinstance(column_type, LargeBinary):
        return base64.b64decode
    if isinstance(column_type, Boolean):
        return bool
    return None


def _self_references(table: Table) -> list[str]:
    """Columns pointing at the table's own integer key (org_unit.parent_id, process_instance.parent_instance_id)."""
    keys = list(table.primary_key.columns)
    if len(keys) != 1:
        return []
    return [fk.parent.name for fk in table.foreign_keys if fk.column is keys[0] and fk.parent.nullable]


def _load_table(connection: Connection, table: Table, archive: zipfile.ZipFile, entry: dict,
                progress: Progress | None, total: int) -> int:
    columns = entry["columns"]
    unknown = [c for c in columns if c not in table.c]
    if unknown:
        raise BackupRefused(f"备份中的 {table.name} 表有目标库没有的列：{', '.join(unknown)}",
                            f"table {table.name} in the backup has columns the target lacks: {', '.join(unknown)}")
    decoders = [(i, d) for i, c in enumerate(columns) if (d := _decoder(table.c[c].type, connection.dialect.name))]
    self_refs, key = _self_references(table), (table.primary_key.columns[0].name if table.primary_key.columns else None)
    later: list[dict] = []  # rows pointing at a row of the same table not loaded yet: linked after the load
    batch, loaded = [], 0
    for row in _rows(archive, entry):
        for i, decode in decoders:
            if row[i] is not None:
                row[i] = decode(row[i])
        values = dict(zip(columns, row))
        for name in self_refs:
            if values.get(name) is not None and values[name] > values[key]:
                later.append({"_key": values[key], "_column": name, "_value": values[name]})
                values[name] = None
        batch.append(values)
        if len(batch) >= BATCH:
            loaded += _insert(connection, table, batch, progress, total)
    loaded += _insert(connection, table, batch, progress, total)
    for link in later:
        connection.execute(update(table).where(table.c[key] == link["_key"]).values({link["_column"]: link["_value"]}))
    return loaded


def _insert(connection: Connection, table: Table, batch: list[dict], progress: Progress | None, total: int) -> int:
    count = len(batch)
    if batch:
        connection.execute(insert(table), batch)
        batch.clear()
        if progress:
            progress(count, total)
    return count


def _reset_sequences(connection: Connection, tables: list[Table]) -> None:
    """PostgreSQL hands out ids from sequences the load did not use: move each past the highest id."""
    quote = connection.dialect.identifier_preparer.quote
    for table in tables:
        for column in table.primary_key.columns:
            sequence = connection.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                         {"t": quote(table.name), "c": column.name})
            if sequence:
                connection.execute(text(f"SELECT setval(:s, COALESCE(MAX({quote(column.name)}), 1), "
                                        f"MAX({quote(column.name)}) IS NOT NULL) FROM {quote(table.name)}"),
                                   {"s": sequence})


def _load(db: Database, archive: zipfile.ZipFile, manifest: dict, counts: dict[str, int],
          progress: Progress | None) -> None:
    """Every table in one transaction, parents first; then PostgreSQL's sequences past the loaded ids."""
    total = sum(entry["rows"] for entry in manifest["tables"])
    with db.engine.execution_options(kaohe_write=True).begin() as connection:
        tables = {t.name: t for t in ordered_tables(connection)}
        for entry in manifest["tables"]:
            if entry["name"] not in tables:
                raise BackupRefused(f"目标库没有备份中的 {entry['name']} 表",
                                    f"the target has no table {entry['name']}, which the backup holds")
            counts[entry["name"]] = _load_table(connection, tables[entry["name"]], archive, entry, progress, total)
        if connection.dialect.name == "postgresql":
            _reset_sequences(connection, list(tables.values()))


def restore(db: Database, files_dir: Path, path: Path, *, progress: Progress | None = None) -> RestoreReport:
    """Check the archive and the target, then load everything. A refused archive or target raises
    BackupRefused having changed nothing; a load that fails leaves only the empty schema (retry is accepted)."""
    archive, manifest, head = check_archive(path, db.url)
    with archive:
        revision = manifest["revision"]
        _check_empty(db, revision)
        files = _restore_files(archive, manifest, Path(files_dir))
        upgrade(db.url, revision)
        counts: dict[str, int] = {}
        try:
            _load(db, archive, manifest, counts, progress)
        except SQLAlchemyError as error:  # the load's transaction rolled back: only the empty schema remains
            cause = getattr(error, "orig", None) or error
            raise BackupRefused(f"数据未能载入（已全部回滚，目标库只有空的表结构，可再次恢复）：{cause}",
                                f"the rows could not be loaded (all rolled back; the target holds only the empty "
                                f"schema and a restore may be tried again): {cause}") from error
    upgraded_to = None
    if revision != head:
        upgrade(db.url, "head")
        upgraded_to = head
    with db.reading() as session:
        chain = audit.verify(session)
    return RestoreReport(revision, upgraded_to, counts, files, chain, manifest.get("missing_files", []))
