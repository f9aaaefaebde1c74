"""Cross-inspection rounds and the rectification tracker in the API.

Percentages are decimal strings like the results' scores ("75.00"), so the whole reporting side of
the API has one number format."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from engine.models.tracking import STAGES
from engine.services import keyset
from engine.services.tracker import SEGMENTS, SORT_TAG
from engine.services.tracker_export import files_of
from web.api import PREFIX
from web.schemas.common import MAX_ID, ONE_LINE, PageArgs, ZonedDateTime, page_of
from web.schemas.results import Score
from web.schemas.tasks import CURSOR_INVALID

# A control character (NUL above all) in a filter can name nothing and PostgreSQL refuses it outright.


def _valid_cursor(value: str) -> None:
    if len(value) > keyset.MAX_CURSOR_LENGTH or keyset.decode(value, SORT_TAG, SEGMENTS) is None:
        raise ma.ValidationError(CURSOR_INVALID)


class RectificationFilterArgs(ma.Schema):
    round = fields.Integer(validate=validate.Range(min=1, max=MAX_ID),
                           metadata={"description": "a cross-inspection round's id: its problems only"})
    unit = fields.Integer(validate=validate.Range(min=1, max=MAX_ID),
                          metadata={"description": "the responsible unit's id (as the page's filter)"})
    unit_code = fields.String(validate=[validate.Length(min=1, max=64), ONE_LINE],
                              metadata={"description": "the responsible unit's code"})
    stage = fields.String(validate=validate.OneOf(["open", *STAGES]),
                          metadata={"description": "open = not closed yet; or one stage: " + ", ".join(STAGES)})
    overdue = fields.Boolean(load_default=False, metadata={"description": "open and past the deadline"})


class RectificationListArgs(RectificationFilterArgs, PageArgs):
    after = fields.String(validate=_valid_cursor,
                          metadata={"description": "`next_after` of the previous page: continue after its last "
                                                   "problem; `page` is then ignored"})


class RoundListArgs(PageArgs):
    pass


class CaseRowSchema(ma.Schema):
    """One problem as the tracker lists it."""

    id = fields.Integer(required=True, attribute="instance_id",
                        metadata={"description": "the problem's id (its rectification process instance)"})
    problem = fields.String(required=True)
    unit_code = fields.String(allow_none=True)
    unit_name = fields.String(allow_none=True)
    stage = fields.String(required=True, metadata={"description": ", ".join(STAGES)})
    status = fields.String(required=True, metadata={"description": "the process instance's status"})
    due_at = ZonedDateTime(allow_none=True, metadata={"description": "earliest deadline of its open steps"})
    overdue_days = fields.Integer(required=True, metadata={"description": "0 unless overdue"})
    severity = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    round_id = fields.Integer(allow_none=True, metadata={"description": "the round that found it, if any"})
    round_title = fields.String(allow_none=True)
    inspector = fields.String(allow_none=True, metadata={"description": "username of who reviews and verifies"})
    inspector_name = fields.String(allow_none=True)
    evidence_count = fields.Integer(required=True, metadata={"description": "items and files of the last report"})
    verified = fields.Boolean(allow_none=True, metadata={"description": "the last verification; null: none yet"})
    reopened = fields.Integer(required=True, metadata={"description": "times sent back"})
    opened_at = ZonedDateTime(required=True)
    closed_at = ZonedDateTime(allow_none=True)


class IdNameSchema(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)

    @ma.pre_dump
    def from_tuple(self, pair, **_kwargs):
        return {"id": pair[0], "name": pair[1]}


CasePageSchema = page_of(CaseRowSchema, "CasePage")


class RectificationPageSchema(page_of(CaseRowSchema, "RectificationPageBase")):
    next_after = fields.String(allow_none=True, metadata={"description": "pass as `after` for the next page"})
    stage_counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                               metadata={"description": "problems per stage among all I may see (unfiltered)"})
    overdue_total = fields.Integer(required=True, metadata={"description": "overdue among all I may see"})
    rounds = fields.List(fields.Nested(IdNameSchema), required=True,
                         metadata={"description": "rounds to filter by (name = the round's title)"})
    units = fields.List(fields.Nested(IdNameSchema), required=True, metadata={"description": "units to filter by"})


class EvidenceReferenceSchema(ma.Schema):
    sha256 = fields.String(required=True)
    name = fields.String(required=True)
    size = fields.Integer()
    content_type = fields.String()
    url = fields.String(required=True, metadata={"description": "where to download it (GET, same credentials)"})


class StepFieldSchema(ma.Schema):
    key = fields.String(required=True)
    title = fields.String(required=True, metadata={"description": "the form's title of the field"})
    value = fields.Raw(allow_none=True, metadata={"description": "as submitted; files as their references"})

    @ma.pre_dump
    def from_triple(self, triple, **_kwargs):
        key, title, value = triple
        return {"key": key, "title": title, "value": value}


class TimelineEntrySchema(ma.Schema):
    at = ZonedDateTime(required=True)
    kind = fields.String(required=True, metadata={"description": "step (the opening or a completed task) or an "
                                                                 "audit action: timer_fired, claim, delegate, …"})
    name = fields.String(required=True)
    actor = fields.String(allow_none=True, metadata={"description": "username"})
    actor_name = fields.String(allow_none=True)
    fields_ = fields.List(fields.Nested(StepFieldSchema), required=True, data_key="fields", attribute="fields")
    files = fields.List(fields.Nested(EvidenceReferenceSchema), required=True,
                        metadata={"description": "the evidence files among the fields"})
    detail = fields.Dict(required=True, metadata={"description": "what the audit event recorded"})


class OpenTaskSchema(ma.Schema):
    name = fields.String(required=True)
    due_at = ZonedDateTime(allow_none=True)
    assignee_name = fields.String(allow_none=True)

    @ma.pre_dump
    def from_tuple(self, row, **_kwargs):
        return dict(zip(("name", "due_at", "assignee_name"), row))


class TimerSchema(ma.Schema):
    element = fields.String(required=True)
    due_at = ZonedDateTime(required=True)

    @ma.pre_dump
    def from_tuple(self, row, **_kwargs):
        return {"element": row[0], "due_at": row[1]}


class CaseInstanceSchema(ma.Schema):
    id = fields.Integer(required=True)
    process_id = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True)
    started_by = fields.String(required=True)
    created_at = ZonedDateTime(required=True)
    completed_at = ZonedDateTime(allow_none=True)


class CaseDetailSchema(ma.Schema):
    problem = fields.Nested(CaseRowSchema, required=True, attribute="case")
    instance = fields.Nested(CaseInstanceSchema, required=True)
    timeline = fields.List(fields.Nested(TimelineEntrySchema), required=True, metadata={"description": "oldest first"})
    open_tasks = fields.List(fields.Nested(OpenTaskSchema), required=True)
    timers = fields.List(fields.Nested(TimerSchema), required=True)
    completed_elements = fields.List(fields.String(), required=True, metadata={"description": "diagram element ids"})
    active_elements = fields.List(fields.String(), required=True)

    @ma.pre_dump
    def with_files(self, detail, **_kwargs):
        """Each step's evidence files picked out of its fields, with where to fetch them."""
        files = f"{PREFIX}/instances/{detail.instance.id}/files/"
        timeline = [{**vars(entry), "files": [{**ref, "url": files + ref["sha256"]} for ref in files_of(entry.fields)]}
                    for entry in detail.timeline]
        return {**vars(detail), "timeline": timeline}


