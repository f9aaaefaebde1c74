"""API tokens in the API: list, issue (the secret is in the answer once), revoke."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from engine.models.org import ROLES
from web.schemas.common import ZonedDateTime


class TokenSchema(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    account = fields.String(required=True, metadata={"description": "the username the token acts as"})
    scope = fields.List(fields.String(), required=True, metadata={"description": "role codes"})
    prefix = fields.String(required=True, metadata={"description": "the secret's first characters"})
    created_by = fields.String(required=True)
    created_at = ZonedDateTime(required=True)
    expires_at = ZonedDateTime(allow_none=True)
    revoked_at = ZonedDateTime(allow_none=True)
    last_used_at = ZonedDateTime(allow_none=True)
    active = fields.Boolean(required=True)


class TokenListSchema(ma.Schema):
    items = fields.List(fields.Nested(TokenSchema), required=True)


class NewTokenArgs(ma.Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=40))
    scope = fields.List(fields.String(validate=validate.OneOf(list(ROLES))), required=True,
                        validate=validate.Length(min=1, max=len(ROLES)))
    account = fields.String(load_default="", validate=validate.Length(max=64),
                            metadata={"description": "act as this username; empty: a new service account"})
    valid_days = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=3650))


class CreatedTokenSchema(ma.Schema):
    token = fields.Nested(TokenSchema, required=True)
    secret = fields.String(required=True, metadata={"description": "shown this once; send as `Bearer <secret>`"})
