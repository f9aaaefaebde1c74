"""The access walk's machinery: a world with one of everything, a client per persona, and a
request for every route with its path filled from the world."""
from __future__ import annotations

import re
from datetime import date
from dataclasses import asdict, dataclass
from io import BytesIO
from pathlib import Path

from sqlalchemy import func, select

from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.runtime import SYSTEM
from engine.services import api_tokens, schemes
from engine.services.demo_scores import load_demo_scores
from engine.services.working_days import add_non_working_day
from engine.services.people import actor_for, ensure_person
from engine.models import Person
from tests.support.rectifications import run_round
from tests.support.probes import SCHEME

# Who walks: a persona name → the username signing in (None: nobody signed in).
PERSONAS = {
    "anonymous": None,
    "staff": "p02_staff1",          # staff of P02, the unit whose problem the round found
    "other_staff": "p03_staff1",    # staff of another unit
    "head": "p02_head",             # P02's head
    "other_head": "p03_head",
    "inspector": "insp_wang",       # in the round's group A
    "outside_inspector": "insp_out",  # an inspector in no group of the round
    "eval_leader": "leader_{group}",  # leads an evaluation group
    "auditor": "auditor",
    "owner": "owner",               # the performance office (process owner)
    "admin": "admin",
}


@dataclass
class World:
    round_id: int
    case_id: int           # the rectification the round opened for P02
    task_id: int           # its open task (P02's head plans the fix)
    other_case_id: int     # the demo task book of P01
    period: str
    scheme_code: str
    scheme_version: int
    token_id: int
    api_token_id: int      # a second token, for the API's revoke call
    usernames: dict[str, str | None]
    job_id: int = 0        # the office's organisation export, run as a background job


def build(rt) -> World:
    """On the `tracked` runtime: a finished round, demo scores for a month, a token to revoke."""
    schemes.import_scheme(rt, SCHEME.read_text(encoding="utf-8"), SYSTEM)
    period = load_demo_scores(rt)
    with rt.db.unit_of_work() as session:
        ensure_person(session, "insp_out", "赵检查", unit_code="ORG", roles=("inspector", "staff"))
        ensure_person(session, "walk_target", "走查对象", unit_code="P02", roles=("staff",))
    round_id = run_round(rt)
    with rt.db.reading() as session:
        case_id = session.scalar(select(ProcessInstance.id).where(ProcessInstance.process_id == "rectification"))
        task_id = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == case_id,
                                                            HumanTask.status == "open"))
        other = session.scalar(select(ProcessInstance.id).where(ProcessInstance.process_id == "task_book",
                                                                ProcessInstance.unit_code == "P01"))
        leader = session.scalar(select(Person.username).where(Person.username.like("leader_%"))
                                .order_by(Person.username))
    token = api_tokens.create(rt, SYSTEM, name="walk-token", scope=["auditor"]).token
    api_token = api_tokens.create(rt, SYSTEM, name="walk-token-2", scope=["auditor"]).token
    add_non_working_day(rt, date(2026, 10, 1), "国庆节", SYSTEM)
    usernames = {p: (u.format(group=leader.removeprefix("leader_")) if u else None) for p, u in PERSONAS.items()}
    code, version = _scheme(rt)
    world = World(round_id, case_id, task_id, other, period, code, version, token.id, api_token.id, usernames)
    with rt.db.reading() as session:
        owner = actor_for(session.scalar(select(Person).where(Person.username == "owner")))
    from engine.services import jobs
    world.job_id = jobs.start(rt, "org_export", owner, {"language": "zh"})
    return world


def _scheme(rt) -> tuple[str, int]:
    from engine.models import EvaluationScheme
    with rt.db.reading() as session:
        row = session.execute(select(EvaluationScheme.code, EvaluationScheme.version)).first()
    return row.code, row.version


def path_values(world: World) -> dict[str, str]:
    """A value for every path parameter name the routes use, from the world."""
    return {
        "task_id": str(world.task_id), "instance_id": str(world.case_id), "process_id": "rectification",
        "version": "1", "filename": "rectification.bpmn", "decision_id": "monthly_rewards",
        "sha256": "0" * 64, "username": "p02_staff1", "day": "2026-10-01", "token_id": str(world.token_id),
        "code": "P02", "problem_id": str(world.case_id), "case_id": str(world.case_id),
        "round_id": str(world.round_id), "action": "suspend", "period": world.period, "fmt": "xlsx",
        "job_id": str(world.job_id),
    }


