"""The inbox: my open tasks and those my roles or unit may take; filtering, claiming and releasing them."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.services import inbox, tasks
from web.auth_user import current_actor, runtime
from web.templating import id_url

bp = Blueprint("inbox", __name__)


def _back(task_id: int):
    """Return to the page the button was on (only the two known ones); the inbox keeps its filters
    (only a query string is taken from the form, so this never leads elsewhere)."""
    if request.form.get("back") == "task":
        return redirect(url_for("task.show", task_id=task_id))
    query = "".join(ch for ch in request.form.get("query", "")[:500] if ch.isprintable() and ch not in "#\\")
    return redirect(url_for("inbox.index") + ("?" + query if query else ""))


@bp.get("/")
def root():
    return redirect(url_for("inbox.index"))


def _query() -> inbox.InboxQuery:
    """The filters, sort and position from the address (anything unknown or damaged falls back to the
    default: a cursor that does not decode gives the first page)."""
    args = request.args
    return inbox.InboxQuery(scope=args.get("scope", "all"), process=args.get("process"), unit=args.get("unit"),
                            period=args.get("period"), overdue=args.get("overdue") == "1",
                            sort=args.get("sort", "due"), after=args.get("after"), before=args.get("before"),
                            per_page=args.get("per_page", inbox.PAGE_SIZES[0], type=int)).normalised()


def _page_url(query: inbox.InboxQuery, **cursor) -> str:
    """The inbox with the same filters, sort and page size, at `cursor` (after= / before=, or none: the first page)."""
    params = {"scope": query.scope, "process": query.process, "unit": query.unit, "period": query.period,
              "overdue": "1" if query.overdue else None, "sort": query.sort,
              "per_page": query.per_page if query.per_page != inbox.PAGE_SIZES[0] else None, **cursor}
    return url_for("inbox.index", **{k: v for k, v in params.items() if v not in (None, "", "all", "due")})


def _row_urls() -> dict:
    return {name: id_url(endpoint, "task_id") for name, endpoint in (
        ("show", "task.show"), ("claim", "inbox.claim"), ("unclaim", "inbox.unclaim"), ("delegate", "task.delegate"))}


@bp.get("/tasks")
@login_required
def index():
    """My open tasks and my groups', with filters (process, unit, period, overdue), sort and pages."""
    result = inbox.page(runtime(), current_actor(), _query())
    query = result.query
    filtered = any((query.process, query.unit, query.period, query.overdue, query.scope != "all"))
    # "Previous" needs the first row's key; on an empty page past the end only "first page" remains.
    prev_url = _page_url(query, before=result.prev_before) if result.prev_before else None
    return render_template("inbox/tasks.html", result=result, rows=result.rows, query=query, filtered=filtered,
                           page_sizes=inbox.PAGE_SIZES, prev_url=prev_url, row_url=_row_urls(),
                           first_url=_page_url(query) if result.has_prev else None,
                           next_url=_page_url(query, after=result.next_after) if result.has_next else None)


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
