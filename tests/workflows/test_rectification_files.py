"""Rectification with evidence files: the unit head attaches the scanned records to 提交整改落实情况
(the typed evidence list stays), the inspector verifying the fix opens them, and they stay with the case."""
from __future__ import annotations

import io

import pytest

from engine.errors import PermissionDenied, ValidationFailed
from engine.services import evidence, tasks
from tests.support import evidence as files
from tests.workflows import test_rectification as rectification
from tests.workflows.test_rectification import DONE, IMPLEMENT, VERIFY, approve_plan, do, only

case = rectification.case  # the same case: P01's problem, inspector insp_wang


def test_the_implementation_carries_files_the_inspector_can_open(case):
    approve_plan(case)
    head = case.actor("p01_head")
    implement = only(case, "p01_head", IMPLEMENT)
    with pytest.raises(PermissionDenied):  # the inspector may not add evidence to the unit's step
        evidence.store(case, case.actor("insp_wang"), implement.id, "attachments", "记录.pdf", io.BytesIO(files.PDF))
    with pytest.raises(ValidationFailed) as refused:
        evidence.store(case, head, implement.id, "attachments", "记录.pdf", io.BytesIO(files.HTML))
    assert set(refused.value.field_errors) == {"attachments"}
    record = evidence.store(case, head, implement.id, "attachments", "例会记录（2026-03）.pdf", io.BytesIO(files.PDF))
    ledger = evidence.store(case, head, implement.id, "attachments", "归档台账.xlsx",
                            io.BytesIO(files.ooxml("spreadsheetml.sheet")))

    do(case, "p01_head", IMPLEMENT, {**DONE, "attachments": [record, ledger]})

    verify = tasks.get(case, only(case, "insp_wang", VERIFY).id, case.actor("insp_wang"))
    assert verify.data["evidence"] == DONE["evidence"]
    assert [f["name"] for f in verify.data["attachments"]] == ["例会记录（2026-03）.pdf", "归档台账.xlsx"]
    opened = evidence.open_file(case, case.actor("insp_wang"), case.case, record["sha256"])
    assert opened.path.read_bytes() == files.PDF and opened.content_type == "application/pdf"
    with pytest.raises(PermissionDenied):  # another unit's head has no business with this case
        evidence.open_file(case, case.actor("p02_head"), case.case, record["sha256"])
    # P01's branch secretary never held a task here, but the tracker shows them the problem and its files
    assert evidence.open_file(case, case.actor("b01_secretary"), case.case, record["sha256"]).name.endswith(".pdf")
    with pytest.raises(PermissionDenied):
        evidence.open_file(case, case.actor("b02_secretary"), case.case, record["sha256"])
    do(case, "insp_wang", VERIFY, {"verified": True})
    assert evidence.open_file(case, case.actor("auditor"), case.case, ledger["sha256"]).name == "归档台账.xlsx"
