"""Process instances in the API: the filtered list, one instance, starting one and the owners' actions."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from engine.models.instance import INSTANCE_STATUSES
from web.schemas.common import MAX_ID, PER_PAGE_MAX, ZonedDateTime, line, page_of

STATUS_FILTERS = ("active", *INSTANCE_STATUSES)
STATUS_TEXT = f"one of: {', '.join(STATUS_FILTERS)} (active = running or waiting)"
def _variables(data: dict) -> None:
    """Data keys become variables the diagram's scripts read: they must be names (as the page's retry asks)."""
    bad = [key for key in data if not key.isidentifier()]
    if bad:
        raise ma.ValidationError(f"变量名无效 / invalid variable names: {', '.join(bad[:5])}")


class InstanceListArgs(ma.Schema):
    process = line(128, metadata={"description": "process id"})
    status = fields.String(validate=validate.OneOf(STATUS_FILTERS), metadata={"description": STATUS_TEXT})
    period = line(32, metadata={"description": "e.g. 2026-11"})
    unit = line(64, metadata={"description": "unit code"})
    q = line(200, metadata={"description": "words of the title, or the exact business key"})
    parent = fields.Integer(validate=validate.Range(min=1, max=MAX_ID),
                            metadata={"description": "only the children of this instance"})
    spawned_by = line(128, metadata={"description": "only children started by this element of the parent"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000),
                          metadata={"description": "past the last page, the last page is answered"})
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=PER_PAGE_MAX))


class InstanceRowSchema(ma.Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    process_id = fields.String(required=True)
    process_name = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": ", ".join(INSTANCE_STATUSES)})
    business_key = fields.String(allow_none=True)
    period = fields.String(allow_none=True)
    unit_code = fields.String(allow_none=True)
    unit_name = fields.String(allow_none=True)
    created_at = ZonedDateTime(required=True)
    completed_at = ZonedDateTime(allow_none=True)
    next_timer_at = ZonedDateTime(allow_none=True, metadata={"description": "when its next timer falls due"})
    error_element = fields.String(allow_none=True)
    parent_instance_id = fields.Integer(allow_none=True)


InstancePageSchema = page_of(InstanceRowSchema, "InstancePage")


class RelatedInstanceSchema(ma.Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True)


class InstanceTaskSchema(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    element_id = fields.String(required=True)
    lane = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True, metadata={"description": "username; null while only offered"})
    created_at = ZonedDateTime(required=True)
    due_at = ZonedDateTime(allow_none=True)


class InstanceTimerSchema(ma.Schema):
    element_id = fields.String(required=True)
    due_at = ZonedDateTime(required=True)


class ChildCountSchema(ma.Schema):
    spawned_by = fields.String(required=True, metadata={"description": "the parent's element that started them"})
    total = fields.Integer(required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                         metadata={"description": "status → number of children"})


class LaunchSchema(ma.Schema):
    id = fields.Integer(required=True)
    element = fields.String(required=True, metadata={"description": "the step that starts the children"})
    process_id = fields.String(required=True, metadata={"description": "the children's process"})
    status = fields.String(required=True, metadata={"description": "running, done or cancelled"})
    total = fields.Integer(required=True)
    started = fields.Integer(required=True)
    percent = fields.Integer(required=True)


class InstanceSchema(ma.Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    process_id = fields.String(required=True)
    process_name = fields.String(required=True)
    process_version = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": ", ".join(INSTANCE_STATUSES)})
    business_key = fields.String(allow_none=True)
    period = fields.String(allow_none=True)
    unit_code = fields.String(allow_none=True)
    unit_name = fields.String(allow_none=True)
    started_by = fields.String(required=True, metadata={"description": "username (or system:…)"})
    created_at = ZonedDateTime(required=True)
    updated_at = ZonedDateTime(required=True)
    completed_at = ZonedDateTime(allow_none=True)
    error_element = fields.String(allow_none=True)
    error_message = fields.String(allow_none=True)
    parent = fields.Nested(RelatedInstanceSchema, allow_none=True)
    open_tasks = fields.List(fields.Nested(InstanceTaskSchema), required=True)
    timers = fields.List(fields.Nested(InstanceTimerSchema), required=True, metadata={"description": "waiting timers"})
    children = fields.List(fields.Nested(ChildCountSchema), required=True,
                           metadata={"description": "instances it started, by starting element"})
    launches = fields.List(fields.Nested(LaunchSchema), required=True,
                           metadata={"description": "children its steps start in chunks, newest first"})
    active_elements = fields.List(fields.String(), required=True,
                                  metadata={"description": "diagram elements where a token is now"})
    data = fields.Dict(required=True, metadata={"description": "the case data as of the latest step"})


class StartArgs(ma.Schema):
    process_id = line(128, required=True)
    title = line(300, load_default=None, allow_none=True,
                   metadata={"description": "defaults to the process's name"})
    data = fields.Dict(keys=fields.String(), load_default=dict, validate=_variables,
                       metadata={"description": "start data, keyed by variable name; period and unit_code "
                                                "also file the instance under that month and unit"})


class InstanceStatusSchema(ma.Schema):
    id = fields.Integer(required=True, metadata={"description": "the instance started or acted on"})
    status = fields.String(required=True, metadata={"description": "its status once it has run as far as it can"})


class StartableSchema(ma.Schema):
    process_id = fields.String(required=True)
    name = fields.String(required=True)
    roles = fields.List(fields.String(), required=True, metadata={"description": "role codes that may start it"})


StartablePageSchema = page_of(StartableSchema, "StartablePage")


class SuspendArgs(ma.Schema):
    reason = fields.String(validate=validate.Length(max=500), load_default=None, allow_none=True, metadata={"description": "kept in the audit trail"})


class TerminateArgs(ma.Schema):
    reason = fields.String(validate=validate.Length(max=500), load_default=None, allow_none=True,
                   metadata={"description": "required: why the work ends (kept in the audit trail)"})


class RetryArgs(ma.Schema):
    data_patch = fields.Dict(keys=fields.String(), load_default=dict, validate=_variables,
                             metadata={"description": "variables (by name) to set before the failed step runs again"})


class EvidenceFileArgs(ma.Schema):
    name = fields.String(validate=validate.Length(max=300),
                         metadata={"description": "which upload's name to give the file, when the same "
                                                  "content was uploaded under several"})


class MigrateArgs(ma.Schema):
    version = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_ID),
                             metadata={"description": "the version number to move to; default: the latest"})
    check = fields.Boolean(load_default=False,
                           metadata={"description": "only say whether the move is possible; change nothing"})


class MigrationSchema(ma.Schema):
    id = fields.Integer(required=True, metadata={"description": "the instance"})
    process_id = fields.String(required=True)
    from_version = fields.Integer(required=True)
    to_version = fields.Integer(required=True)
    allowed = fields.Boolean(required=True)
    migrated = fields.Boolean(required=True, metadata={"description": "false for a check"})
    reasons = fields.List(fields.String(), required=True, metadata={"description": "why it is refused, if it is"})
    notes = fields.List(fields.String(), required=True,
                        metadata={"description": "what changes for the open tasks (forms, lanes)"})
