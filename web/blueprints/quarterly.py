"""The quarter's public display (公示) of good achievements, and the interview tracker."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required
from sqlalchemy import select

from engine.errors import PermissionDenied
from engine.models import OrgUnit
from engine.periods import last_month, months_of
from engine.services.achievements import interview_progress, publicity
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
    """The office and auditors see everyone; a unit head sees their own unit."""
    rt, actor = runtime(), current_actor()
    unit_code = None
    if not actor.has_role("process_owner", "admin", "auditor"):
        if not actor.has_role("unit_head") or actor.unit_id is None:
            raise PermissionDenied("只有绩效办公室、审计员和部门正职可以查看面谈进度",
                                   "only the performance office, auditors and unit heads see interview progress")
        with rt.db.reading() as session:
            unit_code = session.scalar(select(OrgUnit.code).where(OrgUnit.id == actor.unit_id))
    quarter = _quarter()
    return render_template("quarterly/interviews.html", quarter=quarter,
                           progress=interview_progress(rt, quarter, unit_code))
