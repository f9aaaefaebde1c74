"""The inbox as staff see it: process, unit, period and due time per task, overdue marking, filters,
sort, claim / unclaim / delegate, and pages."""
from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from engine.models import HumanTask, Person, TaskCandidate
from engine.services import instances, tasks
from engine.services.demo import DEMO_PASSWORD
from tests.support.staff import DECLARATION_DATA
from tests.web.conftest import csrf_token
from web import create_app


@pytest.fixture
def client(declared):
    return create_app({"TESTING": True, "KAOHE_RUNTIME": declared, "START_SCHEDULER": False}).test_client()


def text(response) -> str:
    return response.get_data(as_text=True)


def sign_in(client, username: str):
    page = client.get("/login")
    client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": csrf_token(text(page))})


def post(client, action: str, data: dict | None = None, page: str = "/tasks"):
    token = csrf_token(text(client.get(page)))
    return client.post(action, data={**(data or {}), "csrf_token": token}, follow_redirects=True)


def row_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'class="taskrow[^"]*" data-task-id="(\d+)"', page)]


def row_html(page: str, task_id: int) -> str:
    start = page.index(f'data-task-id="{task_id}"')
    return page[start:page.find("</li>", start)]


def declare_task(rt, period: str = "2026-12", unit: tuple[str, str] = ("P01", "采油一队")) -> int:
    """One more declaration for p01_staff1 (another period or unit); its declare task's id."""
    owner = rt.actor("owner")
    instance_id = instances.start(rt, "achievement_declaration", owner, title=f"{period} 申报",
                                  data={**DECLARATION_DATA, "period": period, "unit_code": unit[0],
                                        "unit_name": unit[1]})
    with rt.db.reading() as session:
        return session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                         HumanTask.element_id == "declare"))


def set_due(rt, task_id: int, due):
    with rt.db.unit_of_work() as session:
        session.execute(update(HumanTask).where(HumanTask.id == task_id).values(due_at=due))


def first_task(rt) -> int:
    with rt.db.reading() as session:
        return session.scalar(select(HumanTask.id).where(HumanTask.instance_id == rt.instance_id))


def test_each_task_shows_process_unit_period_and_due_time_and_overdue_in_red(client, declared):
    task_id = first_task(declared)
    now = declared.clock.now()
    set_due(declared, task_id, now - timedelta(days=2, hours=3))
    sign_in(client, "p01_staff1")
    page = text(client.get("/tasks"))
    row = row_html(page, task_id)
    assert "填报工作实绩" in row and "工作实绩申报" in row  # the task and its process
    assert "采油一队" in row and "2026-12" in row and "2026年12月 工作实绩申报" in row
    assert 'class="taskrow is-overdue"' in page and '<strong class="overdue">逾期 3 天</strong>' in row
    assert "待认领" in row and "认领" in row and "转交" in row
    set_due(declared, task_id, now + timedelta(days=1))
    row = row_html(text(client.get("/tasks")), task_id)
    assert "逾期" not in row and "截止" in row


def test_filters_by_period_unit_process_and_overdue(client, declared):
    december = first_task(declared)
    november = declare_task(declared, "2026-11")
    other_unit = declare_task(declared, "2026-12", ("P02", "采油二队"))
    set_due(declared, november, declared.clock.now() - timedelta(hours=1))
    sign_in(client, "p01_staff1")
    assert sorted(row_ids(text(client.get("/tasks")))) == sorted([december, november, other_unit])
    assert row_ids(text(client.get("/tasks?period=2026-11"))) == [november]
    assert sorted(row_ids(text(client.get("/tasks?unit=P02")))) == [other_unit]
    assert row_ids(text(client.get("/tasks?overdue=1"))) == [november]
    assert "逾期 1 天" in text(client.get("/tasks?overdue=1"))
    assert len(row_ids(text(client.get("/tasks?process=achievement_declaration")))) == 3
    page = text(client.get("/tasks?process=monthly_cycle"))
    assert row_ids(page) == [] and "没有符合筛选条件的任务" in page and "清除筛选" in page
    page = text(client.get("/tasks?period=2026-11&unit=P01"))
    assert '<option value="P01" selected' in page and 'value="2026-11"' in page  # the filters stay filled


