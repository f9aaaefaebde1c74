"""Background jobs in the API: what starts one, and how far it is."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from web.schemas.common import ONE_LINE, ZonedDateTime  # noqa: F401

# Exports only: an import sends its file to its own endpoint (it has one already, /org/import).
API_KINDS = ("org_export", "scores_template", "audit_export", "results_export", "tracker_export")


class JobStartArgs(ma.Schema):
    kind = fields.String(required=True, validate=validate.OneOf(API_KINDS))
    period = fields.String(validate=validate.Regexp(r"^\d{4}-\d{2}$"),
                           metadata={"description": "scores_template: the month, YYYY-MM"})
    group = fields.String(validate=[validate.Length(max=32), ONE_LINE],
                          metadata={"description": "scores_template: one group's code (default: all you may score)"})
    fmt = fields.String(validate=validate.OneOf(("csv", "xlsx")), metadata={"description": "audit_export"})
    label = fields.String(validate=[validate.Regexp(r"^\d{4}(-\d{2}|Q[1-4])$")],
                          metadata={"description": "results_export: YYYY-MM or YYYYQn"})


class JobSchema(ma.Schema):
    id = fields.Integer()
    kind = fields.String()
    requested_by = fields.String()
    status = fields.String(metadata={"description": "queued, running, done or failed"})
    done = fields.Integer()
    total = fields.Integer()
    percent = fields.Integer(allow_none=True, metadata={"description": "null while a stage has nothing to count"})
    stage = fields.String(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "why it failed, in the request's language"})
    summary = fields.Dict(allow_none=True, metadata={"description": "an import's counts, or a refused import's "
                                                                    "problems"})
    download = fields.String(allow_none=True, metadata={"description": "where to fetch the file once done"})
    file_expired = fields.Boolean()
    created_at = ZonedDateTime()
    finished_at = ZonedDateTime(allow_none=True)
