"""Results of a month or a quarter: rankings per category, one unit, one person (the workbook is a
background job, web/blueprints/jobs.py). What each person may see is decided by
engine.services.result_access; the views only render."""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from engine.models.scoring import AREAS
from engine.periods import last_month, months_of, shift_month
from engine.scoring import RATER_ROLES
from engine.services import result_jobs, result_views
from web import charts
from web.auth_user import current_actor, runtime
from web.i18n import current_language

bp = Blueprint("results", __name__, url_prefix="/results")


def _language() -> str:
    return "en" if current_language().startswith("en") else "zh"


@bp.errorhandler(result_jobs.ResultsPending)
def pending(error: result_jobs.ResultsPending):
    """Nothing stored for the period yet (a work queue computes it): its progress instead of the page."""
    label = error.updating.label
    return render_template("results/pending.html", page=error.updating, updating=error.updating,
                           picker=_picker(label), lang=_language()), 202


def _label() -> str:
    """?period=2026-03 or ?quarter=2026Q1; by default last month (what was just evaluated)."""
    rt = runtime()
    label = (request.args.get("quarter") or request.args.get("period") or "").strip()
    if not label:
        label = last_month(rt.clock.now(), rt.settings.timezone)
    months_of(label)  # a malformed period is a clear 422 naming it
    return label


def _picker(label: str) -> dict:
    """What the period picker offers: the month shown (or the quarter's last), neighbours, recent quarters."""
    rt = runtime()
    month = months_of(label)[-1]
    newest = last_month(rt.clock.now(), rt.settings.timezone)
    quarters = []
    for back in range(0, 24, 3):
        m = shift_month(newest, -back)
        quarters.append(f"{m[:4]}Q{(int(m[5:]) - 1) // 3 + 1}")
    return {"month": month, "previous": shift_month(month, -1), "next": shift_month(month, 1),
            "quarters": list(dict.fromkeys(quarters)), "is_quarter": "Q" in label,
            "args": {"quarter": label} if "Q" in label else {"period": label}}


@bp.app_template_filter("score")
def score(value, places: int = 2) -> str:
    """A score as people read it: two places; a dash when there is none."""
    if value is None:
        return "—"
    return f"{Decimal(value):.{places}f}"


@bp.app_template_filter("signed")
def signed(value, places: int = 2) -> str:
    """Points and percentages with their sign: +2.00, −1.00; nothing for zero."""
    if value is None or Decimal(value) == 0:
        return "—"
    return f"{Decimal(value):+.{places}f}".replace("-", "−")


@bp.app_template_filter("rater_role")
def rater_role(code: str) -> str:
    zh, en = RATER_ROLES.get(code, (code, code))
    return en if current_language() == "en" else zh


@bp.get("")
@login_required
def index():
    """The rankings (as far as the actor may see them), the distributions, and the actor's own result."""
    label = _label()
    page = result_views.results_page(runtime(), current_actor(), label)
    histograms = {table.category: charts.histogram(table.histogram) for table in page.tables}
    return render_template("results/index.html", page=page, histograms=histograms, picker=_picker(label),
                           area_names=AREAS, updating=page.updating, lang=_language())


@bp.get("/units/<code>")
@login_required
def unit(code: str):
    """One unit: its score taken apart, adjustments with reasons, its people, and its trend."""
    label = _label()
    months = request.args.get("months", "12")
    count = int(months) if months.isdigit() else 12
    page = result_views.unit_page(runtime(), current_actor(), label, code, count)
    trend_months = [p.month for p in page.trend]
    return render_template("results/unit.html", page=page, picker=_picker(label), months=count,
                           updating=page.updating, lang=_language(),
                           score_chart=charts.line_chart(trend_months, [p.fused for p in page.trend]),
                           rank_chart=charts.line_chart(trend_months, [p.rank for p in page.trend],
                                                        inverted=True))


@bp.get("/people/<username>")
@login_required
def person(username: str):
    """One person: ratings by rater role with their weights, the political check, the score."""
    label = _label()
    page = result_views.person_page(runtime(), current_actor(), label, username)
    return render_template("results/person.html", page=page, picker=_picker(label), updating=page.updating,
                           lang=_language())


@bp.get("/updating")
@login_required
def updating():
    """How far the period's recompute is, for results_updating.js: only a percentage and a stage,
    never a figure of the results, so whoever may open a results page may ask."""
    label = _label()
    job = result_jobs.status(runtime(), label)
    language = _language()
    if job is None:
        return jsonify(label=label, status="done", finished=True, percent=100, stage="", message="")
    message = {"failed": job.error(language), "done": ""}.get(
        job.status, _("结果正在更新（%(percent)s%%）…", percent=job.percent))
    return jsonify(label=label, status=job.status, finished=job.finished, percent=job.percent,
                   stage=job.stage(language), message=message)
