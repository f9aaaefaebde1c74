"""Service-task operators that write what people filled in during a cycle to kaohe's tables, in the
same transaction as the step: achievement declarations with their rating, political-quality
findings, and feedback interviews. Who rated, checked or interviewed is read from the task table
(`*_in`: the id of the user task where it was done), never from data a person could type.

`kaohe/record_declaration`: period, username, items (≤ 5: title, task_source, self_rating,
detail, rating, rating_reason), score (0–100), comment, rated_in. Replaces that person's earlier
record for the period; the score counts as the direct head's rating (40% by default).

`kaohe/record_political_findings`: period, branch_code, findings ([{username, item_code, note}]),
recorded_in. Problems a person can fix (someone outside the branch, an item not on the negative
list) come back as {"recorded": 0, "problems": [...]} and nothing is written, so the diagram
can return the task with them; otherwise the branch's findings for the period are replaced.

`kaohe/record_interview`: label (2026Q4 or 2026-12), username, form (the interview as filled
in), recorded_in. Replaces an earlier record of the same person and label.

`kaohe/who_completed`: task (a user task id) -> {"username", "name", "at"} of whoever completed it.
"""
from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from sqlalchemy import delete, or_, select

from engine.bpmn import service_operators
from engine.models import AchievementItem, FeedbackInterview, OrgUnit, Person, PersonRating, PoliticalFinding
from engine.periods import months_of
from engine.errors import KaoheError
from engine.services.operator_context import (OperatorRefused, completed_by, operator_context, period_param,
                                              person_param)
from engine.services.result_inputs import inputs_changed
from engine.services.schemes import scheme_for_period

MAX_ITEMS = 5
SELF_RATINGS = ("优秀", "良好", "一般")
RATINGS = ("优秀", "良好", "一般", "较差")
GOOD = ("优秀", "良好")
DIRECT_HEAD = "direct_head"
MAX_FINDINGS = 500
MAX_INTERVIEW_CHARS = 20_000


def _text(item: dict, key: str, limit: int, position: int, *, required: bool = True) -> str | None:
    value = item.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise OperatorRefused(f"第 {position} 项缺少 {key}", f"item {position} has no {key}")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise OperatorRefused(f"第 {position} 项的 {key} 须为不超过 {limit} 字的文字",
                              f"item {position}: {key} must be text of at most {limit} characters")
    return value.strip()


def _choice(item: dict, key: str, choices: tuple[str, ...], position: int) -> str:
    value = item.get(key)
    if value not in choices:
        raise OperatorRefused(f"第 {position} 项的 {key} 须为 {'、'.join(choices)} 之一",
                              f"item {position}: {key} must be one of {', '.join(choices)}")
    return value


def _score(value) -> Decimal:
    try:
        score = Decimal(str(value)) if not isinstance(value, bool) else None
    except InvalidOperation:
        score = None
    if score is None or not score.is_finite() or not 0 <= score <= 100:
        raise OperatorRefused(f"评分须为 0–100 的数字，收到 {value!r}", f"score must be a number 0-100, not {value!r}")
    return score.quantize(Decimal("0.01"))


@service_operators.register("kaohe/record_declaration")
def record_declaration(task, params: dict) -> dict:
    rt, session, instance = operator_context()
    period = period_param(params.get("period"))
    person = person_param(session, params.get("username"))
    items = params.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS or not all(isinstance(i, dict) for i in items):
        raise OperatorRefused(f"实绩须为 1–{MAX_ITEMS} 项", f"a declaration has 1-{MAX_ITEMS} items")
    score = _score(params.get("score"))
    rater, rated_at = completed_by(session, instance.id, params.get("rated_in"))
    rows = [AchievementItem(period=period, person_id=person.id, position=n, title=_text(item, "title", 200, n),
                            task_source=_text(item, "task_source", 400, n),
                            self_rating=_choice(item, "self_rating", SELF_RATINGS, n),
                            detail=_text(item, "detail", 2000, n, required=False),
                            rating=_choice(item, "rating", RATINGS, n),
                            rating_reason=_text(item, "rating_reason", 1000, n), rated_by_id=rater.id,
                            rated_at=rated_at, instance_id=instance.id, published_at=None)
            for n, item in enumerate(items, 1)]
    comment = params.get("comment")
    session.execute(delete(AchievementItem).where(AchievementItem.period == period,
                                                  AchievementItem.person_id == person.id))
    session.execute(delete(PersonRating).where(PersonRating.period == period, PersonRating.person_id == person.id,
                                               PersonRating.rater_role == DIRECT_HEAD))
    session.add_all(rows)
    session.add(PersonRating(period=period, person_id=person.id, rater_id=rater.id, rater_role=DIRECT_HEAD,
                             score=score, comment=str(comment)[:2000] if comment else None, created_at=rated_at))
    inputs_changed(session, period)  # the direct head's rating counts in the person's result
    session.flush()
    return {"items": len(rows), "good": sum(1 for r in rows if r.rating in GOOD), "score": str(score)}


