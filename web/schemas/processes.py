"""Process and decision definitions in the API: lists, version histories, checking and deploying files."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from web.schemas.common import ZonedDateTime, page_of

MAX_FILES = 50  # a process with its forms and decision tables; far more is a mistake


class DefinitionSchema(ma.Schema):
    id = fields.String(required=True, metadata={"description": "process id or decision id"})
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "process or decision"})
    version = fields.Integer(required=True, metadata={"description": "the latest version"})
    versions = fields.Integer(required=True, metadata={"description": "how many versions were deployed"})
    deployed_by = fields.String(required=True)
    deployed_at = ZonedDateTime(required=True)


DefinitionPageSchema = page_of(DefinitionSchema, "DefinitionPage")


class DefinitionFileSchema(ma.Schema):
    filename = fields.String(required=True)
    sha256 = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "bpmn, dmn or form"})


class DefinitionVersionSchema(ma.Schema):
    version = fields.Integer(required=True)
    name = fields.String(required=True)
    deployed_by = fields.String(required=True)
    deployed_at = ZonedDateTime(required=True)
    files = fields.List(fields.Nested(DefinitionFileSchema), required=True)


DefinitionVersionPageSchema = page_of(DefinitionVersionSchema, "DefinitionVersionPage")


class DefinitionUploadSchema(ma.Schema):
    """BPMN, DMN and form (.json) files sent as multipart/form-data, each under the name `file` (repeat
    the part for several files, as for the one file of a task upload)."""

    file = fields.List(Upload(), required=True, validate=validate.Length(min=1, max=MAX_FILES))


class DeployProblemSchema(ma.Schema):
    file = fields.String(required=True)
    element = fields.String(allow_none=True, metadata={"description": "the element's id in the file"})
    line = fields.Integer(allow_none=True)
    message = fields.String(required=True, metadata={"description": "in the request's language"})


class DefinitionCheckSchema(ma.Schema):
    ok = fields.Boolean(required=True, metadata={"description": "the files would deploy"})
    problems = fields.List(fields.Nested(DeployProblemSchema), required=True)


class DeployedVersionSchema(ma.Schema):
    id = fields.String(required=True, metadata={"description": "process id or decision id"})
    kind = fields.String(required=True, metadata={"description": "process or decision"})
    version = fields.Integer(required=True)
    created = fields.Boolean(required=True,
                             metadata={"description": "false when the same content was deployed before"})


class DeploymentSchema(ma.Schema):
    versions = fields.List(fields.Nested(DeployedVersionSchema), required=True)