PARAM = re.compile(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([a-z_0-9]+)>")


def fill(rule: str, endpoint: str, world: World, overrides: dict[str, dict[str, str]]) -> str:
    attributes = asdict(world)
    values = {**path_values(world),
              **{k: v.format(**attributes) for k, v in overrides.get(endpoint, {}).items()}}

    def one(match):
        return values[match.group(1)]
    return PARAM.sub(one, rule)


def verdict(response, api: bool, endpoint: str) -> str:
    """What a persona got: allow, deny (403), login (sent to sign in / 401), missing (404), error (5xx)."""
    status = response.status_code
    if endpoint == "auth.logout" and status == 302 and "next=" not in response.headers.get("Location", ""):
        return "allow"  # signing out ends on the sign-in page (a signed-out caller is sent to sign in first)
    if status >= 500:
        return "error"
    if status == 401 or (not api and status == 302 and "/login" in response.headers.get("Location", "")):
        return "login"
    if status == 403:
        return "deny"
    if status == 404:
        return "missing"
    return "allow"


def sign_in(app, rt, username: str | None):
    """A test client holding a session of `username` (as the sign-in page would leave it)."""
    import time

    client = app.test_client()
    if username is None:
        return client, None
    with rt.db.reading() as session:
        person = session.scalar(select(Person).where(Person.username == username))
        actor = actor_for(person)
    with client.session_transaction() as session:
        session["_user_id"] = str(actor.person_id)
        session["_fresh"] = True
        session["signed_in_at"] = time.time()
    secret = api_tokens.create(rt, SYSTEM, name=f"walk-{username}"[:40], scope=sorted(actor.roles),
                               account=username).secret
    return client, secret


DATA = Path(__file__).resolve().parent.parent / "data"
CASE_DATA = {"problem": "走查发现的问题", "unit_code": "P02", "branch_code": "B01", "source": "走查", "severity": "一般",
             "inspector": "insp_wang", "plan_days": 5, "fix_days": 20, "follow_up_days": 30}


def _file(path: Path, name: str | None = None):
    return (BytesIO(path.read_bytes()), name or path.name)


def _bundle():
    return [_file(DATA / "review.bpmn"), _file(DATA / "self_assess.json")]


def request_body(endpoint: str, method: str, api: bool, world: World) -> dict:
    """What the call sends: a body that passes validation, so the answer shows the permission rule
    (an empty body would be refused as malformed before anyone's rights were looked at)."""
    org_csv = {"file" if api else "org_file": _file(DATA / "org" / "demo-org-units.csv")}
    bodies = {
        # Handed to its own head: P02's head keeps the task for the calls after.
        "task.delegate": {"data": {"to": "p02_head", "note": "走查"}},
        "instances.manage": {"data": {"reason": "走查"}},
        "editor.check": {"data": {"files": _bundle()}},
        "editor.deploy_files": {"data": {"files": _bundle(), "action": "deploy"}},
        "editor.upload": {"data": {"files": _bundle()}},
        "editor.form_preview": {"json": {"schema": {"type": "object", "properties": {}}}},
        "jobs.start": {"data": {"kind": "org_export"}},
        "api_jobs.JobList": {"json": {"kind": "org_export"}},
        "admin.scheme_import": {"data": {"scheme_file": (BytesIO(b"{}"), "scheme.json")}},
        "admin.holiday_add": {"data": {"day": "2026-10-02", "name": "走查"}},
        "admin.user_create": {"data": {"username": "walk_new", "display_name": "走查", "password": "long-enough-1"}},
        "admin.user_password": {"data": {"password": "long-enough-2"}},
        "admin.user_active": {"data": {"active": "0"}},
        "admin.user_roles": {"data": {"role": "auditor", "action": "add"}},
        "admin_tokens.create": {"data": {"name": "walk-new", "scope": "auditor"}},
        "api_tasks.TaskDelegate": {"json": {"to": "p02_head"}},
        "api_tasks.TaskComplete": {"json": {"data": {}}},
        "api_tasks.TaskFiles": {"data": {"file": (BytesIO(b"%PDF-1.4\n%walk\n"), "a.pdf")},
                                "query_string": {"field": "evidence"}},
        "api_instances.InstanceList": {"json": {"process_id": "rectification", "title": "走查", "data": CASE_DATA}},
        "api_instances.InstanceSuspend": {"json": {"reason": "走查"}},
        "api_instances.InstanceTerminate": {"json": {"reason": "走查"}},
        "api_processes.ProcessList": {"data": {"file": _bundle()}},
        "api_processes.ProcessCheck": {"data": {"file": _bundle()}},
        "api_org.Import": {"data": org_csv},
        "api_org.Users": {"json": {"username": "walk_api_new", "display_name": "走查", "password": "long-enough-1"}},
        "api_org.UserPassword": {"json": {"password": "long-enough-2"}},
        "api_org.UserActive": {"json": {"active": True}},  # the page call before deactivated the account
        "api_org.UserRoles": {"json": {"add": ["inspector"]}},
        "api_tokens.Tokens": {"json": {"name": "walk-api", "scope": ["auditor"]}},
    }
    if endpoint in bodies:
        return bodies[endpoint]
    return {} if method == "GET" else {"json": {}} if api else {"data": {}}


def last_event_id(rt) -> int:
    with rt.db.reading() as session:
        return session.scalar(select(func.max(AuditEvent.id))) or 0


def recorded_by(rt, after_id: int, username: str | None) -> bool:
    """Is there an audit event after `after_id` whose actor is `username` (or its token)?"""
    with rt.db.reading() as session:
        actors = session.scalars(select(AuditEvent.actor).where(AuditEvent.id > after_id)).all()
    return any(actor == username or actor.startswith(f"{username}#token") for actor in actors)
