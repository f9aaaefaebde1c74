"""Background jobs: exports and imports that take minutes at 100,000 people run outside the request.

`submit` writes a job row in the caller's unit of work; after the commit it is handed to whoever runs
work here (KAOHE_WORK_QUEUE, engine/services/work_queue.py: inline, thread, scheduler or celery with
the task `kaohe.run_job`). `run` claims the job, runs its kind (engine/services/job_kinds.py) with a
progress callback, and leaves a file under settings.files_dir/jobs (with its download name and type)
or a JSON summary, or an error in Chinese and English. The work only records its figures in memory; a
reporter thread writes them (and a heartbeat) to the row in short transactions of its own, so the
work never waits for its progress to be saved. `sweep` takes up jobs whose runner died (no heartbeat
for STALLED_AFTER), jobs nobody picked up, and deletes result files after RESULT_DAYS.

Only the person who asked (and administrators) may see a job and download its result.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from engine.errors import KaoheError, NotFound, PermissionDenied
from engine.models.job import JOB_STATUSES, Job
from engine.runtime import Actor, Runtime
from engine.services import audit, work_queue

log = logging.getLogger(__name__)
# A running job whose heartbeat has not moved for this long lost its runner: take it up again.
STALLED_AFTER = timedelta(minutes=2)
# A queued job nobody took (a lost message, a process that ended before its thread ran it).
UNCLAIMED_AFTER = timedelta(seconds=30)
HEARTBEAT_SECONDS = 15.0
REPORT_SECONDS = 0.5
MAX_ATTEMPTS = 3
RESULT_DAYS = 3
JOBS_DIR = "jobs"
VIEWERS = ("admin",)  # besides the person who asked


@dataclass
class Outcome:
    """What a job leaves: a file (bytes, download name, content type) and/or a summary."""
    content: bytes | None = None
    filename: str | None = None
    mimetype: str | None = None
    summary: dict = field(default_factory=dict)


class JobRefused(KaoheError):
    """The work refused its input (an import's rows); `summary` lists what the person must fix."""

    code = "validation_failed"

    def __init__(self, error: KaoheError, summary: dict):
        super().__init__(error.message.zh, error.message.en)
        self.summary = summary


def actor_params(actor: Actor) -> dict:
    return {"username": actor.username, "person_id": actor.person_id, "unit_id": actor.unit_id,
            "roles": sorted(actor.roles), "token_id": actor.token_id}


def _actor(params: dict) -> Actor:
    saved = params["actor"]
    return Actor(saved["username"], saved["person_id"], saved["unit_id"], frozenset(saved["roles"]),
                 saved.get("token_id"))


def _files_root(rt: Runtime) -> Path:
    root = Path(rt.settings.files_dir) / JOBS_DIR
    root.mkdir(parents=True, exist_ok=True)
    return root


def submit(rt: Runtime, session: Session, kind: str, actor: Actor, params: dict,
           upload: bytes | None = None, *, audited: bool = True) -> int:
    """Write the job in the caller's unit of work; it is handed over after the commit.
    The kind's own check runs first, so a person who may not do the work is refused at once.
    `audited=False` for the system's own work (recomputing results): nobody did anything."""
    from engine.services.job_kinds import KINDS
    if kind not in KINDS:
        raise NotFound(f"没有这种后台任务：{kind}", f"no such background job: {kind}")
    KINDS[kind].check(rt, actor, params)
    saved = {**params, "actor": actor_params(actor)}
    if upload is not None:  # the uploaded file waits on disk, not in the row: it may be many megabytes
        name = f"input-{secrets.token_hex(12)}"
        (_files_root(rt) / name).write_bytes(upload)
        saved["input"] = name
    now = rt.clock.now()
    job = Job(kind=kind, params=json.dumps(saved, ensure_ascii=False), requested_by=actor.username,
              status="queued", done=0, total=0, attempts=0, created_at=now, updated_at=now)
    session.add(job)
    session.flush()
    job_id = job.id
    # Who exported or imported what is worth a line in the trail (the work records its own outcome).
    if audited:
        audit.record(session, at=now, actor=actor, action="job_submitted", subject=kind,
                     detail={"job": job_id, **{k: v for k, v in params.items() if k != "filename"},
                             **({"file": params["filename"]} if "filename" in params else {})})
    session.info.setdefault("after_commit", []).append(lambda: dispatch(rt, job_id))
    return job_id


def start(rt: Runtime, kind: str, actor: Actor, params: dict, upload: bytes | None = None) -> int:
    """Submit a job in a unit of work of its own (the pages, the API); returns its id."""
    with rt.db.unit_of_work() as session:
        return submit(rt, session, kind, actor, params, upload)


def dispatch(rt: Runtime, job_id: int) -> None:
    def send() -> None:
        from engine.worker import queue_job
        queue_job(job_id)
    work_queue.hand_over(rt, f"job {job_id}", lambda: run(rt, job_id), send)


def _claim(rt: Runtime, job_id: int) -> Job | None:
    """Take a queued job, or a running one whose runner stopped beating; None when another runs it."""
    now = rt.clock.now()
    with rt.db.unit_of_work() as session:
        claimed = session.execute(update(Job).where(Job.id == job_id, or_(
            Job.status == "queued", and_(Job.status == "running", Job.updated_at < now - STALLED_AFTER)))
            .values(status="running", attempts=Job.attempts + 1, started_at=now, updated_at=now)).rowcount
        return session.get(Job, job_id) if claimed else None


class _Reporter:
    """Keeps the work's latest figures and writes them, with a heartbeat, from a thread of its own."""

    def __init__(self, rt: Runtime, job_id: int):
        self.rt, self.job_id = rt, job_id
        self.latest: tuple[int, int, str, str] | None = None
        self.written: tuple[int, int, str, str] | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"kaohe-job-{job_id}", daemon=True)

    def report(self, done: int, total: int, stage_zh: str, stage_en: str) -> None:
        self.latest = (done, total, stage_zh, stage_en)

    def _loop(self) -> None:
        beat = 0.0
        while not self.stop.wait(REPORT_SECONDS):
            beat += REPORT_SECONDS
            if self.latest != self.written or beat >= HEARTBEAT_SECONDS:
                self._write()
                beat = 0.0

    def _write(self) -> None:
        latest = self.latest
        values = {"updated_at": self.rt.clock.now()}
        if latest is not None:
            done, total, zh, en = latest
            values.update(done=done, total=total, stage_zh=zh[:200], stage_en=en[:200])
        try:
            with self.rt.db.unit_of_work() as session:
                session.execute(update(Job).where(Job.id == self.job_id, Job.status == "running").values(**values))
            self.written = latest
        except Exception:  # progress is a courtesy: a busy database must not stop the work
            log.warning("job %s: progress not saved this time", self.job_id, exc_info=True)

    def __enter__(self) -> "_Reporter":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def run(rt: Runtime, job_id: int) -> str | None:
    """Run the job if nobody else does; returns its final status (None when it was not ours to run)."""
    from engine.services.job_kinds import KINDS
    job = _claim(rt, job_id)
    if job is None:
        return None
    params = json.loads(job.params)
    if job.attempts > MAX_ATTEMPTS:
        _finish(rt, job_id, params, "failed", error=(
            f"任务已中断 {MAX_ATTEMPTS} 次，不再重试；请重新提交", f"the job was interrupted {MAX_ATTEMPTS} times "
            "and is not tried again; please submit it again"))
        return "failed"
    upload = _files_root(rt) / params["input"] if params.get("input") else None
    try:
        with _Reporter(rt, job_id) as reporter:
            outcome = KINDS[job.kind].run(rt, _actor(params), params, upload, reporter.report)
    except JobRefused as refused:
        _finish(rt, job_id, params, "failed", summary=refused.summary,
                error=(refused.message.zh, refused.message.en))
        return "failed"
    except KaoheError as error:
        _finish(rt, job_id, params, "failed", error=(error.message.zh, error.message.en))
        return "failed"
    except OperationalError:  # the database went away: leave it running, the sweep tries again
        log.exception("job %s: database unavailable; it will be resumed", job_id)
        raise
    except Exception:
        log.exception("job %s (%s) failed", job_id, job.kind)
        _finish(rt, job_id, params, "failed", error=(
            f"任务意外出错（编号 {job_id}），详情见服务器日志；请联系系统管理员",
            f"the job failed unexpectedly (number {job_id}); the server log has the details; "
            "please tell an administrator"))
        return "failed"
    _finish(rt, job_id, params, "done", outcome=outcome)
    return "done"


