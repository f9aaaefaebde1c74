"""/api/v1/processes and /api/v1/decisions: the deployed definitions and their versions, file
downloads, and checking or deploying BPMN, DMN and form files (the editor's 校验 and 部署).

Owners, admins and auditors may look; owners and admins may check and deploy (engine/services/definitions.py
and deploy.py decide)."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from engine.bpmn.bundle import kind_of
from engine.errors import Problem
from engine.services import definitions, deploy
from web.api.auth import api_actor
from web.auth_user import runtime
from web.i18n import current_language
from web.schemas.common import PageArgs, page_body
from web.schemas.processes import (DefinitionCheckSchema, DefinitionPageSchema, DefinitionUploadSchema,
                                   DefinitionVersionPageSchema, DeploymentSchema)

blp = Blueprint("api_processes", __name__, url_prefix="",
                description="流程与决策表定义 / process and decision definitions")

KEY = "string(maxlength=128)"  # process and decision ids
FILENAME = "string(maxlength=255)"
MIMETYPES = {"bpmn": "application/xml", "dmn": "application/xml", "form": "application/json"}
BINARY = {"schema": {"type": "string", "format": "binary"}}


def _paged(rows: list, args: dict) -> dict:
    """A page of a short list the service returns whole (definitions are tens, not thousands)."""
    page, size = args["page"], args["per_page"]
    return page_body(rows[(page - 1) * size:page * size], page=page, per_page=size,
                     has_next=page * size < len(rows), total=len(rows))


def _download(filename: str, content: str) -> Response:
    response = Response(content, mimetype=MIMETYPES.get(kind_of(filename) or "", "application/octet-stream"))
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
    return response


def _uploads(files: dict):
    """The multipart parts as (name, bytes), for deploy.read_uploads."""
    return [(storage.filename, storage.read()) for storage in files["file"]]


def _problem(problem: Problem) -> dict:
    message = problem.en if current_language().startswith("en") else problem.zh
    return {"file": problem.file, "element": problem.element, "line": problem.line, "message": message}


@blp.route("/processes")
class ProcessList(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, DefinitionPageSchema)
    def get(self, args):
        """Every deployed process with its latest version, by id."""
        processes, _decisions = definitions.list_definitions(runtime(), api_actor())
        return _paged([vars(row) for row in processes], args)

    @blp.arguments(DefinitionUploadSchema, location="files")
    @blp.response(201, DeploymentSchema)
    def post(self, files):
        """Validate the files together and store a new version of each process and decision table whose
        content changed. Any problem refuses the whole upload (422, `details` name file, line and element)."""
        found, unreadable = deploy.read_uploads(_uploads(files))
        results = deploy.deploy(runtime(), found, api_actor(), unreadable)
        return {"versions": [{"id": r.process_id, "kind": r.kind, "version": r.version, "created": r.created}
                             for r in results]}


@blp.route("/processes/check")
class ProcessCheck(MethodView):
    @blp.arguments(DefinitionUploadSchema, location="files")
    @blp.response(200, DefinitionCheckSchema)
    def post(self, files):
        """Run every check a deployment makes and list the problems, storing nothing."""
        found, unreadable = deploy.read_uploads(_uploads(files))
        problems = deploy.check(runtime(), found, api_actor(), unreadable)
        return {"ok": not problems, "problems": [_problem(p) for p in problems]}


@blp.route(f"/processes/<{KEY}:process_id>/versions")
class ProcessVersions(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, DefinitionVersionPageSchema)
    def get(self, args, process_id: str):
        """Every version of a process, newest first, with its files and their SHA-256 digests."""
        history = definitions.process_history(runtime(), api_actor(), process_id)
        return _paged([{**vars(row), "files": [vars(f) for f in row.files]} for row in history], args)


@blp.route(f"/processes/<{KEY}:process_id>/versions/<int:version>/files/<{FILENAME}:filename>")
class ProcessVersionFile(MethodView):
    @blp.response(200, description="the file as stored: XML for diagrams, JSON for forms",
                  content_type="application/xml")
    @blp.doc(responses={200: {"content": {"application/xml": BINARY, "application/json": BINARY}}})
    def get(self, process_id: str, version: int, filename: str):
        """One file (diagram or form) of a deployed version, as an attachment."""
        content = definitions.version_file(runtime(), api_actor(), process_id, version, filename)
        return _download(filename, content)


@blp.route("/decisions")
class DecisionList(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, DefinitionPageSchema)
    def get(self, args):
        """Every deployed decision table with its latest version, by id."""
        _processes, decisions = definitions.list_definitions(runtime(), api_actor())
        return _paged([vars(row) for row in decisions], args)


@blp.route(f"/decisions/<{KEY}:decision_id>/versions")
class DecisionVersions(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, DefinitionVersionPageSchema)
    def get(self, args, decision_id: str):
        """Every version of a decision table, newest first."""
        history = definitions.decision_history(runtime(), api_actor(), decision_id)
        return _paged([{**vars(row), "files": [vars(f) for f in row.files]} for row in history], args)


@blp.route(f"/decisions/<{KEY}:decision_id>/versions/<int:version>/download")
class DecisionDownload(MethodView):
    @blp.response(200, description="the DMN file", content_type="application/xml")
    def get(self, decision_id: str, version: int):
        """The DMN file of one version of a decision table, as an attachment."""
        filename, content, _version = definitions.decision_file(runtime(), api_actor(), decision_id, version)
        return _download(filename, content)
