"""The evaluation calendar as the performance office sees it: what fires next, what fired."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required
from sqlalchemy import select

from engine.calendar import JOBS, next_firings, parse_time_of_day
from engine.errors import PermissionDenied
from engine.models import ScheduledFiring
from engine.services.working_days import non_working_days
from web.auth_user import current_actor, runtime

bp = Blueprint("schedule", __name__, url_prefix="/schedule")


@bp.get("")
@login_required
def index():
    """The next 12 firings, the last 20 that fired, and this year's non-working days."""
    rt, actor = runtime(), current_actor()
    if not actor.has_role("process_owner", "admin", "auditor"):
        raise PermissionDenied("只有绩效办公室和审计员可以查看考核日历",
                               "only the performance office and auditors see the calendar")
    now = rt.clock.now()
    upcoming = next_firings(now, rt.settings.timezone, 12, parse_time_of_day(rt.settings.calendar_time))
    with rt.db.reading() as session:
        fired = session.scalars(select(ScheduledFiring).where(ScheduledFiring.status != "anchor")
                                .order_by(ScheduledFiring.scheduled_for.desc()).limit(20)).all()
    return render_template("schedule/index.html", upcoming=upcoming, fired=fired, jobs=JOBS,
                           holidays=non_working_days(rt, now.year))