def _finish(rt: Runtime, job_id: int, params: dict, status: str, *, outcome: Outcome | None = None,
            summary: dict | None = None, error: tuple[str, str] | None = None) -> None:
    values: dict = {"status": status, "finished_at": rt.clock.now(), "updated_at": rt.clock.now()}
    if outcome is not None:
        summary = outcome.summary
        if outcome.content is not None:
            name = f"{job_id}-{secrets.token_hex(8)}{Path(outcome.filename or '').suffix}"
            partial = _files_root(rt) / f"{name}.part"
            partial.write_bytes(outcome.content)
            os.replace(partial, _files_root(rt) / name)  # a download never sees half a file
            values.update(result_path=f"{JOBS_DIR}/{name}", result_name=outcome.filename,
                          result_type=outcome.mimetype)
    if summary:
        values["summary"] = json.dumps(summary, ensure_ascii=False, default=str)
    if error is not None:
        values.update(error_zh=error[0], error_en=error[1])
    with rt.db.unit_of_work() as session:
        job = session.get(Job, job_id)
        if status == "done":
            values["done"] = values["total"] = max(job.total, job.done, 1)
        session.execute(update(Job).where(Job.id == job_id).values(**values))
    if params.get("input"):
        (_files_root(rt) / params["input"]).unlink(missing_ok=True)


