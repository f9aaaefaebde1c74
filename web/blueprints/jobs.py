"""Background jobs in the pages: a form starts an export or import as a job (engine/services/jobs.py),
the browser goes to the job's page, which shows a real progress bar (web/static/job.js polls the
status; a meta refresh does without script) and then the download or the import's outcome."""
from __future__ import annotations

from io import BytesIO

from flask import Blueprint, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.services import jobs
from engine.services.job_kinds import kind_name
from web.auth_user import current_actor, runtime
from web.i18n import current_language

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
# The kinds that take a file, with their upload form: a failed import's page offers it again.
UPLOAD_FORMS = {"org_import": "admin/_org_upload.html", "scores_import": "scores/_upload.html"}
# Where each kind was started from: the job page links back there.
HOME = {"org_export": "admin.org", "org_import": "admin.org", "scores_template": "scores.index",
        "scores_import": "scores.index", "results_export": "results.index", "tracker_export": "tracker.index",
        "audit_export": "inbox.index"}


def _language() -> str:
    return "en" if current_language().startswith("en") else "zh"


def _int(name: str) -> int | None:
    value = request.form.get(name, "")
    return int(value) if value.isdigit() and len(value) < 10 else None


def _params(kind: str) -> dict:
    """The job's inputs, from the form that started it (the same fields the old downloads read)."""
    form = request.form
    params: dict = {"language": _language()}
    if kind == "scores_template":
        params.update(period=form.get("period", ""), group=form.get("group") or None)
    elif kind == "audit_export":
        params["fmt"] = form.get("fmt", "xlsx")
    elif kind == "results_export":
        params["label"] = form.get("label", "")
    elif kind == "tracker_export":
        stage = form.get("stage") or None
        params["filters"] = {"round_id": _int("round"), "unit_id": _int("unit"), "stage": stage,
                             "overdue": form.get("overdue") == "1"}
    return params


@bp.post("")
@login_required
def start():
    """Start an export or import as a job and go to its page."""
    kind = request.form.get("kind", "")
    upload = None
    if kind in UPLOAD_FORMS:
        file = request.files.get("workbook")
        if file is None or not file.filename:
            flash(_("请选择要上传的文件"), "error")
            return redirect(url_for(HOME[kind]))
        upload = file.read()
    params = _params(kind)
    if upload is not None:
        params["filename"] = file.filename
    job_id = jobs.start(runtime(), kind, current_actor(), params, upload)
    return redirect(url_for("jobs.show", job_id=job_id))


@bp.get("/<int:job_id>")
@login_required
def show(job_id: int):
    """How far the job is; once finished, its file or its outcome (a failed import: the form again)."""
    job = jobs.view(runtime(), current_actor(), job_id)
    return render_template("jobs/job.html", job=job, name=kind_name(job.kind, _language()),
                           lang=_language(), home=url_for(HOME.get(job.kind, "inbox.index")),
                           retry_forms=UPLOAD_FORMS)


@bp.get("/<int:job_id>/status")
@login_required
def status(job_id: int):
    """The figures job.js polls: status, done/total, percent, stage, and the download once there is one."""
    job = jobs.view(runtime(), current_actor(), job_id)
    language = _language()
    return jsonify(id=job.id, status=job.status, status_text=job.status_text(language), done=job.done,
                   total=job.total, percent=job.percent, stage=job.stage(language), finished=job.finished,
                   error=job.error(language),
                   download=url_for("jobs.download", job_id=job.id) if job.has_file else None)


@bp.get("/<int:job_id>/download")
@login_required
def download(job_id: int):
    result = jobs.result_file(runtime(), current_actor(), job_id)
    response = send_file(BytesIO(result.path.read_bytes()), mimetype=result.mimetype, as_attachment=True,
                         download_name=result.filename, etag=False)
    response.headers["Cache-Control"] = "private, no-store"  # personal data: not kept by any cache
    return response