def test_sort_by_due_time_newest_or_oldest(client, declared):
    first, second, third = first_task(declared), declare_task(declared, "2026-11"), declare_task(declared, "2026-10")
    now = declared.clock.now()
    set_due(declared, first, now + timedelta(days=3))
    set_due(declared, second, now + timedelta(days=1))
    set_due(declared, third, None)  # no due time: last when sorted by due time
    sign_in(client, "p01_staff1")
    assert row_ids(text(client.get("/tasks"))) == [second, first, third]
    assert row_ids(text(client.get("/tasks?sort=oldest"))) == [first, second, third]
    assert row_ids(text(client.get("/tasks?sort=newest"))) == [third, second, first]


def test_claim_shows_it_as_mine_and_unclaim_gives_it_back_to_the_group(client, declared):
    task_id = first_task(declared)
    sign_in(client, "p01_staff1")
    assert row_ids(text(client.get("/tasks?scope=mine"))) == []
    assert row_ids(text(client.get("/tasks?scope=groups"))) == [task_id]
    page = text(post(client, f"/tasks/{task_id}/claim", {"query": "scope=mine"}))
    assert "已认领任务" in page and row_ids(page) == [task_id] and "我已认领" in row_html(page, task_id)
    assert row_ids(text(client.get("/tasks?scope=groups"))) == []
    page = text(post(client, f"/tasks/{task_id}/unclaim"))
    assert "已退回任务" in page and "待认领" in row_html(page, task_id)


def test_delegate_from_the_inbox_hands_the_task_to_a_colleague(client, declared):
    task_id = first_task(declared)
    sign_in(client, "p01_staff1")
    page = text(post(client, f"/tasks/{task_id}/delegate", {"to": "p01_staff2"}))
    assert "已将任务转交给 p01_staff2" in page and row_ids(page) == []
    assert [t.id for t in tasks.inbox(declared, declared.actor("p01_staff2"))] == [task_id]


def test_pages_of_twenty_with_a_next_and_previous_link(client, declared):
    template = first_task(declared)
    with declared.db.unit_of_work() as session:
        source = session.get(HumanTask, template)
        person_id = session.scalar(select(Person.id).where(Person.username == "p01_staff1"))
        columns = {c.name: getattr(source, c.name) for c in HumanTask.__table__.columns if c.name != "id"}
        for n in range(25):
            new_id = session.execute(insert(HumanTask).values(
                **{**columns, "task_guid": f"00000000-0000-0000-0000-{n:012d}", "name": f"批量任务{n:02d}",
                   "due_at": declared.clock.now() + timedelta(days=n + 10)}).returning(HumanTask.id)).scalar_one()
            session.execute(insert(TaskCandidate).values(task_id=new_id, person_id=person_id))
    sign_in(client, "p01_staff1")
    page = text(client.get("/tasks?sort=oldest&unit=P01"))
    assert len(row_ids(page)) == 20 and 'rel="next"' in page and 'rel="prev"' not in page
    assert 'rel="first"' not in page
    second = text(client.get(link(page, "next")))
    assert len(row_ids(second)) == 6 and 'rel="prev"' in second and 'rel="next"' not in second
    assert 'rel="first"' in second and "sort=oldest" in link(second, "prev") and "unit=P01" in link(second, "first")
    assert not set(row_ids(page)) & set(row_ids(second))
    assert row_ids(text(client.get(link(second, "prev")))) == row_ids(page)
    assert len(row_ids(text(client.get("/tasks?per_page=50")))) == 26
    assert len(row_ids(text(client.get("/tasks?per_page=100000")))) == 20  # bounded page size


def link(page: str, rel: str) -> str:
    return html.unescape(re.search(rf'href="([^"]+)" rel="{rel}"', page).group(1))


@pytest.mark.parametrize("cursor", ["%27%3Bdrop", "WyJkdWUiLDAsIngiLDFd", "eyJhIjoxfQ", "a" * 2000])
def test_a_damaged_cursor_in_the_address_shows_the_first_page(client, declared, cursor):
    sign_in(client, "p01_staff1")
    first = row_ids(text(client.get("/tasks")))
    for name in ("after", "before"):
        response = client.get(f"/tasks?{name}={cursor}")
        assert response.status_code == 200 and row_ids(text(response)) == first
        assert 'rel="prev"' not in text(response)
