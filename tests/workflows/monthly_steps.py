"""The steps the monthly-cycle tests take: the demo month (December 2026), moving the clock and
firing what fell due in the cycle and its children, completing each kind of child task in bulk,
and entering every unit's scores."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.clock import FixedClock
from engine.models import HumanTask, OrgUnit, ProcessInstance, ScoreEntry
from engine.runtime import SYSTEM, Runtime
from engine.services import instances, schemes, tasks
from engine.services.demo import NON_PRODUCTION, PRODUCTION
from engine.services.execution import fetch_instance, load_workflow
from engine.services.schemes import scheme_for_period
from engine.services.unit_scores import areas_by_category

CST = timezone(timedelta(hours=8))
PERIOD = "2026-12"
START = datetime(2026, 11, 30, 9, 0, tzinfo=CST)  # the task-issuing meeting for December
UNITS = [f"p{n:02d}" for n in range(1, len(PRODUCTION) + 1)] + [f"n{n:02d}" for n in range(1, len(NON_PRODUCTION) + 1)]
HEADS = [f"{code}_head" for code in UNITS]
SECRETARIES = [f"b{n:02d}_secretary" for n in range(1, 11)]
LEADERS = [f"leader_{code}" for code in ("party", "operations", "safety", "environment", "service", "tertiary")]

DRAFT = {"key_tasks": "1. 完成月度生产任务\n2. 安全检查零隐患", "indicators": "产量 40%，安全 30%，党建 30%"}
FOCUS = {"focus_points": ["冬季安全生产", "三会一课记录完整"]}
SPOT_ERROR = {"unit_code": "P01", "kind": "error", "points": 2, "reason": "交接班记录缺 12 月 8 日夜班",
              "evidence": ["交接班记录本第 31 页"]}
SPOT_LIKE = {"unit_code": "N01", "kind": "like", "points": 3, "reason": "主动协调解决供暖故障",
             "evidence": ["值班记录", "现场照片 2 张"]}
DECLARATION = {"items": [{"title": "完成冬季设备检修", "task_source": "月度任务书第 2 项：设备完好率",
                          "self_rating": "良好", "detail": "提前 3 天完成 12 台抽油机检修"}]}
POLITICAL = {"findings": [], "checked_all": True}
PRESENTATION = {"problem_analysis": "安全基础管理薄弱，交接班记录不规范，班组学习流于形式",
                "measures": "1. 每周检查交接班记录\n2. 班组学习纳入月度任务书考核", "commitment": "2027-02-28"}
FEEDBACK = {"meeting_held": True, "meeting_date": "2027-01-18", "interviews": []}

PLAN, FOCUS_TASK, SPOT, ACK = "编制月度任务书", "发布本月考核重点", "旬抽查", "确认检查记录"
POLITICAL_TASK, DECLARE, RATE, SCORE = "政治素质负面清单评价", "填报工作实绩", "评价工作实绩", "考核组评分"
REVIEW, PRESENT, MEETING_OK, FEED_BACK = "审核月度考核结果", "末位表态发言", "会议确认", "反馈考核结果"


# ----------------------------------------------------------------------------- helpers
def at(rt, moment: datetime) -> Runtime:
    """The same database seen by a runtime whose clock reads `moment` (keeps actor and cycle)."""
    later = Runtime(rt.settings, database=rt.db, clock=FixedClock(moment))
    later.actor, later.cycle = rt.actor, getattr(rt, "cycle", None)
    return later


def wake(rt, moment: datetime) -> Runtime:
    """Move the clock to `moment` and fire every timer that fell due, the cycle's and its children's."""
    later = at(rt, moment)
    for _ in range(5):  # firing a timer may make another one due at once (e.g. 旬末 and 月末开评)
        due = instances.due_instance_ids(later)
        if not due:
            break
        for instance_id in due:
            instances.wake(later, instance_id)
    return later


def family(rt) -> set[int]:
    """The cycle and every instance started from it, at any depth."""
    with rt.db.reading() as session:
        found, frontier = {rt.cycle}, {rt.cycle}
        while frontier:
            frontier = set(session.scalars(select(ProcessInstance.id)
                                           .where(ProcessInstance.parent_instance_id.in_(frontier)))) - found
            found |= frontier
    return found


def inbox(rt, username: str, name: str | None = None) -> list[HumanTask]:
    """`username`'s open tasks in this cycle (its own and its children's), optionally of one name."""
    mine = family(rt)
    return [t for t in tasks.inbox(rt, rt.actor(username), limit=1000)
            if t.instance_id in mine and (name is None or t.name == name)]


def names(rt, username: str) -> list[str]:
    return sorted(t.name for t in inbox(rt, username))


def do(rt, username: str, name: str, form: dict) -> None:
    """Complete every open task called `name` that `username` may take in this cycle."""
    todo = inbox(rt, username, name)
    assert todo, f"{username} has no task {name}"
    for task in todo:
        tasks.complete(rt, task.id, rt.actor(username), form)


def cycle_record(rt):
    with rt.db.reading() as session:
        return fetch_instance(session, rt.cycle)


def cycle_data(rt, instance_id: int | None = None) -> dict:
    """The cycle's data as its open branches see it (parallel branches each carry their own)."""
    with rt.db.reading() as session:
        workflow, _loaded = load_workflow(rt, session, fetch_instance(session, instance_id or rt.cycle))
        if workflow.is_completed():
            return dict(workflow.data)
        data: dict = {}
        for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            data.update(task.data)
        return data


