"""Score entry for evaluation groups: download the period's workbook, upload it filled in."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from engine.models.scoring import AREAS
from engine.periods import last_month
from web.auth_user import runtime
from web.i18n import current_language

bp = Blueprint("scores", __name__, url_prefix="/scores")


@bp.get("")
@login_required
def index():
    """The page with the workbook and upload forms; both start a background job (web/blueprints/jobs.py)."""
    language = current_language()
    groups = [(code, names[1] if language.startswith("en") else names[0]) for code, names in AREAS.items()]
    period = request.args.get("period") or last_month(runtime().clock.now(), runtime().settings.timezone)
    return render_template("scores/index.html", groups=groups, period=period, group=request.args.get("group", ""))
