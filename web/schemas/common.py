"""Pieces every API schema shares: zoned times, error bodies, paging."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import current_app
from flask_smorest.fields import Upload
from marshmallow import fields, validate

PER_PAGE_MAX = 200
MAX_ID = 2**31 - 1  # ids are PostgreSQL integers: a larger number names nothing (routes use the same bound)
# Text on one line (codes, usernames, titles, filters) has no control characters. NUL and broken
# characters need no rule here: web.security refuses them for every request before a schema runs.
ONE_LINE = validate.Regexp(r"^[^\x00-\x1f\x7f]*$", error="不能包含控制字符 / control characters are not allowed")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BINARY = {"type": "string", "format": "binary"}  # how the OpenAPI document describes a downloaded file


def line(max_length: int, *, min_length: int = 0, **kwargs) -> fields.String:
    """A one-line text field of at most `max_length` characters."""
    return fields.String(validate=[validate.Length(min=min_length, max=max_length), ONE_LINE], **kwargs)


class ZonedDateTime(fields.DateTime):
    """ISO 8601 with the zone, in the organisation's time zone: 2026-11-30T17:00:00+08:00.

    The database keeps UTC; a naive value read back from SQLite is UTC too."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(ZoneInfo(current_app.extensions["kaohe"].settings.timezone)).isoformat()

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is None:
            raise ma.ValidationError("时间须带时区，例如 2026-11-30T17:00:00+08:00 / a time needs its zone")
        return parsed


class ErrorSchema(ma.Schema):
    """Every error answer has this shape, whatever the status."""

    status = fields.Integer(required=True, metadata={"description": "HTTP status"})
    code = fields.String(required=True, metadata={"description": "stable machine-readable code, e.g. not_found"})
    message = fields.String(required=True, metadata={"description": "for people, in the request's language"})
    field_errors = fields.Dict(keys=fields.String(), values=fields.String(),
                               metadata={"description": "input field path → what is wrong with it"})
    details = fields.List(fields.String(), metadata={"description": "further problems, e.g. of a deployment"})
    reference = fields.String(metadata={"description": "quote this to support; the server log has it"})


class PageArgs(ma.Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=PER_PAGE_MAX))


class PageSchema(ma.Schema):
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    has_next = fields.Boolean(required=True, metadata={"description": "another page follows"})
    total = fields.Integer(allow_none=True, metadata={"description": "all matches, when cheap to count"})


def page_of(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """An envelope schema {items: [...], page, per_page, has_next, total} named for the OpenAPI document."""
    return type(name, (PageSchema,), {"items": fields.List(fields.Nested(item_schema), required=True)})


def page_body(items, *, page: int, per_page: int, has_next: bool, total: int | None = None) -> dict:
    return {"items": list(items), "page": page, "per_page": per_page, "has_next": has_next, "total": total}


class MessageSchema(ma.Schema):
    """The answer to an action that returns nothing else."""

    status = fields.String(required=True, metadata={"description": "e.g. ok, completed, suspended"})


class FileUploadSchema(ma.Schema):
    """One file sent as multipart/form-data under the name `file`."""

    file = Upload(required=True)
