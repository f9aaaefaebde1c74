"""/api/v1/rounds and /api/v1/rectifications: cross-inspection rounds, their findings, and the
rectification tracker (every problem, one problem's whole trail, the workbook).

Who sees what is decided by engine/services/tracker.py and rounds.py, as for the pages: a unit head
sees their unit's problems, an inspector those they review, the office and auditors all of them."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from engine.services import rounds, tracker, tracker_export
from web.api.auth import api_actor
from web.auth_user import runtime
from web.i18n import current_language
from web.schemas.common import BINARY, XLSX, page_body
from web.schemas.tracking import (CaseDetailSchema, CasePageSchema, RectificationFilterArgs, RectificationListArgs,
                                  RectificationPageSchema, RoundListArgs, RoundPageSchema, RoundSchema)

blp = Blueprint("api_tracking", __name__, url_prefix="", description="交叉检查与整改台账 / inspections and rectifications")



def _filters(args: dict, page: int = 1) -> tracker.Filters:
    return tracker.Filters(round_id=args.get("round"), unit_id=args.get("unit"), unit_code=args.get("unit_code"),
                           stage=args.get("stage"), overdue=args["overdue"], page=page, after=args.get("after"))


def _case_page(found: tracker.CaseList, per_page: int) -> dict:
    return page_body(found.rows, page=found.page, per_page=per_page, has_next=found.has_next, total=found.total)


@blp.route("/rounds")
class RoundList(MethodView):
    @blp.arguments(RoundListArgs, location="query")
    @blp.response(200, RoundPageSchema)
    def get(self, args):
        """The cross-inspection rounds I may open, newest first, with their progress."""
        found = rounds.list_rounds(runtime(), api_actor(), args["page"], args["per_page"])
        return page_body(found.rows, page=found.page, per_page=found.per_page, has_next=found.has_next,
                         total=found.total)


@blp.route("/rounds/<int:round_id>")
class RoundItem(MethodView):
    @blp.response(200, RoundSchema)
    def get(self, round_id: int):
        """One round: the groups × units matrix, visit progress, findings, questionnaire, share closed."""
        return rounds.round_view(runtime(), api_actor(), round_id)


@blp.route("/rounds/<int:round_id>/findings")
class RoundFindings(MethodView):
    @blp.arguments(RoundListArgs, location="query")
    @blp.response(200, CasePageSchema)
    def get(self, args, round_id: int):
        """The problems the round opened, as far as I may see them in the tracker."""
        rt = runtime()
        rounds.require_round(rt, round_id)
        found = tracker.list_cases(rt, api_actor(), tracker.Filters(round_id=round_id, page=args["page"]),
                                   page_size=args["per_page"])
        return _case_page(found, args["per_page"])


@blp.route("/rectifications")
class RectificationList(MethodView):
    @blp.arguments(RectificationListArgs, location="query")
    @blp.response(200, RectificationPageSchema)
    def get(self, args):
        """Every problem I may see, filtered, most urgent first; counts per stage for the filters.

        Page with `after` = the previous page's `next_after`; `page` numbers still work."""
        found = tracker.list_cases(runtime(), api_actor(), _filters(args, args["page"]), page_size=args["per_page"])
        return {**_case_page(found, args["per_page"]), "next_after": found.next_after,
                "stage_counts": found.stage_counts,
                "overdue_total": found.overdue_total, "rounds": found.rounds, "units": found.units}


@blp.route("/rectifications/export")
class RectificationExport(MethodView):
    @blp.arguments(RectificationFilterArgs, location="query")
    @blp.response(200, BINARY, description="the filtered problems (all pages) and all their steps", content_type=XLSX)
    def get(self, args):
        """The tracker as a workbook: one sheet of problems, one of every step taken on them."""
        content = tracker_export.export_xlsx(runtime(), api_actor(), _filters(args), current_language())
        return Response(content, mimetype=XLSX,
                        headers={"Content-Disposition": "attachment; filename=rectifications.xlsx"})


@blp.route("/rectifications/<int:problem_id>")
class RectificationItem(MethodView):
    @blp.response(200, CaseDetailSchema)
    def get(self, problem_id: int):
        """One problem with its whole timeline: each step, who and when, what was submitted (evidence
        files as references), verifications, and what is still open."""
        return tracker.case_detail(runtime(), api_actor(), problem_id)
