"""The quarter's public display (公示) of good achievements, and the interview tracker."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from engine.periods import last_month, months_of
from engine.services.achievements import interview_progress_for, publicity
from web.auth_user import current_actor, runtime

bp = Blueprint("quarterly", __name__)


def _quarter() -> str:
    """The quarter asked for, by default the one last month belongs to (what was just evaluated)."""
    rt = runtime()
    quarter = request.args.get("quarter", "").strip()
    if not quarter:
        month = last_month(rt.clock.now(), rt.settings.timezone)
        quarter = f"{month[:4]}Q{(int(month[5:]) - 1) // 3 + 1}"
    months_of(quarter)  # a malformed quarter is a clear 400, not an empty page
    return quarter


@bp.get("/publicity")
@login_required
def publicity_page():
    """公示 is public inside the organisation: every signed-in person sees every good achievement."""
    quarter = _quarter()
    return render_template("quarterly/publicity.html", quarter=quarter, items=publicity(runtime(), quarter))


@bp.get("/interviews")
@login_required
def interviews_page():
    """The office and auditors see everyone; a unit head sees their own unit (engine decides)."""
    progress = interview_progress_for(runtime(), current_actor(), _quarter())
    return render_template("quarterly/interviews.html", quarter=progress.label, progress=progress)
