"""Results recomputed by background jobs, so a results page never computes in the request.

With KAOHE_WORK_QUEUE other than `inline`, a period whose stored results are out of date (an input
changed since, engine/services/result_inputs.py) is shown as stored, with a notice, while one
`results_compute` job recomputes it; a period with nothing stored yet shows the job's progress in
place of the results (`ResultsPending`). One job per period: every request while it is queued or
running finds and reuses it (the look-up and the submit happen under a lock, see `_serialise`).
With `inline` (one process, the embedded default) the page computes as before: there is nobody
else to do it, and the person waits seconds once instead of looking at a notice.

The job is the system's own (`RESULTS_ACTOR`): nobody can start one through the jobs pages, its page
is an administrator's, and a person follows it through the results status (`status`), which only
tells how far the computation is, never a figure of the results."""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from engine.errors import KaoheError, PermissionDenied
from engine.models.job import JOB_STATUSES, Job
from engine.runtime import Actor, Runtime
from engine.services import jobs, result_store
from engine.services.result_store import Snapshot

KIND = "results_compute"
RESULTS_ACTOR = Actor("system:results")
UNFINISHED = ("queued", "running")
RECENT = 200  # finished jobs looked through for a period's last outcome (the poller's last answer)


@dataclass(frozen=True)
class Updating:
    """A recompute job of one period, as the pages and the API show it."""
    label: str
    job_id: int
    status: str
    done: int
    total: int
    stage_zh: str | None
    stage_en: str | None
    error_zh: str | None = None
    error_en: str | None = None

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return min(99, int(self.done * 100 / self.total)) if self.total else 0

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    def stage(self, language: str = "zh") -> str:
        english = language.startswith("en")
        stage = self.stage_en if english else self.stage_zh
        return stage or JOB_STATUSES.get(self.status, (self.status, self.status))[1 if english else 0]

    def error(self, language: str = "zh") -> str | None:
        return self.error_en if language.startswith("en") else self.error_zh


class ResultsPending(KaoheError):
    """Nothing is stored for the period yet: its first computation runs as a job."""

    code = "results_pending"

    def __init__(self, updating: Updating):
        super().__init__(f"{updating.label} 的考核结果正在计算（{updating.percent}%），请稍候",
                         f"the results of {updating.label} are being computed ({updating.percent}%); "
                         "please wait")
        self.updating = updating


def in_background(rt: Runtime) -> bool:
    return rt.settings.work_queue != "inline"


def snapshots(rt: Runtime, labels: list[str]) -> tuple[dict[str, Snapshot], dict[str, Updating]]:
    """The periods' snapshots as the pages show them, and the recompute job of each that is out of
    date. In the background modes a stale snapshot is returned as stored and a period with nothing
    stored is missing from the first dict; inline, every snapshot is current (computed here)."""
    if not in_background(rt):
        return result_store.snapshots(rt, labels), {}
    with rt.db.reading() as session:
        kept, stale = result_store.stored_as_they_are(session, labels)
    updating = {}
    for label in stale:
        job = ensure_job(rt, label)
        if job is not None:
            updating[label] = job
    fresh = [label for label in stale if label not in updating]
    if fresh:  # a job finished meanwhile: show what it stored
        with rt.db.reading() as session:
            kept.update(result_store.stored_as_they_are(session, fresh)[0])
    return kept, updating


def snapshot(rt: Runtime, label: str) -> tuple[Snapshot, Updating | None]:
    """One period's snapshot and its recompute job, if any; ResultsPending when nothing is stored."""
    kept, updating = snapshots(rt, [label])
    if label not in kept:
        raise ResultsPending(updating[label])
    return kept[label], updating.get(label)


def ensure_job(rt: Runtime, label: str) -> Updating | None:
    """The period's queued or running recompute job, or a new one; None when its stored results
    have become current meanwhile (a job finished between the caller's look and this one)."""
    with rt.db.reading() as session:
        found = _unfinished(session, label)  # the usual case while a job runs: no write at all
    if found is not None:
        return found
    with rt.db.unit_of_work() as session:
        _serialise(session, label)
        found = _unfinished(session, label)
        if found is not None:
            return found
        if label not in result_store.stored_as_they_are(session, [label])[1]:
            return None
        job_id = jobs.submit(rt, session, KIND, RESULTS_ACTOR, {"label": label}, audited=False)
    return Updating(label, job_id, "queued", 0, 0, None, None)


def status(rt: Runtime, label: str) -> Updating | None:
    """How far the period's newest recompute job is (None: none was ever started)."""
    with rt.db.reading() as session:
        found = _unfinished(session, label)
        if found is not None:
            return found
        rows = session.execute(_JOBS.where(Job.kind == KIND).order_by(Job.id.desc()).limit(RECENT)).all()
    return next((_updating(row) for row in rows if _label(row) == label), None)


_JOBS = select(Job.id, Job.params, Job.status, Job.done, Job.total, Job.stage_zh, Job.stage_en, Job.error_zh,
               Job.error_en)


def _label(row) -> str | None:
    return json.loads(row.params).get("label")


def _updating(row) -> Updating:
    return Updating(_label(row), row.id, row.status, row.done, row.total, row.stage_zh, row.stage_en,
                    row.error_zh, row.error_en)


def _unfinished(session: Session, label: str) -> Updating | None:
    # Few rows: at most one unfinished job per period (the job table's status index finds them).
    rows = session.execute(_JOBS.where(Job.kind == KIND, Job.status.in_(UNFINISHED)).order_by(Job.id)).all()
    return next((_updating(row) for row in rows if _label(row) == label), None)


def _serialise(session: Session, label: str) -> None:
    """Two requests in two processes must not both submit: on PostgreSQL a transaction lock per
    period (released at commit); SQLite's writing unit of work holds the database's write lock."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"{KIND}:{label}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# --- the job kind (engine/services/job_kinds.py) ------------------------------------------------

def check(rt: Runtime, actor: Actor, params: dict) -> None:
    """Only the system starts a recompute (a visit to a results page does it for the visitor)."""
    if actor.username != RESULTS_ACTOR.username:
        raise PermissionDenied("考核结果由系统在后台自动更新，无需手动启动",
                               "the results are updated by the system in the background; there is nothing to start")


def run(rt: Runtime, actor: Actor, params: dict, upload, report) -> jobs.Outcome:
    snap = result_store.refresh(rt, params["label"], progress=report)
    return jobs.Outcome(summary={"label": snap.label, "units": snap.unit_count, "people": snap.person_count})
