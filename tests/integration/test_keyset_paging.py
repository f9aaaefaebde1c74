"""Keyset paging of the inbox and the rectification tracker (engine/services/keyset.py): walking the
pages by cursor shows every row exactly once and in order, also when rows arrive meanwhile; the
"previous" cursor gives back the same pages; a damaged cursor gives the first page."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from engine.models import HumanTask, OrgUnit, ProcessInstance, ProcessVersion, TaskCandidate
from engine.models.tracking import RectificationCase
from engine.services import inbox, keyset, tracker
from engine.services.inbox import InboxQuery
from engine.services.tracker import Filters

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def _instance(session) -> int:
    version = session.scalar(select(ProcessVersion.id).limit(1))
    if version is None:
        version = session.execute(insert(ProcessVersion).values(
            process_id="rectification", version=1, name="问题整改跟踪", bundle_hash="0" * 64, deployed_at=T0,
            deployed_by="test").returning(ProcessVersion.id)).scalar_one()
    return session.execute(insert(ProcessInstance).values(
        process_version_id=version, process_id="rectification", title="整改", status="waiting_person", state="{}",
        serializer_version="1", version=1, started_by="owner", created_at=T0, updated_at=T0)
        .returning(ProcessInstance.id)).scalar_one()


def add_task(rt, person_id: int, due: datetime | None, created: datetime) -> int:
    """An open task offered to one person (no engine behind it: the inbox reads only the projection)."""
    with rt.db.unit_of_work() as session:
        instance_id = _instance(session)
        task_id = session.execute(insert(HumanTask).values(
            instance_id=instance_id, task_guid=f"{instance_id:036d}", element_id="task", name=f"任务{instance_id}",
            status="open", due_at=due, created_at=created).returning(HumanTask.id)).scalar_one()
        session.execute(insert(TaskCandidate).values(task_id=task_id, person_id=person_id))
        return task_id


def task_order(rt, sort: str) -> list[int]:
    with rt.db.reading() as session:
        rows = session.execute(select(HumanTask.id, HumanTask.due_at, HumanTask.created_at)).all()
    keys = {"due": lambda r: (r.due_at is None, r.due_at or T0, r.id),
            "oldest": lambda r: (r.created_at, r.id),
            "newest": lambda r: (-r.created_at.timestamp(), -r.id)}
    return [r.id for r in sorted(rows, key=keys[sort])]


@pytest.fixture
def many_tasks(rt, people):
    """47 tasks for alice: due times with ties, some without one, creation times with ties."""
    person = people.alice.person_id
    return [add_task(rt, person, None if n % 7 == 0 else T0 + timedelta(days=n % 11),
                     T0 - timedelta(hours=n % 13)) for n in range(47)]


def walk_inbox(rt, actor, sort: str, meanwhile=None) -> list[int]:
    seen, after, pages = [], None, 0
    while True:
        page = inbox.page(rt, actor, InboxQuery(sort=sort, after=after), with_choices=False)
        seen += [row.id for row in page.rows]
        pages += 1
        if meanwhile and pages == 1:
            meanwhile()
        if not page.has_next:
            return seen
        after = page.next_after
        assert after and pages < 20


@pytest.mark.parametrize("broad", [False, True], ids=["from-candidates", "along-the-sort-index"])
@pytest.mark.parametrize("sort", ["due", "newest", "oldest"])
def test_walking_the_inbox_by_cursor_shows_every_task_once_in_order(rt, people, many_tasks, monkeypatch,
                                                                   sort, broad):
    if broad:  # the office's way: walk the open tasks in order and keep the offered ones
        monkeypatch.setattr(inbox, "BROAD_OFFERS", 0)
    assert walk_inbox(rt, people.alice, sort) == task_order(rt, sort)
    assert walk_inbox(rt, people.bob, sort) == []


def test_tasks_arriving_during_the_walk_neither_repeat_nor_hide_others(rt, people, many_tasks):
    before_walk = task_order(rt, "due")
    added = []

    def arrive():  # one sorts onto the page already read, one far behind it, one without a due time
        added.extend(add_task(rt, people.alice.person_id, due, T0) for due in (T0, T0 + timedelta(days=30), None))
    seen = walk_inbox(rt, people.alice, "due", meanwhile=arrive)
    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in before_walk] == before_walk
    assert added[0] not in seen and added[1] in seen and added[2] in seen


def test_previous_gives_back_the_same_pages_and_ends_at_the_first(rt, people, many_tasks):
    alice, pages = people.alice, []
    page = inbox.page(rt, alice, InboxQuery())
    while True:
        pages.append([row.id for row in page.rows])
        if not page.has_next:
            break
        page = inbox.page(rt, alice, InboxQuery(after=page.next_after))
    assert [len(p) for p in pages] == [20, 20, 7] and page.has_prev
    back = inbox.page(rt, alice, InboxQuery(before=page.prev_before))
    assert [row.id for row in back.rows] == pages[1] and back.has_next and back.has_prev
    first = inbox.page(rt, alice, InboxQuery(before=back.prev_before))
    assert [row.id for row in first.rows] == pages[0] and first.has_next and not first.has_prev


def test_page_numbers_still_work_for_api_clients_and_hand_over_a_cursor(rt, people, many_tasks):
    by_cursor = walk_inbox(rt, people.alice, "due")
    second = inbox.page(rt, people.alice, InboxQuery(page=2))
    assert [row.id for row in second.rows] == by_cursor[20:40]
    third = inbox.page(rt, people.alice, InboxQuery(after=second.next_after))
    assert [row.id for row in third.rows] == by_cursor[40:] and not third.has_next
    assert inbox.page(rt, people.alice, InboxQuery(page=9)).rows == []


@pytest.mark.parametrize("cursor", ["garbage", "!!!", "W10", keyset.encode("due", keyset.Position(0, (1, 2))),
                                    keyset.encode("due", keyset.Position(5, (1,))),
                                    keyset.encode("newest", keyset.Position(0, (T0, 3))),
                                    keyset.encode("due", keyset.Position(1, ("1",))),
                                    keyset.encode("due", keyset.Position(0, ("2026-03-01T08:00:00", 3))),
                                    "x" * 5000])
def test_a_damaged_or_foreign_cursor_gives_the_first_page(rt, people, many_tasks, cursor):
    first = [row.id for row in inbox.page(rt, people.alice, InboxQuery()).rows]
    assert [row.id for row in inbox.page(rt, people.alice, InboxQuery(after=cursor)).rows] == first
    assert [row.id for row in inbox.page(rt, people.alice, InboxQuery(before=cursor)).rows] == first


def add_case(rt, unit_id: int, due: datetime | None, closed: datetime | None) -> int:
    with rt.db.unit_of_work() as session:
        instance_id = _instance(session)
        session.execute(insert(RectificationCase).values(
            instance_id=instance_id, problem=f"问题{instance_id}", unit_id=unit_id, stage="closed" if closed else "fix",
            status="completed" if closed else "waiting_person", due_at=due, opened_at=T0, closed_at=closed,
            reopened=0, evidence_count=0, updated_at=T0))
        return instance_id


def case_order(rt) -> list[int]:
    with rt.db.reading() as session:
        rows = session.execute(select(RectificationCase.id, RectificationCase.instance_id, RectificationCase.due_at,
                                      RectificationCase.closed_at)).all()
    def key(r):
        if r.closed_at is None:
            return (0, 0, r.due_at, r.id) if r.due_at else (0, 1, T0, -r.id)
        return (1, 0, T0, -r.id)  # closed: latest first
    return [r.instance_id for r in sorted(rows, key=key)]


@pytest.fixture
def many_cases(rt, people):
    with rt.db.reading() as session:
        unit = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "U1"))
    for n in range(23):
        add_case(rt, unit, None if n % 5 == 0 else T0 + timedelta(days=n % 4),
                 T0 + timedelta(days=n % 3) if n % 4 == 0 else None)
    return unit


def walk_tracker(rt, actor, filters: Filters, meanwhile=None) -> tuple[list[int], list]:
    seen, results, after = [], [], None
    while True:
        found = tracker.list_cases(rt, actor, Filters(**{**filters.__dict__, "after": after}), page_size=5)
        seen += [row.instance_id for row in found.rows]
        results.append(found)
        if meanwhile and len(results) == 1:
            meanwhile()
        if not found.has_next:
            return seen, results
        after = found.next_after
        assert after and len(results) < 20


def test_walking_the_tracker_by_cursor_shows_every_problem_once_in_order(rt, people, many_cases):
    expected = case_order(rt)
    seen, results = walk_tracker(rt, people.auditor, Filters())
    assert seen == expected and len(results) == 5
    assert all(r.total == 23 for r in results)  # the counts do not change from page to page
    assert walk_tracker(rt, people.head, Filters())[0] == expected  # the unit head of U1
    assert walk_tracker(rt, people.auditor, Filters(stage="closed"))[0] == [i for i in expected[-6:]]
    last = results[-1]
    back = tracker.list_cases(rt, people.auditor, Filters(before=last.prev_before), page_size=5)
    assert [r.instance_id for r in back.rows] == expected[15:20] and back.has_next
    by_number = tracker.list_cases(rt, people.auditor, Filters(page=3), page_size=5)
    assert [r.instance_id for r in by_number.rows] == expected[10:15] and by_number.next_after


def test_problems_opened_during_the_walk_neither_repeat_nor_hide_others(rt, people, many_cases):
    expected = case_order(rt)
    added = []

    def arrive():
        added.append(add_case(rt, many_cases, T0 - timedelta(days=9), None))  # onto the page already read
        added.append(add_case(rt, many_cases, None, None))  # among the open ones without a deadline
    seen, _results = walk_tracker(rt, people.auditor, Filters(), meanwhile=arrive)
    assert len(seen) == len(set(seen)) and [i for i in seen if i in expected] == expected
    assert added[0] not in seen and added[1] in seen


def test_a_damaged_tracker_cursor_gives_the_first_page(rt, people, many_cases):
    first = [r.instance_id for r in tracker.list_cases(rt, people.auditor, Filters(), page_size=5).rows]
    for cursor in ("nonsense", keyset.encode("due", keyset.Position(0, (T0, 1))),
                   keyset.encode("urgent", keyset.Position(2, (T0, "x")))):
        found = tracker.list_cases(rt, people.auditor, Filters(after=cursor), page_size=5)
        assert [r.instance_id for r in found.rows] == first and not found.has_prev
