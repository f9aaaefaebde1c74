"""The audit trail as people read it: a search over the whole chain (auditors), the trail of one case
(whoever may view the case), the chain's check, and both as CSV or Excel downloads.

A download carries every field that enters an event's hash (the UTC time exactly as hashed, the stored
detail text, prev_hash and hash), so whoever receives it can re-check the chain without the system.
Every export is itself an audit event: the trail holds personal data, and who took a copy is traceable."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import func, or_, select

from engine.clock import as_utc
from engine.errors import PermissionDenied, ValidationFailed
from engine.models import AuditEvent
from engine.runtime import Actor, Runtime
from engine.services import audit
from engine.services.admin_access import READERS
from engine.services.execution import fetch_instance
from engine.services.instances import require_viewer
from engine.services.progress import Report
from engine.services.xlsx_text import row_as_text

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
MAX_LIMIT = 500
BATCH = 5000
# (key, Chinese header, English header); the order is the order of the file's columns. The English
# headers are the API's field names, so a script reads either the same way.
COLUMNS = (
    ("id", "编号", "id"),
    ("occurred_at", "时间", "occurred_at"),
    ("occurred_at_utc", "时间（UTC，参与哈希）", "occurred_at_utc"),
    ("actor", "操作人", "actor"),
    ("action", "操作", "action"),
    ("instance_id", "流程实例", "instance_id"),
    ("task_guid", "任务", "task_guid"),
    ("subject", "对象", "subject"),
    ("detail", "详情（JSON）", "detail"),
    ("data_digest", "数据摘要", "data_digest"),
    ("prev_hash", "前一事件哈希", "prev_hash"),
    ("hash", "哈希", "hash"),
)
EXPLANATION = (
    ("每行是一条审计事件，按编号（即写入顺序）排列。",
     "Each row is one audit event, in id order (the order they were written)."),
    ("哈希 = SHA-256（UTF-8）of JSON 数组 [前一事件哈希, 时间（UTC）, 操作人, 操作, 流程实例, 任务, 对象, 详情, "
     "数据摘要]，不转义非 ASCII、分隔符为“,”和“:”，空值为 null，流程实例为整数，详情按原文作为字符串。",
     "hash = SHA-256 (UTF-8) of the JSON array [prev_hash, occurred_at_utc, actor, action, instance_id, "
     "task_guid, subject, detail, data_digest], non-ASCII kept, separators ',' and ':', empty values as "
     "null, instance_id as an integer, detail as its text (a JSON string)."),
    ("导出整条审计链时，每行的“前一事件哈希”等于上一行的“哈希”；第一条事件的前一哈希为 64 个 0。"
     "单个流程实例的记录之间夹有其他事件，因此只能逐行核对哈希。",
     "In an export of the whole chain each row's prev_hash equals the previous row's hash; the first event's "
     "prev_hash is 64 zeros. The events of one case have other events between them, so only each row's own "
     "hash can be re-checked."),
    ("以 = + - @ 开头的文字前加了一个单引号（防止被当作公式），核对哈希前请去掉它。",
     "Text beginning with = + - @ has a leading apostrophe (so it is never run as a formula); remove it "
     "before re-checking a hash."),
)


@dataclass(frozen=True)
class TrailEvent:
    id: int
    occurred_at: datetime
    actor: str
    action: str
    instance_id: int | None
    task_guid: str | None
    subject: str | None
    detail: dict
    detail_text: str  # as stored and hashed
    data_digest: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class EventQuery:
    after_id: int = 0
    instance_id: int | None = None
    actor: str | None = None  # an account: its own events and those made with its tokens
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


@dataclass(frozen=True)
class EventsPage:
    events: list[TrailEvent]
    next_after_id: int | None  # pass as after_id for the next page; None when this is the last


@dataclass(frozen=True)
class Export:
    filename: str
    mimetype: str
    content: bytes
    events: int


def _trail_event(row: AuditEvent) -> TrailEvent:
    try:
        detail = json.loads(row.detail or "{}")
    except ValueError:  # never written by audit.record, but a damaged row must still be readable
        detail = {"text": row.detail}
    if not isinstance(detail, dict):
        detail = {"value": detail}
    return TrailEvent(row.id, as_utc(row.occurred_at), row.actor, row.action, row.instance_id, row.task_guid,
                      row.subject, detail, row.detail, row.data_digest, row.prev_hash, row.hash)


def require_trail_reader(actor: Actor) -> None:
    """The whole chain shows everybody's actions, so only those who oversee the system read it."""
    if not actor.has_role(*READERS):
        raise PermissionDenied("只有审计员、系统管理员和绩效办公室可以查看全部审计记录",
                               "only auditors, administrators and the performance office read the whole "
                               "audit trail")


def _conditions(query: EventQuery) -> list:
    conditions = [AuditEvent.id > query.after_id]
    if query.instance_id is not None:
        conditions.append(AuditEvent.instance_id == query.instance_id)
    if query.actor:
        conditions.append(or_(AuditEvent.actor == query.actor,
                              AuditEvent.actor.startswith(query.actor + "#token", autoescape=True)))
    if query.action:
        conditions.append(AuditEvent.action == query.action)
    if query.since is not None:
        conditions.append(AuditEvent.occurred_at >= as_utc(query.since))
    if query.until is not None:
        conditions.append(AuditEvent.occurred_at < as_utc(query.until))
    return conditions


