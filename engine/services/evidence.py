"""Evidence files for task forms: upload to an open task, download from an instance.

The rules (the form convention is described in engine/evidence/__init__.py):
* uploading: only someone who may complete that open task right now (tasks.require_completable);
  the content must be an accepted type whose bytes match its extension (engine/evidence/sniff.py)
  and at most KAOHE_MAX_UPLOAD_MB; the upload row and its audit event are written together.
* downloading: whoever may view the instance (instances.may_view), and whoever has one of its open
  tasks to do (they see its data on the task page); only files uploaded to that instance.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select

from engine.errors import Message, NotFound, PermissionDenied, ValidationFailed
from engine.evidence import references, sniff, storage
from engine.models.evidence import EvidenceFile
from engine.runtime import Actor, Runtime
from engine.services import audit, instances, tasks, tracker
from engine.services.execution import fetch_instance

MAX_NAME = 200


def _refused(field: str, zh: str, en: str) -> ValidationFailed:
    return ValidationFailed(f"文件未能上传：{zh}", f"the file was not uploaded: {en}",
                            field_errors={field: Message(zh, en)})


def clean_name(filename: str | None) -> str:
    """The file's own name (no folders, no control characters), at most MAX_NAME characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:MAX_NAME]
    return name


def _max_bytes(rt: Runtime) -> int:
    return int(rt.settings.max_upload_mb * 1024 * 1024)


def _limit_text(rt: Runtime) -> str:
    return f"{rt.settings.max_upload_mb:g} MB"


def store(rt: Runtime, actor: Actor, task_id: int, field: str, filename: str | None, stream: BinaryIO) -> dict:
    """Keep one uploaded file for a file field of an open task; returns its reference for the task data."""
    name = clean_name(filename)
    if not name:
        raise _refused(field, "缺少文件名", "the file has no name")
    root = Path(rt.settings.files_dir)
    with rt.db.unit_of_work() as session:
        task, instance = tasks.require_completable(session, task_id, actor)
        schema_text = rt.specs.get(session, instance.process_version_id).forms.get(task.form_file or "")
        if field not in references.file_fields_of(schema_text):
            raise _refused(field, "此字段不接受文件", "this field does not take files")
        try:
            staged = storage.stage(root, stream, _max_bytes(rt))
        except storage.TooLarge:
            raise _refused(field, f"「{name}」超过 {_limit_text(rt)} 上限",
                           f"'{name}' is larger than {_limit_text(rt)}") from None
        try:
            if staged.size == 0:
                raise _refused(field, f"「{name}」是空文件", f"'{name}' is empty")
            try:
                content_type = sniff.detect(name, staged.path)
            except sniff.Refused as refused:
                raise _refused(field, f"「{name}」：{refused.message.zh}", f"'{name}': {refused.message.en}") from None
            storage.commit(root, staged)
        finally:
            staged.discard()
        now = rt.clock.now()
        row = EvidenceFile(sha256=staged.sha256, size=staged.size, content_type=content_type, original_name=name,
                           field=field, instance_id=instance.id, task_id=task.id, uploaded_by=actor.username,
                           uploaded_at=now)
        session.add(row)
        session.flush()
        audit.record(session, at=now, actor=actor, action="upload", instance_id=instance.id,
                     task_guid=task.task_guid, subject=task.element_id,
                     detail={"sha256": staged.sha256, "size": staged.size, "name": name, "field": field})
        return references.as_reference(row)


@dataclass(frozen=True)
class StoredFile:
    path: Path
    name: str
    content_type: str
    size: int


def open_file(rt: Runtime, actor: Actor, instance_id: int, sha256: str, name: str | None = None) -> StoredFile:
    """A file uploaded to the instance, for someone who may see the instance; `name` picks which
    upload's name to give it when the same content was uploaded under several."""
    missing = NotFound("文件不存在", "no such file")
    if not storage.SHA256.match(sha256 or ""):
        raise missing
    with rt.db.reading() as session:
        instance = fetch_instance(session, instance_id)
        if not (instances.may_view(session, instance, actor) or tasks.may_act_in_instance(session, instance_id, actor)
                or tracker.may_see_case(session, actor, instance_id)):  # the tracker links a problem's files
            raise PermissionDenied("无权查看此流程实例的文件", "you may not view this process instance's files")
        uploads = list(session.scalars(select(EvidenceFile).where(
            EvidenceFile.instance_id == instance_id, EvidenceFile.sha256 == sha256).order_by(EvidenceFile.id)))
    if not uploads:
        raise missing
    row = next((r for r in reversed(uploads) if r.original_name == name), uploads[-1])
    path = storage.path_for(Path(rt.settings.files_dir), sha256)
    if not path.is_file():
        raise NotFound("文件内容已丢失，请联系管理员", "the file's content is missing; tell an administrator")
    return StoredFile(path, row.original_name, row.content_type, row.size)
