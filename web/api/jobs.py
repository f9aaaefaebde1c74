"""/api/v1/jobs: exports as background jobs (engine/services/jobs.py). POST starts one, GET tells how
far it is and, once done, where its file is; only who asked (and administrators) see a job. The
API's synchronous downloads (/api/v1/org/export, /api/v1/audit/export.xlsx, ...) stay for scripts."""
from __future__ import annotations

from io import BytesIO

from flask import send_file, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from engine.services import jobs
from web.api.auth import api_actor
from web.auth_user import runtime
from web.i18n import current_language
from web.schemas.common import BINARY
from web.schemas.jobs import JobSchema, JobStartArgs

blp = Blueprint("api_jobs", __name__, url_prefix="/jobs", description="后台任务 / background jobs")


def _language() -> str:
    return "en" if current_language().startswith("en") else "zh"


def _body(job: jobs.JobView) -> dict:
    language = _language()
    return {**job.as_dict(language),
            "download": url_for("api_jobs.JobDownload", job_id=job.id) if job.has_file else None}


@blp.route("")
class JobList(MethodView):
    @blp.arguments(JobStartArgs)
    @blp.response(202, JobSchema)
    def post(self, args):
        """Start an export as a job; poll GET /jobs/{id} until `status` is done, then fetch `download`."""
        kind = args.pop("kind")
        params = {"language": _language(), **args}
        if kind == "tracker_export":
            params = {"language": params["language"], "filters": {}}
        job_id = jobs.start(runtime(), kind, api_actor(), params)
        return _body(jobs.view(runtime(), api_actor(), job_id))


@blp.route("/<int:job_id>")
class Job(MethodView):
    @blp.response(200, JobSchema)
    def get(self, job_id: int):
        """Status, progress (done of total, percent, stage), the error or summary, and the download link."""
        return _body(jobs.view(runtime(), api_actor(), job_id))


@blp.route("/<int:job_id>/download")
class JobDownload(MethodView):
    @blp.response(200, BINARY, content_type="application/octet-stream",
                  description="the job's file, as its download name and type say")
    def get(self, job_id: int):
        """The finished job's file (kept for a few days)."""
        result = jobs.result_file(runtime(), api_actor(), job_id)
        response = send_file(BytesIO(result.path.read_bytes()), mimetype=result.mimetype, as_attachment=True,
                             download_name=result.filename, etag=False)
        response.headers["Cache-Control"] = "private, no-store"
        return response
