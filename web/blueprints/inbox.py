"""The inbox: my open tasks and those my roles or unit may take; claiming and releasing them."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.services import tasks
from web import readmodels
from web.auth_user import current_actor, runtime

bp = Blueprint("inbox", __name__)


def _back(task_id: int):
    """Return to the page the button was on (only the two known ones)."""
    if request.form.get("back") == "task":
        return redirect(url_for("task.show", task_id=task_id))
    return redirect(url_for("inbox.index"))


@bp.get("/")
def root():
    return redirect(url_for("inbox.index"))


@bp.get("/tasks")
@login_required
def index():
    """Open tasks assigned to me first, then those offered to my roles or unit."""
    rt = runtime()
    rows = tasks.inbox(rt, current_actor(), limit=200)
    return render_template("inbox/tasks.html", rows=rows, me=current_actor().person_id,
                           instances=readmodels.instance_summaries(rt, [t.instance_id for t in rows]))


@bp.post("/tasks/<int:task_id>/claim")
@login_required
def claim(task_id: int):
    tasks.claim(runtime(), task_id, current_actor())
    flash(_("已认领任务"), "success")
    return _back(task_id)


@bp.post("/tasks/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int):
    tasks.unclaim(runtime(), task_id, current_actor())
    flash(_("已退回任务，其他候选人可以认领"), "success")
    return _back(task_id)