def children(rt, spawned_by: str | None = None, instance_id: int | None = None) -> list:
    with rt.db.reading() as session:
        query = select(ProcessInstance).where(ProcessInstance.parent_instance_id == (instance_id or rt.cycle))
        if spawned_by:
            query = query.where(ProcessInstance.spawned_by == spawned_by)
        return list(session.scalars(query.order_by(ProcessInstance.id)))


def terminate_children(rt, spawned_by: str) -> int:
    """End every open child of one step, as the office would (a terminated child counts as finished)."""
    open_ = [c.id for c in children(rt, spawned_by) if c.status not in ("completed", "terminated")]
    for child in open_:
        instances.terminate(rt, child, rt.actor("owner"), "测试：批量结束")
    return len(open_)


def import_scheme(rt) -> None:
    schemes.import_scheme(rt, schemes.DEFAULT_SCHEME_FILE.read_text(encoding="utf-8"), SYSTEM)


def enter_scores(rt, period: str = PERIOD) -> None:
    """Every indicator of every active unit scored (as the groups' workbooks would), unit by unit a
    little lower so that each category has one clear last place."""
    with rt.db.unit_of_work() as session:
        scheme = scheme_for_period(session, period)
        by_category = areas_by_category(scheme)
        units = session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.category)
                                .where(OrgUnit.active.is_(True)).order_by(OrgUnit.code)).all()
        for n, (unit_id, _code, category) in enumerate(units):
            share = Decimal("0.95") - Decimal("0.01") * n
            for area in by_category.get(category, []):
                for indicator in area.indicators:
                    value = indicator.max_score * share
                    if indicator.method == "deduction":
                        value = indicator.max_score - value
                    elif indicator.method == "pass_fail":
                        value = indicator.max_score
                    session.add(ScoreEntry(period=period, unit_id=unit_id, indicator_id=indicator.id,
                                           value=value.quantize(Decimal("0.1")), entered_by="test",
                                           entered_at=rt.clock.now()))


def keep_only(rt, codes: set[str]) -> None:
    """A small organisation: every other unit of a ranked category is deactivated (a faster cycle)."""
    with rt.db.unit_of_work() as session:
        for unit in session.scalars(select(OrgUnit).where(
                OrgUnit.category.in_(("production", "non_production", "party_branch")))):
            unit.active = unit.code in codes


def start_cycle(rt) -> Runtime:
    first = at(rt, START)
    first.cycle = instances.start(first, "monthly_cycle", rt.actor("owner"), data={"period": PERIOD},
                                  title=f"{PERIOD} 月度考核", business_key=f"monthly_cycle:{PERIOD}")
    return first


def sign_task_books(rt, heads, secretaries) -> None:
    for head in heads:
        do(rt, head, PLAN, DRAFT)
        do(rt, head, "正职签字", {"head_approved": True})
    for secretary in secretaries:
        do(rt, secretary, "书记签字", {"secretary_approved": True})


def publish_focus(rt) -> None:
    for leader in LEADERS:
        do(rt, leader, FOCUS_TASK, FOCUS)


def rated(task_data: dict) -> dict:
    items = [{**item, "rating": "良好", "rating_reason": "按期完成，质量较好"} for item in task_data["items"]]
    return {"items": items, "score": 88, "comment": "继续保持"}


def declare_and_rate(rt, people: list[str]) -> None:
    for person in people:
        do(rt, person, DECLARE, DECLARATION)
    for rater in ["owner"] + sorted({p.split("_")[0] + "_head" for p in people}):
        for task in inbox(rt, rater, RATE):
            data = tasks.get(rt, task.id, rt.actor(rater)).data
            tasks.complete(rt, task.id, rt.actor(rater), rated(data))
