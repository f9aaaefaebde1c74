"""Score entry for evaluation groups: download the period's workbook, upload it filled in."""
from __future__ import annotations

from io import BytesIO

from flask import Blueprint, render_template, request, send_file
from flask_babel import gettext as _
from flask_login import login_required

from engine.models.scoring import AREAS
from engine.services import score_sheets
from engine.periods import last_month
from engine.services.score_sheets_import import ScoreSheetRejected
from web.auth_user import current_actor, runtime
from web.i18n import current_language

bp = Blueprint("scores", __name__, url_prefix="/scores")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _page(status: int = 200, **context):
    language = current_language()
    groups = [(code, names[1] if language.startswith("en") else names[0]) for code, names in AREAS.items()]
    period = request.values.get("period") or last_month(runtime().clock.now(), runtime().settings.timezone)
    return render_template("scores/index.html", groups=groups, period=period,
                           group=request.values.get("group", ""), **context), status


@bp.get("")
@login_required
def index():
    """The page with the template download and the upload form."""
    return _page()


@bp.get("/template")
@login_required
def template():
    """The workbook for a period (and optionally one group), as an .xlsx download."""
    period, group = request.args.get("period", ""), request.args.get("group") or None
    data = score_sheets.write_template(runtime(), period, current_actor(), group)
    name = f"scores-{period}{'-' + group if group else ''}.xlsx"
    return send_file(BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=name)


@bp.post("/import")
@login_required
def upload():
    """Import a filled workbook; every problem is listed and nothing is written if there is one."""
    upload = request.files.get("workbook")
    if upload is None or not upload.filename:
        return _page(422, problems=[_("请选择要上传的成绩表（.xlsx）")])
    language = current_language()
    try:
        report = score_sheets.import_scores(runtime(), upload.read(), upload.filename, current_actor())
    except ScoreSheetRejected as rejected:
        return _page(422, summary=rejected.text(language),
                     problems=[problem.message.text(language) for problem in rejected.problems])
    return _page(report=report.lines(language))
