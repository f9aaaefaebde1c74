"""The audit trail in the API: events (keyset-paged by id), the chain's check, one case's trail."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from engine.services.audit_export import MAX_LIMIT
from web.schemas.common import MAX_ID, ZonedDateTime, line



class AuditEventArgs(ma.Schema):
    after_id = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_ID),
                              metadata={"description": "events with a larger id; pass the previous page's "
                                                       "next_after_id"})
    instance_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    actor = line(64, metadata={"description": "a username: its own events and those made with its tokens"})
    action = line(32, metadata={"description": "e.g. start, complete, org_import, audit_exported"})
    since = ZonedDateTime(metadata={"description": "at or after this moment"})
    until = ZonedDateTime(metadata={"description": "before this moment"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_LIMIT))


class AuditEventSchema(ma.Schema):
    id = fields.Integer(required=True)
    occurred_at = ZonedDateTime(required=True)
    actor = fields.String(required=True, metadata={"description": "username, with #token<id> when a token acted"})
    action = fields.String(required=True)
    instance_id = fields.Integer(allow_none=True, required=True)
    task_guid = fields.String(allow_none=True, required=True)
    subject = fields.String(allow_none=True, required=True)
    detail = fields.Dict(required=True, metadata={"description": "the event's details, parsed"})
    data_digest = fields.String(allow_none=True, required=True,
                                metadata={"description": "SHA-256 of the data submitted with the event"})
    prev_hash = fields.String(required=True, metadata={"description": "the hash of the event before it in the chain"})
    hash = fields.String(required=True)


class AuditEventPageSchema(ma.Schema):
    items = fields.List(fields.Nested(AuditEventSchema), required=True)
    limit = fields.Integer(required=True)
    has_next = fields.Boolean(required=True)
    next_after_id = fields.Integer(allow_none=True, required=True,
                                   metadata={"description": "after_id for the next page; null on the last page"})


class ChainReportSchema(ma.Schema):
    ok = fields.Boolean(required=True)
    checked = fields.Integer(required=True, metadata={"description": "events found intact before any break"})
    first_broken_id = fields.Integer(allow_none=True, required=True)
    reason = fields.String(allow_none=True, required=True)
