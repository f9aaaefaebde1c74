"""/api/v1/results: the rankings of a month or a quarter, one unit, one person, the workbook.

What each caller may see is decided by engine.services.result_access inside result_views, exactly
as for the pages: a staff member who puts another unit's code or another person's name into the URL
gets 403 before anything is computed.

With a work queue (KAOHE_WORK_QUEUE other than inline) nothing is computed in the request: stored
results that are out of date come with `updating: true` and the recompute `job`; a period with nothing
stored yet answers 202 with the job (and Retry-After): ask the same URL again until it answers 200."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from engine.periods import last_month
from engine.services import result_jobs, result_views
from web.api.auth import api_actor
from web.auth_user import runtime
from web.i18n import current_language
from web.schemas.common import BINARY, XLSX
from web.schemas.results import (PeriodArgs, PersonResultPageSchema, ResultsJobSchema, ResultsSchema, UnitArgs,
                                 UnitResultPageSchema)

blp = Blueprint("api_results", __name__, url_prefix="/results", description="考核结果 / results")
PENDING = "nothing stored for the period yet: its computation runs as a job; ask again (Retry-After seconds)"
RETRY_AFTER = "2"


@blp.errorhandler(result_jobs.ResultsPending)
def pending(error: result_jobs.ResultsPending):
    return ResultsJobSchema().dump(error.updating), 202, {"Retry-After": RETRY_AFTER}


def _label(args: dict) -> str:
    """The period asked for (validated by the schema), or last month as the pages default to."""
    if args.get("period"):
        return args["period"]
    rt = runtime()
    return last_month(rt.clock.now(), rt.settings.timezone)


@blp.route("")
class Rankings(MethodView):
    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, ResultsSchema)
    @blp.alt_response(202, schema=ResultsJobSchema, description=PENDING)
    def get(self, args):
        """The rankings per category I may see (fused scores with their 3:7 breakdown, rewards, flags),
        where my unit stands and my own result."""
        return result_views.results_page(runtime(), api_actor(), _label(args))


@blp.route("/units/<string(maxlength=64):code>")
class UnitResults(MethodView):
    @blp.arguments(UnitArgs, location="query")
    @blp.response(200, UnitResultPageSchema)
    @blp.alt_response(202, schema=ResultsJobSchema, description=PENDING)
    def get(self, args, code: str):
        """One unit: its score by area, adjustments with reasons, its people (for its head) and its trend."""
        return result_views.unit_page(runtime(), api_actor(), _label(args), code, args["months"])


@blp.route("/people/<string(maxlength=64):username>")
class PersonResults(MethodView):
    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, PersonResultPageSchema)
    @blp.alt_response(202, schema=ResultsJobSchema, description=PENDING)
    def get(self, args, username: str):
        """One person: ratings by rater role with their weights, the political check, the score."""
        return result_views.person_page(runtime(), api_actor(), _label(args), username)


@blp.route("/export")
class ResultsExport(MethodView):
    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, BINARY, description="the workbook `kaohe results --format xlsx` writes", content_type=XLSX)
    def get(self, args):
        """Every unit and person of the period as a workbook (the office, administrators and auditors)."""
        label = _label(args)
        language = "en" if current_language() == "en" else "zh"
        data = result_views.export_xlsx(runtime(), api_actor(), label, language)
        return Response(data, mimetype=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="kaohe-results-{label}.xlsx"'})
