"""A process instance: status, data, task history, audit trail and the diagram with its progress."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.evidence import references
from engine.models.instance import ACTIVE_STATUSES
from engine.services import evidence, instances
from web import readmodels
from web.auth_user import current_actor, runtime
from web.labels import instance_status

bp = Blueprint("instances", __name__)

# What an owner may do from each status (the engine checks again; this only decides which buttons show).
ACTIONS = {
    "suspend": ACTIVE_STATUSES + ("error",),
    "resume": ("suspended",),
    "terminate": ACTIVE_STATUSES + ("error", "suspended"),
    "retry": ("error",),
}


@bp.get("/instances/<int:instance_id>")
@login_required
def show(instance_id: int):
    """Everything known about one instance, for the people involved, owners and auditors."""
    rt = runtime()
    view = instances.view(rt, instance_id, current_actor())
    person_names = readmodels.names_by_id(
        rt, [t.assignee_id for t in view.tasks] + [t.completed_by_id for t in view.tasks])
    actor_names = readmodels.names_by_username(rt, [event.actor for event in view.trail])
    task_by_guid = {t.task_guid: t for t in view.tasks}
    status = view.instance.status
    actions = [name for name, allowed in ACTIONS.items() if status in allowed]
    return render_template("instances/instance.html", view=view, instance=view.instance,
                           version=readmodels.version_info(rt, view.instance.process_version_id),
                           person_names=person_names, actor_names=actor_names, task_by_guid=task_by_guid,
                           actions=actions, attachments=references.find_references(view.data))


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


@bp.post("/instances/<int:instance_id>/<any(suspend, resume, terminate, retry):action>")
@login_required
def manage(instance_id: int, action: str):
    """Suspend, resume, terminate or retry (process owners only; the service enforces it)."""
    rt, actor = runtime(), current_actor()
    reason = request.form.get("reason", "").strip() or None
    if action == "suspend":
        status = instances.suspend(rt, instance_id, actor, reason)
    elif action == "terminate":
        status = instances.terminate(rt, instance_id, actor, reason)
    elif action == "resume":
        status = instances.resume(rt, instance_id, actor)
    else:
        status = instances.retry(rt, instance_id, actor)
    flash(_("操作已完成，实例当前状态：%(status)s", status=instance_status(status)), "success")
    return redirect(url_for("instances.show", instance_id=instance_id))