class RoundRowSchema(ma.Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True)
    started_by = fields.String(required=True)
    created_at = ZonedDateTime(required=True)
    completed_at = ZonedDateTime(allow_none=True)
    visits_done = fields.Integer(required=True)
    visits_total = fields.Integer(required=True, metadata={"description": "visits started so far"})
    problems_total = fields.Integer(required=True)
    problems_closed = fields.Integer(required=True)
    problems_overdue = fields.Integer(required=True)


RoundPageSchema = page_of(RoundRowSchema, "RoundPage")


class GroupSchema(ma.Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    members = fields.List(fields.String(), required=True, metadata={"description": "usernames"})
    units = fields.List(fields.String(), required=True, metadata={"description": "codes of the units it inspects"})


class RoundUnitSchema(ma.Schema):
    code = fields.String(required=True)
    name = fields.String(allow_none=True)
    inspected_by = fields.String(allow_none=True, metadata={"description": "the group's code; null: unassigned"})
    visit_status = fields.String(allow_none=True, metadata={"description": "its visit's status; null: not started"})


class RoundFindingSchema(ma.Schema):
    """A finding the feedback session confirmed, as entered on its form."""

    unit_code = fields.String()
    kind = fields.String(metadata={"description": "problem or highlight"})
    checklist_item = fields.String()
    severity = fields.String(allow_none=True)
    description = fields.String()
    evidence = fields.List(fields.String())
    suggestion = fields.String(allow_none=True)
    inspector = fields.String(allow_none=True)


class AnswerSchema(ma.Schema):
    answer = fields.String(required=True)
    count = fields.Integer(required=True)
    percent = Score(required=True)


class QuestionSchema(ma.Schema):
    question = fields.String(required=True)
    respondents = fields.Integer(required=True)
    answers = fields.List(fields.Nested(AnswerSchema), required=True)


class RoundSchema(ma.Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True)
    started_by = fields.String(required=True)
    created_at = ZonedDateTime(required=True)
    completed_at = ZonedDateTime(allow_none=True)
    review_period = fields.String(allow_none=True)
    checklist = fields.List(fields.String(), required=True)
    approved = fields.Boolean(required=True, metadata={"description": "the organiser approved the assignment"})
    groups = fields.List(fields.Nested(GroupSchema), required=True, metadata={"description": "the matrix's rows"})
    units = fields.List(fields.Nested(RoundUnitSchema), required=True, metadata={"description": "its columns"})
    visits_done = fields.Integer(required=True)
    visits_total = fields.Integer(required=True)
    visits_percent = Score(required=True)
    feedback_summary = fields.String(allow_none=True)
    findings = fields.List(fields.Nested(RoundFindingSchema), required=True,
                           metadata={"description": "empty until the feedback session"})
    questionnaire = fields.List(fields.Nested(QuestionSchema), required=True)
    problems_total = fields.Integer(required=True)
    problems_closed = fields.Integer(required=True)
    problems_overdue = fields.Integer(required=True)
    closed_percent = Score(required=True, metadata={"description": "share of the round's problems closed"})
    stage_counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)

    @ma.pre_dump
    def from_view(self, view, **_kwargs):
        """RoundView keeps the instance and its data apart; a client gets one object."""
        instance, data = view.instance, view.data
        listed = data.get("checklist") if isinstance(data.get("checklist"), list) else []
        return {**{name: getattr(instance, name) for name in ("id", "title", "status", "started_by", "created_at",
                                                              "completed_at")},
                "review_period": data.get("review_period"), "checklist": [str(item) for item in listed],
                "feedback_summary": data.get("feedback_summary"),
                "units": [{"code": code, "name": view.unit_names.get(code), "inspected_by": view.inspected_by.get(code),
                           "visit_status": view.visit_status.get(code)} for code in view.units],
                **{name: getattr(view, name) for name in (
                    "approved", "groups", "visits_done", "visits_total", "visits_percent", "findings", "problems_total",
                    "problems_closed", "problems_overdue", "closed_percent", "stage_counts")},
                "questionnaire": view.questionnaire}
