"""The demo organisation, shaped like seed 004: 13 production units, 20 non-production units and
10 party branches, each with a head, a deputy (or secretary) and staff. Loading it twice changes nothing."""
from __future__ import annotations

from sqlalchemy import select

from engine.models import EvaluationGroup, EvaluationGroupMember, OrgUnit
from engine.models.scoring import AREAS
from engine.runtime import Runtime
from engine.services.people import ensure_person, hash_password
from engine.services.result_inputs import all_periods_changed

DEMO_PASSWORD = "kaohe-demo-2026"
DEMO_CASE_KEY = "demo:task_book:P01"
PRODUCTION = ["采油一队", "采油二队", "采油三队", "采油四队", "作业一队", "作业二队", "注水站", "集输站",
              "供电队", "维修队", "运输队", "测试队", "污水处理站"]
NON_PRODUCTION = ["办公室", "人事部", "财务部", "党群工作部", "生产运行部", "安全环保部", "质量管理部",
                  "经营管理部", "企管法规部", "纪检监察部", "工会", "团委", "技术研究所", "信息中心",
                  "物资供应部", "后勤服务中心", "培训中心", "档案室", "审计部", "市场开发部"]
BRANCH_COUNT = 10
STAFF_PER_UNIT = 4
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅玉兰志新文"

# Logins named in the README and printed by `make run`.
DEMO_LOGINS = [("owner", "绩效办公室 process owner"), ("auditor", "审计员 auditor"), ("admin", "系统管理员 admin"),
               ("p01_head", "采油一队正职 unit head"), ("p01_staff1", "采油一队员工 staff"),
               ("b01_secretary", "第一党支部书记 branch secretary"), ("leader_party", "党务评价小组组长 group leader"),
               ("eval_party_1", "党务评价小组成员 group member")]


def _name(index: int) -> str:
    return SURNAMES[index % len(SURNAMES)] + GIVEN[(index * 7) % len(GIVEN)] + GIVEN[(index * 3 + 1) % len(GIVEN)]


def _unit(session, code: str, name: str, category: str, parent: OrgUnit | None,
          branch: OrgUnit | None = None) -> OrgUnit:
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    if unit is None:
        unit = OrgUnit(code=code, name=name, category=category)
        session.add(unit)
    unit.name, unit.category = name, category
    unit.parent_id = parent.id if parent else None
    unit.branch_id = branch.id if branch else None
    session.flush()
    return unit


def load_demo(rt: Runtime) -> dict[str, int]:
    """Create or refresh the demo organisation; returns how many units and people it holds."""
    # One argon2 hash serves every demo account (same password): hundreds of hashes would take seconds.
    password_hash = hash_password(DEMO_PASSWORD)
    people = 0
    with rt.db.unit_of_work() as session:
        root = _unit(session, "ORG", "示范集团公司", "organisation", None)
        committee = _unit(session, "PC", "公司党委", "organisation", root)
        branches = [_unit(session, f"B{i:02d}", f"第{'一二三四五六七八九十'[i - 1]}党支部", "party_branch",
                          committee) for i in range(1, BRANCH_COUNT + 1)]
        for i, branch in enumerate(branches, 1):
            people += _staff(session, branch, f"b{i:02d}", password_hash, secretary=True)
        for prefix, names, category in (("P", PRODUCTION, "production"), ("N", NON_PRODUCTION, "non_production")):
            for i, name in enumerate(names, 1):
                branch = branches[(i - 1) % BRANCH_COUNT]
                unit = _unit(session, f"{prefix}{i:02d}", name, category, root, branch)
                people += _staff(session, unit, f"{prefix.lower()}{i:02d}", password_hash)
        people += _evaluation_groups(session, root, password_hash)
        for username, display, roles in (("owner", "绩效办公室主任", ("process_owner", "staff")),
                                         ("auditor", "审计员", ("auditor",)), ("admin", "系统管理员", ("admin",))):
            ensure_person(session, username, display, password_hash=password_hash, unit_code="ORG", roles=roles)
            people += 1
        units = len(branches) + len(PRODUCTION) + len(NON_PRODUCTION) + 2
        all_periods_changed(session)
    from engine.services.demo_scores import load_demo_scores
    return {"units": units, "people": people, "cases": _start_demo_cases(rt), "scored": load_demo_scores(rt)}


def _evaluation_groups(session, root: OrgUnit, password_hash: str) -> int:
    """The six evaluation groups of seed 004, each led by a member of the leadership, two members each."""
    people = 0
    for n, (code, (area_zh, _en)) in enumerate(AREAS.items()):
        leader = ensure_person(session, f"leader_{code}", _name(500 + n), password_hash=password_hash,
                               unit_code=root.code, position="head", party_status="member",
                               roles=("eval_leader", "staff"))
        group = session.scalar(select(EvaluationGroup).where(EvaluationGroup.code == code))
        if group is None:
            group = EvaluationGroup(code=code, name=f"{area_zh}评价小组")
            session.add(group)
        group.leader_id = leader.id
        session.flush()
        for m in (1, 2):
            member = ensure_person(session, f"eval_{code}_{m}", _name(600 + n * 2 + m), password_hash=password_hash,
                                   unit_code=root.code, party_status="member", roles=("eval_member", "staff"))
            if session.get(EvaluationGroupMember, (group.id, member.id)) is None:
                session.add(EvaluationGroupMember(group_id=group.id, person_id=member.id))
        people += 3
    session.flush()
    return people


def _start_demo_cases(rt: Runtime) -> int:
    """One monthly task book for 采油一队, so the demo logins find work waiting (once, never twice)."""
    from engine.models import ProcessInstance, ProcessVersion
    from engine.runtime import SYSTEM
    from engine.services import instances
    with rt.db.reading() as session:
        deployed = session.scalar(select(ProcessVersion.id).where(ProcessVersion.process_id == "task_book"))
        started = session.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key == DEMO_CASE_KEY))
    if deployed is None or started is not None:
        return 0
    instances.start(rt, "task_book", SYSTEM, data={"unit_code": "P01", "branch_code": "B01"},
                    title="采油一队 月度任务书（示范）", business_key=DEMO_CASE_KEY)
    return 1


def _staff(session, unit: OrgUnit, prefix: str, password_hash: str, secretary: bool = False) -> int:
    seed = sum(map(ord, unit.code)) * 11
    if secretary:
        ensure_person(session, f"{prefix}_secretary", _name(seed), password_hash=password_hash, unit_code=unit.code,
                      position="head", party_status="member", roles=("branch_secretary", "staff"))
        return 1
    ensure_person(session, f"{prefix}_head", _name(seed), password_hash=password_hash, unit_code=unit.code,
                  position="head", party_status="member", roles=("unit_head", "staff"))
    ensure_person(session, f"{prefix}_deputy", _name(seed + 1), password_hash=password_hash, unit_code=unit.code,
                  position="deputy", party_status="member", roles=("unit_deputy", "staff"))
    for n in range(1, STAFF_PER_UNIT + 1):
        ensure_person(session, f"{prefix}_staff{n}", _name(seed + 1 + n), password_hash=password_hash,
                      unit_code=unit.code, party_status=("member", "activist", "none")[n % 3], roles=("staff",))
    return 2 + STAFF_PER_UNIT
