"""Start a process when work comes up (a check record, an instruction card): the list of what I may
start, and the button that starts it and takes me straight to its first task."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from engine.services import on_demand, tasks
from web.auth_user import current_actor, runtime

bp = Blueprint("start", __name__, url_prefix="/start")


@bp.get("")
@login_required
def index():
    return render_template("start/index.html", processes=on_demand.startable(runtime(), current_actor()))


@bp.post("/<process_id>")
@login_required
def begin(process_id: str):
    rt, actor = runtime(), current_actor()
    instance_id = on_demand.start(rt, process_id, actor, current_user.display_name)
    mine = [t for t in tasks.inbox(rt, actor) if t.instance_id == instance_id]
    if mine:
        return redirect(url_for("task.show", task_id=mine[0].id))
    return redirect(url_for("instances.show", instance_id=instance_id))