def search(rt: Runtime, actor: Actor, query: EventQuery) -> EventsPage:
    """Events after `after_id` in id order: keyset paging stays as fast on page 1000 as on page 1."""
    require_trail_reader(actor)
    limit = min(max(1, query.limit), MAX_LIMIT)
    with rt.db.reading() as session:
        rows = session.scalars(select(AuditEvent).where(*_conditions(query))
                               .order_by(AuditEvent.id).limit(limit + 1)).all()
    events = [_trail_event(row) for row in rows[:limit]]
    return EventsPage(events, events[-1].id if len(rows) > limit else None)


def verify_chain(rt: Runtime, actor: Actor) -> audit.ChainReport:
    require_trail_reader(actor)
    with rt.db.reading() as session:
        return audit.verify(session)


def case_trail(rt: Runtime, actor: Actor, instance_id: int) -> list[TrailEvent]:
    """One case's events, for whoever may view the case (the same rule as its page)."""
    with rt.db.reading() as session:
        require_viewer(session, fetch_instance(session, instance_id), actor)
        return [_trail_event(row) for row in audit.instance_trail(session, instance_id)]


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValidationFailed(f"不支持的导出格式：{fmt}（可选 csv、xlsx）",
                               f"unsupported export format: {fmt} (csv or xlsx)")


def export_case(rt: Runtime, actor: Actor, instance_id: int, fmt: str, language: str = "zh") -> Export:
    """One case's trail as a file; the export is recorded in the case's own trail."""
    _check_format(fmt)
    events = case_trail(rt, actor, instance_id)
    content = _write(rt, fmt, language, [events])
    _record(rt, actor, fmt, len(events), instance_id=instance_id, through_id=events[-1].id if events else None)
    return Export(f"audit-instance-{instance_id}.{fmt}", FORMATS[fmt], content, len(events))


def export_chain(rt: Runtime, actor: Actor, fmt: str, language: str = "zh", progress: Report | None = None) -> Export:
    """Every event, so a copy kept elsewhere can prove the chain was whole on the day it was taken."""
    require_trail_reader(actor)
    _check_format(fmt)
    seen = {"events": 0, "last_id": None}
    with rt.db.reading() as session:  # one read transaction: a consistent snapshot, read in batches
        total = session.scalar(select(func.count()).select_from(AuditEvent)) if progress else 0
        content = _write(rt, fmt, language, _batches(session, seen, progress, total))
    _record(rt, actor, fmt, seen["events"], through_id=seen["last_id"])
    return Export(f"audit-trail.{fmt}", FORMATS[fmt], content, seen["events"])


def _batches(session, seen: dict, progress: Report | None = None, total: int = 0):
    """The chain BATCH events at a time; `seen` counts them and keeps the last id for the export's event."""
    while True:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.id > (seen["last_id"] or 0))
                               .order_by(AuditEvent.id).limit(BATCH)).all()
        if not rows:
            return
        seen["events"] += len(rows)
        seen["last_id"] = rows[-1].id
        yield [_trail_event(row) for row in rows]
        if progress:
            progress(seen["events"], max(total, seen["events"]), "正在写入审计记录", "writing the audit trail")


def _record(rt: Runtime, actor: Actor, fmt: str, events: int, *, instance_id: int | None = None,
            through_id: int | None = None) -> None:
    with rt.db.unit_of_work() as session:
        audit.record(session, at=rt.clock.now(), actor=actor, action="audit_exported", instance_id=instance_id,
                     subject="instance" if instance_id is not None else "chain",
                     detail={"format": fmt, "events": events, "through_id": through_id})


def _cells(event: TrailEvent, zone: ZoneInfo) -> list:
    return row_as_text([event.id, event.occurred_at.astimezone(zone).replace(microsecond=0).isoformat(sep=" "),
                        event.occurred_at.isoformat(), event.actor, event.action, event.instance_id,
                        event.task_guid, event.subject, event.detail_text, event.data_digest, event.prev_hash,
                        event.hash])


def headers(language: str) -> list[str]:
    english = language.startswith("en")
    return [en if english else zh for _key, zh, en in COLUMNS]


def _write(rt: Runtime, fmt: str, language: str, batches) -> bytes:
    zone = ZoneInfo(rt.settings.timezone)
    if fmt == "csv":
        return _csv(language, batches, zone)
    return _xlsx(language, batches, zone)


def _csv(language: str, batches, zone: ZoneInfo) -> bytes:
    """UTF-8 with a byte-order mark: without it Excel reads the Chinese as GBK and shows mojibake."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(headers(language))
    for batch in batches:
        writer.writerows(["" if value is None else value for value in _cells(event, zone)] for event in batch)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx(language: str, batches, zone: ZoneInfo) -> bytes:
    english = language.startswith("en")
    workbook = Workbook(write_only=True)  # streams rows: the whole chain may hold millions of events
    sheet = workbook.create_sheet("audit" if english else "审计记录")
    for letter, width in zip("ABCDEFGHIJKL", (8, 26, 26, 20, 16, 10, 38, 24, 40, 66, 66, 66)):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for text in headers(language):
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for batch in batches:
        for event in batch:
            sheet.append(_cells(event, zone))
    notes = workbook.create_sheet("explanation" if english else "说明")
    notes.column_dimensions["A"].width = 120
    for zh, en in EXPLANATION:
        notes.append([en if english else zh])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
