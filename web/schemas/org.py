"""The organisation in the API: units, people, the spreadsheet import's report, and logins."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from engine.models.org import ROLES, UNIT_CATEGORIES
from engine.services.org_sheets import PARTY_STATUSES, POSITIONS
from web.schemas.common import PER_PAGE_MAX, ZonedDateTime, line, page_of


ROLE_CODES = list(ROLES)
ROLE_FIELD_HELP = "role codes: " + ", ".join(ROLE_CODES)


class OrgUnitSchema(ma.Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    category = fields.String(required=True, metadata={"description": ", ".join(UNIT_CATEGORIES)})
    parent_code = fields.String(allow_none=True, required=True, metadata={"description": "null for a top unit"})
    branch_code = fields.String(allow_none=True, required=True,
                                metadata={"description": "the party branch the unit belongs to"})
    branch_name = fields.String(allow_none=True, required=True)
    depth = fields.Integer(required=True, metadata={"description": "0 for a top unit; the list is in tree order"})
    people = fields.Integer(required=True, metadata={"description": "active people in the unit itself"})
    active = fields.Boolean(required=True)


OrgUnitPageSchema = page_of(OrgUnitSchema, "OrgUnitPage")


class PeopleArgs(ma.Schema):
    q = line(100, load_default="", metadata={"description": "part of a username or name"})
    unit = line(64, load_default="", metadata={"description": "unit code"})
    role = fields.String(load_default="", validate=validate.OneOf(["", *ROLE_CODES]),
                         metadata={"description": ROLE_FIELD_HELP})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=PER_PAGE_MAX))


class OrgPersonSchema(ma.Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    display_name = fields.String(required=True)
    unit_code = fields.String(allow_none=True, required=True)
    unit_name = fields.String(allow_none=True, required=True)
    position = fields.String(required=True, metadata={"description": ", ".join(POSITIONS)})
    party_status = fields.String(required=True, metadata={"description": ", ".join(PARTY_STATUSES)})
    active = fields.Boolean(required=True)
    has_password = fields.Boolean(required=True, metadata={"description": "false: cannot log in yet"})
    roles = fields.List(fields.String(), required=True)


OrgPersonPageSchema = page_of(OrgPersonSchema, "OrgPersonPage")


class AccountSchema(OrgPersonSchema):
    created_at = ZonedDateTime(allow_none=True, required=True)


class ImportReportSchema(ma.Schema):
    files = fields.List(fields.String(), required=True)
    units_created = fields.Integer(required=True)
    units_updated = fields.Integer(required=True)
    units_unchanged = fields.Integer(required=True)
    people_created = fields.Integer(required=True)
    people_updated = fields.Integer(required=True)
    people_unchanged = fields.Integer(required=True)
    messages = fields.List(fields.String(), required=True,
                           metadata={"description": "the report in the request's language"})


class UserCreateArgs(ma.Schema):
    username = line(64, required=True, metadata={"description": "1–64 letters, digits or _ . @ -"})
    display_name = line(100, required=True)
    password = line(256, required=True, metadata={"description": "at least 10 characters; never stored as sent"})
    unit_code = line(64, load_default="")
    roles = fields.List(fields.String(validate=validate.OneOf(ROLE_CODES)), load_default=list,
                        validate=validate.Length(max=len(ROLE_CODES)), metadata={"description": ROLE_FIELD_HELP})


class PasswordArgs(ma.Schema):
    password = line(256, required=True, metadata={"description": "at least 10 characters"})


class ActiveArgs(ma.Schema):
    active = fields.Boolean(required=True, metadata={"description": "false: the person can no longer log in"})


class RolesArgs(ma.Schema):
    add = fields.List(fields.String(validate=validate.OneOf(ROLE_CODES)), load_default=list,
                      validate=validate.Length(max=len(ROLE_CODES)), metadata={"description": ROLE_FIELD_HELP})
    remove = fields.List(fields.String(validate=validate.OneOf(ROLE_CODES)), load_default=list,
                         validate=validate.Length(max=len(ROLE_CODES)))
