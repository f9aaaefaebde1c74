"""Evidence files: upload to an open task, stored once by content, checked by content and name,
downloadable by those who may see the instance, and only uploads to the instance count in a form."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from engine.errors import NotFound, PermissionDenied, ValidationFailed
from engine.models import EvidenceFile
from engine.runtime import Runtime
from engine.services import audit, deploy, evidence, instances, tasks
from engine.settings import Settings
from tests.support import evidence as files
from tests.support.evidence import review_with_files_bundle


@pytest.fixture
def case(rt, people):
    deploy.deploy(rt, review_with_files_bundle(), people.owner)
    instance_id = instances.start(rt, "review", people.owner, data={"weight": 0.5, "unit_code": "U1"})
    [task] = tasks.inbox(rt, people.alice)
    return instance_id, task.id


def upload(rt, actor, task_id, name, content, field="attachments"):
    return evidence.store(rt, actor, task_id, field, name, io.BytesIO(content))


def refused_message(rt, actor, task_id, name, content, field="attachments") -> str:
    with pytest.raises(ValidationFailed) as caught:
        upload(rt, actor, task_id, name, content, field)
    assert set(caught.value.field_errors) == {field}
    return caught.value.field_errors[field].zh + " / " + caught.value.field_errors[field].en


def test_a_file_is_stored_once_by_content_and_each_upload_recorded(rt, people, case):
    instance_id, task_id = case
    first = upload(rt, people.alice, task_id, "整改报告.pdf", files.PDF)
    second = upload(rt, people.alice, task_id, "C:\\扫描\\报告副本.pdf", files.PDF)
    assert first == {"sha256": first["sha256"], "name": "整改报告.pdf", "size": len(files.PDF),
                     "content_type": "application/pdf"}
    assert second["sha256"] == first["sha256"] and second["name"] == "报告副本.pdf"  # folders dropped
    root = rt.settings.files_dir
    stored = [p for p in root.rglob("*") if p.is_file()]
    assert stored == [root / first["sha256"][:2] / first["sha256"]]  # one copy, no temporary files left
    assert stored[0].read_bytes() == files.PDF
    with rt.db.reading() as session:
        rows = session.scalars(select(EvidenceFile).order_by(EvidenceFile.id)).all()
    assert [(r.original_name, r.instance_id, r.task_id, r.uploaded_by) for r in rows] == [
        ("整改报告.pdf", instance_id, task_id, "alice"), ("报告副本.pdf", instance_id, task_id, "alice")]


@pytest.mark.parametrize("name, content, content_type", [
    ("a.png", files.PNG, "image/png"), ("a.JPG", files.JPEG, "image/jpeg"), ("a.jpeg", files.JPEG, "image/jpeg"),
    ("a.gif", files.GIF, "image/gif"), ("a.webp", files.WEBP, "image/webp"),
    ("a.doc", files.OLE, "application/msword"), ("a.xls", files.OLE, "application/vnd.ms-excel"),
    ("a.docx", files.ooxml("wordprocessingml.document"),
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("a.xlsx", files.ooxml("spreadsheetml.sheet"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("a.txt", "整改说明\n第二行".encode(), "text/plain; charset=utf-8"),
    ("a.csv", "\ufeff单位,得分\nP01,95\n".encode(), "text/csv; charset=utf-8"),
])
def test_accepted_types_are_typed_by_their_content(rt, people, case, name, content, content_type):
    assert upload(rt, people.alice, case[1], name, content)["content_type"] == content_type


@pytest.mark.parametrize("name, content, expected", [
    ("报告.pdf", files.HTML, "内容与扩展名 .pdf 不符"),  # a web page renamed .pdf
    ("setup.exe", files.EXE, "不支持的文件类型 .exe"),
    ("photo.png", files.EXE, "内容与扩展名 .png 不符"),  # a program renamed .png
    ("page.html", files.HTML, "不支持的文件类型 .html"),
    ("image.svg", files.SVG, "不支持的文件类型 .svg"),
    ("app.js", b"alert(1)", "不支持的文件类型 .js"),
    ("notes.txt", files.HTML, "不能是网页"),
    ("notes.txt", files.SVG, "不能是网页"),
    ("notes.txt", b"<?xml version='1.0'?><a/>", "不能是网页"),
    ("notes.txt", "GBK 文本".encode("gbk"), "UTF-8"),
    ("notes.csv", b"a,b\x00c", "内容与扩展名 .csv 不符"),
    ("table.xlsx", files.plain_zip(), "内容与扩展名 .xlsx 不符"),  # a zip, but no Office package
    ("table.xlsx", files.ooxml("wordprocessingml.document"), "内容与扩展名 .xlsx 不符"),  # a .docx renamed
    ("letter.docx", files.PDF, "内容与扩展名 .docx 不符"),
    ("noext", files.PDF, "不支持的文件类型"),
    ("empty.pdf", b"", "空文件"),
])
def test_refused_types_name_the_field_and_store_nothing(rt, people, case, name, content, expected):
    assert expected in refused_message(rt, people.alice, case[1], name, content)
    assert not [p for p in rt.settings.files_dir.rglob("*") if p.is_file()]
    with rt.db.reading() as session:
        assert session.scalars(select(EvidenceFile)).all() == []


def test_a_file_over_the_size_limit_is_refused_without_being_kept(rt, people, case):
    small = Runtime(Settings(**{**rt.settings.__dict__, "max_upload_mb": 0.001}), database=rt.db)  # 1048 bytes

    class Endless(io.RawIOBase):
        """A stream that would never end: the service must stop reading at the limit."""
        read_bytes = 0

        def read(self, size=-1):
            assert size != -1, "the whole stream was asked for"
            self.read_bytes += size
            return b"%PDF-" + b"x" * (size - 5)
    stream = Endless()
    with pytest.raises(ValidationFailed) as caught:
        evidence.store(small, people.alice, case[1], "attachments", "big.pdf", stream)
    assert "超过 0.001 MB 上限" in caught.value.field_errors["attachments"].zh
    assert stream.read_bytes < 200_000
    assert not [p for p in rt.settings.files_dir.rglob("*") if p.is_file()]
    assert upload(small, people.alice, case[1], "ok.pdf", files.PDF)["size"] == len(files.PDF)


def test_only_someone_who_may_complete_the_task_may_upload(rt, people, case):
    for outsider in (people.bob, people.auditor):
        with pytest.raises(PermissionDenied):
            upload(rt, outsider, case[1], "a.pdf", files.PDF)
    with pytest.raises(ValidationFailed) as caught:  # not a file field of this form
        upload(rt, people.alice, case[1], "a.pdf", files.PDF, field="summary")
    assert set(caught.value.field_errors) == {"summary"}
    tasks.complete(rt, case[1], people.alice, {"self_score": 80, "summary": "完成"})
    with pytest.raises(Exception) as closed:  # the task is done: no more uploads to it
        upload(rt, people.alice, case[1], "a.pdf", files.PDF)
    assert "已经完成" in str(closed.value)
    assert not [p for p in rt.settings.files_dir.rglob("*") if p.is_file()]


def test_downloads_are_for_those_who_may_see_the_instance(rt, people, case):
    instance_id, task_id = case
    ref = upload(rt, people.alice, task_id, "报告.pdf", files.PDF)
    stored = evidence.open_file(rt, people.alice, instance_id, ref["sha256"])  # she has the task to do
    assert (stored.name, stored.content_type, stored.size) == ("报告.pdf", "application/pdf", len(files.PDF))
    assert stored.path.read_bytes() == files.PDF
    for viewer in (people.owner, people.auditor):
        assert evidence.open_file(rt, viewer, instance_id, ref["sha256"]).name == "报告.pdf"
    with pytest.raises(PermissionDenied):  # staff of another unit
        evidence.open_file(rt, people.bob, instance_id, ref["sha256"])
    with pytest.raises(NotFound):
        evidence.open_file(rt, people.owner, instance_id, "0" * 64)
    with pytest.raises(NotFound):
        evidence.open_file(rt, people.owner, instance_id, "../../etc/passwd")
    other = instances.start(rt, "review", people.owner, data={"weight": 0.5, "unit_code": "U1"})
    with pytest.raises(NotFound):  # the content exists, but was not uploaded to that instance
        evidence.open_file(rt, people.owner, other, ref["sha256"])


def test_the_audit_trail_records_each_upload_with_its_digest(rt, people, case):
    instance_id, task_id = case
    ref = upload(rt, people.alice, task_id, "报告.pdf", files.PDF)
    with rt.db.reading() as session:
        [event] = [e for e in audit.instance_trail(session, instance_id) if e.action == "upload"]
        assert audit.verify(session).ok
    assert event.actor == "alice" and event.subject == "self_assess"
    assert json.loads(event.detail) == {"sha256": ref["sha256"], "size": len(files.PDF), "name": "报告.pdf",
                                        "field": "attachments"}


def test_completing_keeps_the_recorded_description_of_each_file(rt, people, case):
    task_id = case[1]
    ref = upload(rt, people.alice, task_id, "报告.pdf", files.PDF)
    photo = upload(rt, people.alice, task_id, "现场.png", files.PNG, field="photo")
    forged = {**ref, "name": "改名.exe", "size": 1, "content_type": "text/html"}
    tasks.complete(rt, task_id, people.alice, {"self_score": 80, "summary": "完成",
                                               "attachments": [forged], "photo": photo})
    [approve] = tasks.inbox(rt, people.head)
    data = tasks.get(rt, approve.id, people.head).data
    assert data["attachments"] == [ref] and data["photo"] == photo


def test_a_reference_to_a_file_not_uploaded_to_the_instance_is_refused(rt, people, case):
    instance_id, task_id = case
    other = instances.start(rt, "review", people.owner, data={"weight": 0.5, "unit_code": "U1"})
    other_task = next(t for t in tasks.inbox(rt, people.alice) if t.instance_id == other)
    foreign = upload(rt, people.alice, other_task.id, "别处的.pdf", files.PDF)
    for bad in ([foreign], [{"sha256": "a" * 64, "name": "x.pdf"}], ["x.pdf"]):
        with pytest.raises(ValidationFailed) as caught:
            tasks.complete(rt, task_id, people.alice, {"self_score": 80, "summary": "完成", "attachments": bad})
        assert {path.split(".")[0] for path in caught.value.field_errors} == {"attachments"}
    assert [t.id for t in tasks.inbox(rt, people.alice) if t.instance_id == instance_id] == [task_id]  # still open