def sweep(rt: Runtime) -> list[int]:
    """Run again what lost its runner (or, with KAOHE_WORK_QUEUE=scheduler, everything queued), and
    delete result files older than RESULT_DAYS. The scheduler calls it every few seconds."""
    now = rt.clock.now()
    waiting = Job.status == "queued"
    if rt.settings.work_queue != "scheduler":
        waiting = and_(waiting, Job.created_at < now - UNCLAIMED_AFTER)
    stalled = and_(Job.status == "running", Job.updated_at < now - STALLED_AFTER)
    with rt.db.reading() as session:
        ids = list(session.scalars(select(Job.id).where(or_(waiting, stalled)).order_by(Job.id)))
    for job_id in ids:
        if rt.settings.work_queue in ("scheduler", "inline"):
            try:
                run(rt, job_id)
            except Exception:
                log.exception("job %s stopped; it will be resumed", job_id)
        else:
            dispatch(rt, job_id)
    delete_expired(rt)
    return ids


def delete_expired(rt: Runtime) -> int:
    """Result files are copies for downloading, not records: they go after RESULT_DAYS."""
    with rt.db.unit_of_work() as session:
        expired = session.execute(select(Job.id, Job.result_path).where(
            Job.result_path.is_not(None), Job.finished_at < rt.clock.now() - timedelta(days=RESULT_DAYS))).all()
        for _job_id, path in expired:
            (Path(rt.settings.files_dir) / path).unlink(missing_ok=True)
        if expired:
            session.execute(update(Job).where(Job.id.in_([job_id for job_id, _ in expired]))
                            .values(result_path=None))
    return len(expired)


@dataclass(frozen=True)
class JobView:
    id: int
    kind: str
    requested_by: str
    status: str
    done: int
    total: int
    stage_zh: str | None
    stage_en: str | None
    has_file: bool
    file_expired: bool
    result_name: str | None
    summary: dict | None
    error_zh: str | None
    error_en: str | None
    created_at: object
    finished_at: object

    @property
    def percent(self) -> int | None:
        """None while the stage has nothing to count (the page shows a moving bar then)."""
        if self.status == "done":
            return 100
        return int(self.done * 100 / self.total) if self.total else None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    def status_text(self, language: str = "zh") -> str:
        zh, en = JOB_STATUSES.get(self.status, (self.status, self.status))
        return en if language.startswith("en") else zh

    def stage(self, language: str = "zh") -> str:
        return (self.stage_en if language.startswith("en") else self.stage_zh) or ""

    def error(self, language: str = "zh") -> str | None:
        return self.error_en if language.startswith("en") else self.error_zh

    def as_dict(self, language: str = "zh") -> dict:
        data = asdict(self)
        data.update(percent=self.percent, finished=self.finished, status_text=self.status_text(language),
                    stage=self.stage(language), error=self.error(language))
        return data


def _visible(session: Session, actor: Actor, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"没有编号为 {job_id} 的后台任务", f"no background job {job_id}")
    if job.requested_by != actor.username and not actor.has_role(*VIEWERS):
        raise PermissionDenied("只有发起任务的人和系统管理员可以查看该任务及其结果",
                               "only the person who asked and administrators may see this job and its result")
    return job


def view(rt: Runtime, actor: Actor, job_id: int) -> JobView:
    with rt.db.reading() as session:
        job = _visible(session, actor, job_id)
        return JobView(job.id, job.kind, job.requested_by, job.status, job.done, job.total, job.stage_zh,
                       job.stage_en, job.result_path is not None, job.status == "done" and job.result_name is not None
                       and job.result_path is None, job.result_name,
                       json.loads(job.summary) if job.summary else None, job.error_zh, job.error_en,
                       job.created_at, job.finished_at)


@dataclass(frozen=True)
class ResultFile:
    path: Path
    filename: str
    mimetype: str


def result_file(rt: Runtime, actor: Actor, job_id: int) -> ResultFile:
    """The job's file for the person who asked; a clear error while it runs or once it was deleted."""
    with rt.db.reading() as session:
        job = _visible(session, actor, job_id)
        path, name, mimetype, status = job.result_path, job.result_name, job.result_type, job.status
    if status != "done" or name is None:
        raise NotFound("该任务尚未完成，或没有生成文件", "the job has not finished, or made no file")
    full = Path(rt.settings.files_dir) / path if path else None
    if full is None or not full.is_file():
        raise NotFound(f"结果文件已在 {RESULT_DAYS} 天后删除；请重新导出",
                       f"the result file was deleted after {RESULT_DAYS} days; please export again")
    return ResultFile(full, name, mimetype or "application/octet-stream")