def _negative_codes(session, period: str) -> set[str]:
    from engine.scoring import DEFAULT_NEGATIVE_LIST
    try:
        scheme = scheme_for_period(session, period)
    except KaoheError:
        return {item.code for item in DEFAULT_NEGATIVE_LIST}
    custom = json.loads(scheme.negative_list or "null")
    return {i["code"] for i in custom} if custom else {item.code for item in DEFAULT_NEGATIVE_LIST}


def _branch_people(session, branch_code: str) -> dict[str, int]:
    """Username -> person id of everyone in the branch or in a unit that belongs to it."""
    branch_id = session.scalar(select(OrgUnit.id).where(OrgUnit.code == branch_code))
    if branch_id is None:
        raise OperatorRefused(f"支部 {branch_code} 不存在", f"branch {branch_code} does not exist")
    units = select(OrgUnit.id).where(or_(OrgUnit.id == branch_id, OrgUnit.branch_id == branch_id))
    return dict(session.execute(select(Person.username, Person.id).where(Person.unit_id.in_(units))).all())


@service_operators.register("kaohe/record_political_findings")
def record_political_findings(task, params: dict) -> dict:
    rt, session, instance = operator_context()
    period = period_param(params.get("period"))
    branch_code = params.get("branch_code")
    if not isinstance(branch_code, str) or not branch_code:
        raise OperatorRefused("须指明支部编码 branch_code", "branch_code is required")
    findings = params.get("findings") or []
    if not isinstance(findings, list) or len(findings) > MAX_FINDINGS or not all(isinstance(f, dict) for f in findings):
        raise OperatorRefused(f"findings 须为不超过 {MAX_FINDINGS} 条的列表", f"findings must be a list of at most {MAX_FINDINGS}")
    people = _branch_people(session, branch_code)
    codes = _negative_codes(session, period)
    problems = []
    for n, finding in enumerate(findings, 1):
        if finding.get("username") not in people:
            problems.append(f"第 {n} 条：{finding.get('username')!s} 不是本支部（含所属部门）的人员 / "
                            f"finding {n}: {finding.get('username')!s} is not in this branch or its units")
        if finding.get("item_code") not in codes:
            problems.append(f"第 {n} 条：{finding.get('item_code')!s} 不在负面清单上 / "
                            f"finding {n}: {finding.get('item_code')!s} is not on the negative list")
    if problems:
        return {"recorded": 0, "problems": problems}
    recorder, recorded_at = completed_by(session, instance.id, params.get("recorded_in"))
    session.execute(delete(PoliticalFinding).where(PoliticalFinding.period == period,
                                                   PoliticalFinding.person_id.in_(list(people.values()))))
    session.add_all(PoliticalFinding(period=period, person_id=people[f["username"]], item_code=f["item_code"],
                                     note=str(f.get("note") or "")[:1000] or None, recorded_by=recorder.username,
                                     recorded_at=recorded_at) for f in findings)
    inputs_changed(session, period)
    session.flush()
    return {"recorded": len(findings), "problems": []}


@service_operators.register("kaohe/record_interview")
def record_interview(task, params: dict) -> dict:
    rt, session, instance = operator_context()
    label = params.get("label")
    try:
        months_of(label if isinstance(label, str) else "")
    except KaoheError:
        raise OperatorRefused(f"label 应为 2026Q4 或 2026-12，收到 {label!r}",
                              f"label must look like 2026Q4 or 2026-12, not {label!r}") from None
    person = person_param(session, params.get("username"))
    form = params.get("form")
    content = json.dumps(form, ensure_ascii=False, sort_keys=True, default=str) if isinstance(form, dict) else ""
    if not content or len(content) > MAX_INTERVIEW_CHARS:
        raise OperatorRefused(f"面谈记录须为不超过 {MAX_INTERVIEW_CHARS} 字的表单",
                              f"the interview must be a form of at most {MAX_INTERVIEW_CHARS} characters")
    interviewer, recorded_at = completed_by(session, instance.id, params.get("recorded_in"))
    session.execute(delete(FeedbackInterview).where(FeedbackInterview.label == label,
                                                    FeedbackInterview.person_id == person.id))
    session.add(FeedbackInterview(label=label, person_id=person.id, interviewer_id=interviewer.id,
                                  held_on=str(form.get("held_on") or recorded_at.date().isoformat())[:10],
                                  content=content, instance_id=instance.id, recorded_at=recorded_at))
    session.flush()
    return {"recorded": True}


@service_operators.register("kaohe/who_completed")
def who_completed(task, params: dict) -> dict:
    """Who completed the latest `task` (a user task id) of this instance, and when: a diagram
    that needs "the person who issued this" reads it here instead of trusting a typed name."""
    _rt, session, instance = operator_context()
    person, at = completed_by(session, instance.id, params.get("task"))
    return {"username": person.username, "name": person.display_name, "at": at.isoformat()}
