"""One task: its instructions and form (drawn from the JSON Schema), completing and delegating it."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.errors import ValidationFailed
from engine.evidence import references
from engine.services import case_steps, inbox, tasks
from engine.services.tasks import TaskView
from web import forms_render, readmodels, uploads
from web.auth_user import current_actor, runtime
from web.i18n import current_language

bp = Blueprint("task", __name__)


def _render(view: TaskView, *, posted=None, files: dict | None = None, error: ValidationFailed | None = None,
            delegate_error: ValidationFailed | None = None, status: int = 200):
    """The task page; after a refused submit it shows each message beside its input, values and
    uploaded files kept."""
    language = current_language()
    field_errors = error.field_errors if error else {}
    fields = forms_render.build_fields(view.schema, view.data, posted=posted, errors=field_errors,
                                       language=language, files=files)
    form_errors = forms_render.form_level_errors(view.schema, field_errors, language) if view.schema else []
    delegate_message = None
    if delegate_error is not None:
        to_error = delegate_error.field_errors.get("to")
        delegate_message = to_error.text(language) if to_error else delegate_error.text(language)
    actor = current_actor()
    may_see_instance = actor.person_id in (view.task.assignee_id, view.task.completed_by_id) or \
        actor.has_role("process_owner", "admin", "auditor")
    page = render_template(
        "task/task.html", view=view, task=view.task, fields=fields, form_errors=form_errors,
        summary=error.text(language) if error else None, posted=posted or {},
        delegate_message=delegate_message, me=actor.person_id, may_see_instance=may_see_instance,
        attachments=references.find_references(view.data),
        multipart=any(f.widget == "file" for f in fields), has_rows=any(f.widget == "rows" for f in fields),
        steps=case_steps.earlier_steps(runtime(), view.task.id, actor),
        overdue_days=inbox.overdue_days(view.task.due_at, runtime().clock.now()) if view.task.status == "open" else 0,
        instance=readmodels.instance_summaries(runtime(), [view.task.instance_id]).get(view.task.instance_id))
    return page, status


@bp.get("/tasks/<int:task_id>")
@login_required
def show(task_id: int):
    """Instructions, the form filled with the current data, and what I may do with the task."""
    return _render(tasks.get(runtime(), task_id, current_actor()))


@bp.get("/tasks/<int:task_id>/diagram.bpmn")
@login_required
def diagram(task_id: int):
    """The diagram of the task's process version, for whoever may see the task (a candidate who has
    not claimed it yet may not open the instance page)."""
    rt = runtime()
    version_id, process_id = case_steps.task_process(rt, task_id, current_actor())
    xml = readmodels.diagram_xml(rt, version_id, process_id)
    if xml is None:
        abort(404)
    return Response(xml, mimetype="application/xml")


@bp.post("/tasks/<int:task_id>")
@login_required
def submit(task_id: int):
    """Complete the task with the typed values, converted to the types the form's schema names."""
    rt, actor = runtime(), current_actor()
    view = tasks.get(rt, task_id, actor, acting=True)
    if view.schema is not None:
        submitted = forms_render.convert(view.schema, request.form, view.data)
    else:
        comment = request.form.get("comment", "").strip()
        submitted = {"comment": comment} if comment else {}
    refused = uploads.store_chosen_files(rt, actor, task_id, view.schema, request.files, submitted)
    if refused:
        error = ValidationFailed("文件未能上传，请检查标出的字段", "some files were not uploaded; see the marked fields",
                                 field_errors=refused)
        return _render(view, posted=request.form, files=submitted, error=error, status=422)
    try:
        tasks.complete(rt, task_id, actor, submitted)
    except ValidationFailed as error:
        return _render(view, posted=request.form, files=submitted, error=error, status=422)
    flash(_("已完成任务「%(name)s」", name=view.task.name), "success")
    return redirect(url_for("inbox.index"))


@bp.post("/tasks/<int:task_id>/delegate")
@login_required
def delegate(task_id: int):
    """Hand the task to a named person, with an optional note that goes into the audit trail."""
    rt, actor = runtime(), current_actor()
    to_username = request.form.get("to", "").strip()
    note = request.form.get("note", "").strip() or None
    try:
        tasks.delegate(rt, task_id, actor, to_username, note)
    except ValidationFailed as error:
        return _render(tasks.get(rt, task_id, actor), posted=None, delegate_error=error, status=422)
    flash(_("已将任务转交给 %(name)s", name=to_username), "success")
    return redirect(url_for("inbox.index"))
