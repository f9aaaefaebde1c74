"""Process instances: the filtered list, one instance's page (diagram with its progress, data, task
history, audit trail, parent and children) and the owner's suspend / resume / terminate / retry."""
from __future__ import annotations

import json
from io import BytesIO

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.errors import ValidationFailed
from engine.evidence import references
from engine.models.instance import ACTIVE_STATUSES, INSTANCE_STATUSES
from engine.runtime import MANAGERS
from engine.services import audit_export, evidence, instance_migration, instance_views, instances
from web import readmodels
from web.auth_user import current_actor, runtime
from web.i18n import current_language
from web.labels import instance_status
from web.templating import local_time

bp = Blueprint("instances", __name__)

# What an owner may do from each status (the engine checks again; this only decides which forms show).
ACTIONS = {
    "suspend": ACTIVE_STATUSES + ("error",),
    "resume": ("suspended",),
    "terminate": ACTIVE_STATUSES + ("error", "suspended"),
    "retry": ("error",),
}
MAX_PATCH_CHARS = 20_000


def _arg(name: str) -> str | None:
    return request.args.get(name, "").strip()[:200] or None


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


@bp.get("/instances")
@login_required
def index():
    """The instances the person may see, filtered by process, status, period, unit and title."""
    filters = instance_views.Filters(
        process_id=_arg("process"), status=_arg("status"), period=_arg("period"), unit_code=_arg("unit"),
        text=_arg("q"), parent_id=_int_arg("parent"), spawned_by=_arg("spawned_by"), page=_int_arg("page") or 1)
    result = instance_views.list_instances(runtime(), current_actor(), filters)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("instances/list.html", result=result, filters=filters, statuses=INSTANCE_STATUSES,
                           page_url=lambda page: url_for("instances.index", **args, page=page))


def _trail_note(detail: str | None) -> str:
    """The reason of a suspension or termination, or an error's message, for the trail's row."""
    try:
        parsed = json.loads(detail or "{}")
    except ValueError:
        return ""
    return str(parsed.get("reason") or parsed.get("message") or "") if isinstance(parsed, dict) else ""


def _render(instance_id: int, *, patch_text: str = "", patch_error: str | None = None, status: int = 200,
            migration_refused: list[str] | None = None):
    page = instance_views.instance_page(runtime(), instance_id, current_actor())
    view = page.view
    newer = instance_migration.newer_version(runtime(), view.instance) if current_actor().has_role(*MANAGERS) else None
    timers = [{"id": element, "text": _("到期 %(due)s", due=local_time(due))} for element, due in view.timers]
    html = render_template(
        "instances/instance.html", page=page, view=view, instance=view.instance,
        actions=[name for name, allowed in ACTIONS.items() if view.instance.status in allowed],
        task_by_guid={t.task_guid: t for t in view.tasks}, timers=timers,
        notes={event.id: _trail_note(event.detail) for event in view.trail},
        attachments=references.find_references(view.data), patch_text=patch_text, patch_error=patch_error,
        newer_version=newer, migration_refused=migration_refused)
    return html, status


@bp.get("/instances/<int:instance_id>")
@login_required
def show(instance_id: int):
    """Everything known about one instance, for the people involved, owners and auditors."""
    return _render(instance_id)


@bp.get("/instances/<int:instance_id>/files/<sha256>")
@login_required
def file(instance_id: int, sha256: str):
    """An uploaded evidence file, always as a download (never shown inline), with its stored type."""
    stored = evidence.open_file(runtime(), current_actor(), instance_id, sha256, request.args.get("name"))
    response = send_file(stored.path, mimetype=stored.content_type, as_attachment=True,
                         download_name=stored.name, conditional=False, etag=False)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/instances/<int:instance_id>/audit.<any(xlsx, csv):fmt>")
@login_required
def audit_download(instance_id: int, fmt: str):
    """The case's audit trail as a file, for whoever may view the case; the export itself is recorded."""
    language = "en" if current_language().startswith("en") else "zh"
    export = audit_export.export_case(runtime(), current_actor(), instance_id, fmt, language)
    response = send_file(BytesIO(export.content), mimetype=export.mimetype, as_attachment=True,
                         download_name=export.filename, etag=False)
    response.headers["Cache-Control"] = "private, no-store"  # personal data: no copy in caches
    return response


@bp.get("/instances/<int:instance_id>/diagram.bpmn")
@login_required
def diagram(instance_id: int):
    """The BPMN file of the version this instance runs on, for the page's viewer."""
    rt = runtime()
    instance = instances.view(rt, instance_id, current_actor()).instance
    xml = readmodels.diagram_xml(rt, instance.process_version_id, instance.process_id)
    if xml is None:
        abort(404)
    return Response(xml, mimetype="application/xml")


def parse_patch(text: str) -> dict:
    """The retry's data patch: empty, or a JSON object whose keys are variable names."""
    if not text.strip():
        return {}
    if len(text) > MAX_PATCH_CHARS:
        raise ValidationFailed("数据修正内容过长", "the data patch is too long")
    try:
        patch = json.loads(text)
    except ValueError as exc:
        raise ValidationFailed(f"数据修正不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列",
                               f"the data patch is not valid JSON: line {exc.lineno}, column {exc.colno}") from exc
    if not isinstance(patch, dict):
        raise ValidationFailed("数据修正须为 JSON 对象，例如 {\"weight\": 1}",
                               "the data patch must be a JSON object, e.g. {\"weight\": 1}")
    bad = [key for key in patch if not key.isidentifier()]
    if bad:
        raise ValidationFailed(f"变量名无效：{', '.join(bad[:5])}", f"invalid variable names: {', '.join(bad[:5])}")
    return patch


@bp.post("/instances/<int:instance_id>/<any(suspend, resume, terminate, retry):action>")
@login_required
def manage(instance_id: int, action: str):
    """Suspend, resume, terminate (with a reason) or retry with an optional data patch (process
    owners only; the service enforces it)."""
    rt, actor = runtime(), current_actor()
    reason = request.form.get("reason", "").strip()[:500] or None
    if action == "suspend":
        status = instances.suspend(rt, instance_id, actor, reason)
    elif action == "terminate":
        instances.require_manager(actor)  # who may, before what they typed is judged
        if reason is None:
            raise ValidationFailed("终止实例须填写原因", "give a reason to terminate the instance")
        status = instances.terminate(rt, instance_id, actor, reason)
    elif action == "resume":
        status = instances.resume(rt, instance_id, actor)
    else:
        instances.require_manager(actor)
        patch_text = request.form.get("patch", "")
        try:
            patch = parse_patch(patch_text)
        except ValidationFailed as error:
            return _render(instance_id, patch_text=patch_text, patch_error=error.text(current_language()), status=422)
        status = instances.retry(rt, instance_id, actor, patch)
    flash(_("操作已完成，实例当前状态：%(status)s", status=instance_status(status)), "success")
    return redirect(url_for("instances.show", instance_id=instance_id))


@bp.post("/instances/<int:instance_id>/migrate")
@login_required
def migrate(instance_id: int):
    """Move the instance to the latest version of its process (process owners); a refusal is shown
    on the page with every reason, and nothing changes."""
    try:
        found = instance_migration.migrate(runtime(), instance_id, current_actor())
    except instance_migration.MigrationRefused as refused:
        language = current_language()
        return _render(instance_id, migration_refused=[r.text(language) for r in refused.reasons], status=409)
    flash(_("已迁移到版本 v%(version)s", version=found.to_version), "success")
    return redirect(url_for("instances.show", instance_id=instance_id))
