"""Tasks in the API: the inbox list, one task with its form, and the actions on it."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from engine.services import keyset
from engine.services.inbox import PAGE_SIZES, SCOPES, SEGMENTS, SORTS
from web.schemas.common import ZonedDateTime, page_of

CURSOR_INVALID = "翻页游标无效（已过期或被改动），请从第一页重新开始 / the cursor is not valid; start again from the first page"


class TaskListArgs(ma.Schema):
    scope = fields.String(load_default="all", validate=validate.OneOf(SCOPES),
                          metadata={"description": "all = mine + offered to my roles/unit; mine; groups"})
    process = fields.String(validate=validate.Length(max=128))
    unit = fields.String(validate=validate.Length(max=64))
    period = fields.String(validate=validate.Length(max=32), metadata={"description": "e.g. 2026-11 or 2026-Q4"})
    overdue = fields.Boolean(load_default=False)
    sort = fields.String(load_default="due", validate=validate.OneOf(SORTS))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000),
                          metadata={"description": "page by number (slower on deep pages); prefer `after`"})
    per_page = fields.Integer(load_default=PAGE_SIZES[0], validate=validate.OneOf(PAGE_SIZES))
    after = fields.String(validate=validate.Length(max=keyset.MAX_CURSOR_LENGTH),
                          metadata={"description": "`next_after` of the previous page (same sort): continue "
                                                   "after its last task; `page` is then ignored"})

    @ma.validates_schema
    def cursor_of_this_sort(self, data, **_kwargs):
        if data.get("after") is not None and keyset.decode(data["after"], data.get("sort", "due"),
                                                           SEGMENTS[data.get("sort", "due")]) is None:
            raise ma.ValidationError(CURSOR_INVALID, "after")


class TaskRowSchema(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    instance_id = fields.Integer(required=True)
    instance_title = fields.String(required=True)
    process_id = fields.String(allow_none=True)
    process_name = fields.String(allow_none=True)
    unit_code = fields.String(allow_none=True)
    unit_name = fields.String(allow_none=True)
    period = fields.String(allow_none=True)
    created_at = ZonedDateTime(required=True)
    due_at = ZonedDateTime(allow_none=True)
    overdue_days = fields.Integer(required=True, metadata={"description": "0 unless overdue"})
    mine = fields.Boolean(required=True, metadata={"description": "assigned to me, not only offered"})


class TaskPageSchema(page_of(TaskRowSchema, "TaskPageBase")):
    next_after = fields.String(allow_none=True, metadata={"description": "pass as `after` for the next page"})


class TaskSchema(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    instance_id = fields.Integer(required=True)
    element_id = fields.String(required=True)
    lane = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"description": "open, completed or cancelled"})
    instructions = fields.String(allow_none=True)
    process_id = fields.String(allow_none=True)
    unit_code = fields.String(allow_none=True)
    period = fields.String(allow_none=True)
    created_at = ZonedDateTime(required=True)
    due_at = ZonedDateTime(allow_none=True)
    claimed_at = ZonedDateTime(allow_none=True)
    completed_at = ZonedDateTime(allow_none=True)
    assigned_to_me = fields.Boolean(required=True)
    may_act = fields.Boolean(required=True, metadata={"description": "I may complete it now"})
    form = fields.Dict(allow_none=True, metadata={"description": "the form's JSON Schema, if it has one"})
    data = fields.Dict(required=True, metadata={"description": "the case data the task sees"})


class DelegateArgs(ma.Schema):
    to = fields.String(required=True, validate=validate.Length(min=1, max=64), metadata={"description": "username"})
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class CompleteArgs(ma.Schema):
    data = fields.Dict(required=True, metadata={"description": "the form's fields; a file field takes the "
                                                               "reference returned by the upload call"})


class CompletedSchema(ma.Schema):
    status = fields.String(required=True, metadata={"description": "the process instance's status afterwards"})
    instance_id = fields.Integer(required=True)


class UploadArgs(ma.Schema):
    field = fields.String(required=True, validate=validate.Length(min=1, max=128),
                          metadata={"description": "the form's file field"})


class FileReferenceSchema(ma.Schema):
    """What a file field holds once uploaded; put it into the data of the completion."""

    sha256 = fields.String(required=True)
    name = fields.String(required=True)
    size = fields.Integer(required=True)
    content_type = fields.String(required=True)
