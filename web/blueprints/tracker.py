"""The rectification tracker (整改台账) and the cross-inspection round pages.

The engine services decide who sees what (engine/services/tracker.py, rounds.py); views only read
the query string and render."""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_login import login_required

from engine.models.tracking import STAGES
from engine.services import rounds, tracker, tracker_export
from web import readmodels
from web.auth_user import current_actor, runtime
from web.i18n import current_language

bp = Blueprint("tracker", __name__)


def _int(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    return int(value) if value.isdigit() else None


def _filters() -> tracker.Filters:
    """The filters and the position from the address; a damaged cursor is ignored (first page)."""
    stage = request.args.get("stage") or None
    return tracker.Filters(round_id=_int("round"), unit_id=_int("unit"),
                           stage=stage if stage == "open" or stage in STAGES else None,
                           overdue=request.args.get("overdue") == "1",
                           after=request.args.get("after"), before=request.args.get("before"))


def _stage_label(code: str) -> str:
    pair = STAGES.get(code, (code, code))
    return pair[1] if current_language().startswith("en") else pair[0]


@bp.get("/rectifications")
@login_required
def index():
    """Every problem the person may see, filtered, one page at a time."""
    filters = _filters()
    result = tracker.list_cases(runtime(), current_actor(), filters)
    args = {k: v for k, v in request.args.items() if k in ("round", "unit", "stage", "overdue") and v}
    return render_template("tracker/list.html", result=result, filters=filters, stages=STAGES,
                           stage_label=_stage_label, args=args,
                           first_url=url_for("tracker.index", **args) if result.has_prev else None,
                           prev_url=url_for("tracker.index", **args, before=result.prev_before)
                           if result.prev_before else None,
                           next_url=url_for("tracker.index", **args, after=result.next_after)
                           if result.has_next else None)


@bp.get("/rectifications/<int:instance_id>")
@login_required
def show(instance_id: int):
    """One problem: where it stands, its complete timeline and its diagram."""
    detail = tracker.case_detail(runtime(), current_actor(), instance_id)
    return render_template("tracker/case.html", detail=detail, case=detail.case, stage_label=_stage_label,
                           files_of=tracker_export.files_of, text_value=tracker_export.text_value)


@bp.get("/rectifications/<int:instance_id>/diagram.bpmn")
@login_required
def diagram(instance_id: int):
    """The diagram of the problem's process version, for whoever may see the problem."""
    rt = runtime()
    version_id, process_id = tracker.case_version(rt, current_actor(), instance_id)
    xml = readmodels.diagram_xml(rt, version_id, process_id)
    if xml is None:
        abort(404)
    return Response(xml, mimetype="application/xml")


@bp.get("/rounds")
@login_required
def rounds_page():
    """Every inspection round the person may open, newest first, with visits and closure."""
    page = request.args.get("page", "1")
    result = rounds.list_rounds(runtime(), current_actor(), int(page) if page.isdigit() else 1)
    return render_template("tracker/rounds.html", result=result,
                           page_url=lambda n: url_for("tracker.rounds_page", page=n))


@bp.get("/rounds/<int:instance_id>")
@login_required
def round_page(instance_id: int):
    """A cross-inspection round: assignment matrix, visits, findings, questionnaire, closure."""
    view = rounds.round_view(runtime(), current_actor(), instance_id)
    return render_template("tracker/round.html", view=view, stage_label=_stage_label, stages=STAGES)
