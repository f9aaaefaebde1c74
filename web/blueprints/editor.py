"""The process owners' editor: deployed processes and decision tables, the bpmn-js / dmn-js modelers,
validation and deployment, forms beside the diagram, version history and diffs, upload and download.

The pages are thin: the engine's services decide who may look (owners, admins, auditors) and who
may validate or deploy (owners, admins), and run every check a deployment makes.
"""
from __future__ import annotations

import json
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.bpmn import forms
from engine.bpmn.bundle import SourceFile, kind_of
from engine.bpmn.service_operators import OPERATORS
from engine.errors import DeploymentRejected, Problem, ValidationFailed
from engine.services import definitions, deploy
from web import forms_render
from web.auth_user import current_actor, runtime
from web.i18n import current_language

bp = Blueprint("editor", __name__)
MIMETYPES = {"bpmn": "application/xml", "dmn": "application/xml", "form": "application/json"}


def _problem_json(problem: Problem) -> dict:
    language = current_language()
    return {"file": problem.file, "element": problem.element, "line": problem.line,
            "message": problem.en if language.startswith("en") else problem.zh}


def _download(filename: str, content: str) -> Response:
    response = Response(content, mimetype=MIMETYPES.get(kind_of(filename) or "", "application/octet-stream"))
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
    return response


@bp.get("/processes")
@login_required
def index():
    processes, decisions = definitions.list_definitions(runtime(), current_actor())
    return render_template("editor/index.html", processes=processes, decisions=decisions,
                           can_edit=definitions.can_edit(current_actor()))


@bp.post("/processes/upload")
@login_required
def upload():
    """Files from another modeler: validate them (校验) or validate and store them (部署)."""
    rt, actor = runtime(), current_actor()
    # Read as the API reads them; the services refuse a caller without the right before any file's problems.
    files, unreadable = deploy.read_uploads((f.filename, f.read()) for f in request.files.getlist("files"))
    results, status = [], 200
    if request.form.get("action") == "deploy":
        try:
            results, problems = deploy.deploy(rt, files, actor, unreadable), []
        except DeploymentRejected as exc:
            problems = exc.problems
    else:
        problems = deploy.check(rt, files, actor, unreadable)
    if problems:
        status = 422
    processes, decisions = definitions.list_definitions(rt, actor)
    return render_template("editor/index.html", processes=processes, decisions=decisions, can_edit=True,
                           uploaded=[f.name for f in files], problems=[_problem_json(p) for p in problems],
                           results=results, checked=not problems and not results), status


@bp.get("/processes/<process_id>/edit")
@login_required
def edit(process_id: str):
    source = definitions.editor_source(runtime(), current_actor(), process_id)
    return render_template("editor/edit.html", source=source, can_edit=definitions.can_edit(current_actor()),
                           operators=sorted(OPERATORS), texts=texts())


@bp.get("/processes/<process_id>/source.json")
@login_required
def source(process_id: str):
    """The diagram and its forms, for the modeler page's script."""
    found = definitions.editor_source(runtime(), current_actor(), process_id)
    return jsonify({"process_id": found.process_id, "version": found.version, "bpmn_name": found.bpmn_name,
                    "bpmn": found.bpmn, "forms": found.forms})


def _posted_files() -> list[SourceFile]:
    body = request.get_json(silent=True) or {}
    files = []
    for item in body.get("files") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("content"), str):
            # Only a bare file name: the name keys stored versions, it never points at a place on disk.
            files.append(SourceFile(item["name"].replace("\\", "/").rsplit("/", 1)[-1], item["content"]))
    return files


@bp.post("/definitions/check")
@login_required
def check():
    problems = deploy.check(runtime(), _posted_files(), current_actor())
    return jsonify({"ok": not problems, "problems": [_problem_json(p) for p in problems]})


@bp.post("/definitions/deploy")
@login_required
def deploy_files():
    try:
        results = deploy.deploy(runtime(), _posted_files(), current_actor())
    except DeploymentRejected as exc:
        return jsonify({"ok": False, "problems": [_problem_json(p) for p in exc.problems]}), 422
    return jsonify({"ok": True, "results": [
        {"id": r.process_id, "kind": r.kind, "version": r.version, "created": r.created,
         "history": url_for("editor.versions", process_id=r.process_id) if r.kind == "process"
         else url_for("editor.edit_decision", decision_id=r.process_id)} for r in results]})


@bp.post("/definitions/form-preview")
@login_required
def form_preview():
    """A form file as the task page would draw it (read-only), or why it cannot be used."""
    definitions.require_view(current_actor())
    content = (request.get_json(silent=True) or {}).get("content")
    if not isinstance(content, str):
        raise ValidationFailed("没有表单内容", "no form content")
    language = current_language()
    problems = [en if language.startswith("en") else zh for zh, en in forms.schema_problems(content)]
    if problems:
        return jsonify({"ok": False, "problems": problems, "html": ""})
    schema = json.loads(content)
    fields = forms_render.build_fields(schema, {}, language=language)
    html = render_template("editor/_form_preview.html", schema=schema, fields=fields)
    return jsonify({"ok": True, "problems": [], "html": html})


@bp.get("/processes/<process_id>/versions")
@login_required
def versions(process_id: str):
    rt, actor = runtime(), current_actor()
    history = definitions.process_history(rt, actor, process_id)
    numbers = [row.version for row in history]
    old = request.args.get("old", type=int) or (numbers[1] if len(numbers) > 1 else numbers[0])
    new = request.args.get("new", type=int) or numbers[0]
    diff = definitions.diff_versions(rt, actor, process_id, old, new) if len(numbers) > 1 else None
    return render_template("editor/versions.html", process_id=process_id, history=history, diff=diff,
                           old=old, new=new, can_edit=definitions.can_edit(actor))


@bp.get("/processes/<process_id>/versions/<int:version>/files/<filename>")
@login_required
def download(process_id: str, version: int, filename: str):
    content = definitions.version_file(runtime(), current_actor(), process_id, version, filename)
    return _download(filename, content)


@bp.get("/decisions/<decision_id>/edit")
@login_required
def edit_decision(decision_id: str):
    rt, actor = runtime(), current_actor()
    history = definitions.decision_history(rt, actor, decision_id)
    filename, _content, version = definitions.decision_file(rt, actor, decision_id)
    return render_template("editor/decision.html", decision_id=decision_id, history=history, filename=filename,
                           version=version, can_edit=definitions.can_edit(actor), texts=texts())


@bp.get("/decisions/<decision_id>/versions/<int:version>/download")
@login_required
def download_decision(decision_id: str, version: int):
    filename, content, _version = definitions.decision_file(runtime(), current_actor(), decision_id, version)
    return _download(filename, content)


def texts() -> dict:
    """Messages the editor's scripts show, in the page's language."""
    return {"checking": _("正在校验…"), "valid": _("校验通过，可以部署。"), "invalid": _("发现以下问题："),
            "deploying": _("正在部署…"), "deployed": _("已部署：%(id)s 版本 %(version)s"),
            "unchanged": _("内容未变化，仍为 %(id)s 版本 %(version)s"), "failed": _("请求失败："),
            "loadFailed": _("无法加载图表"), "noSelection": _("选择图中的元素以编辑其属性。"),
            "formValid": _("表单有效。"), "unsaved": _("有未部署的修改。")}
