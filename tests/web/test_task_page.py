"""The task page for staff: the achievement declaration's items filled row by row, errors shown in
place with everything typed kept, the rating with the declared parts read-only, the earlier steps of
the case and the diagram with this task marked."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.models import Person
from engine.services import tasks
from tests.web.conftest import csrf_token
from web import create_app, forms_render
from engine.services.demo import DEMO_PASSWORD

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
FULL_ROW = {"title": "完成3号集输管线保温改造", "task_source": "月度任务书第2项", "self_rating": "优秀",
            "detail": "提前5天完成，节约费用2万元"}


@pytest.fixture
def client(declared):
    return create_app({"TESTING": True, "KAOHE_RUNTIME": declared, "START_SCHEDULER": False}).test_client()


def text(response) -> str:
    return response.get_data(as_text=True)


def sign_in(client, username: str):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": DEMO_PASSWORD,
                                       "csrf_token": csrf_token(text(page))})


def field_html(page: str, name: str) -> str:
    start = page.index(f'data-field="{name}"')
    end = page.find('data-field="', start + 1)
    return page[start:end if end != -1 else len(page)]


def rows_html(page: str, name: str) -> str:
    """An array field's whole fieldset (its rows carry data-field attributes of their own)."""
    start = page.index(f'data-field="{name}"')
    return page[start:page.index("\n</fieldset>", start)]


def input_value(page: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"', page) or \
        re.search(rf'<input[^>]*value="([^"]*)"[^>]*name="{re.escape(name)}"', page)
    return match.group(1) if match else None


def display_name(rt, username: str) -> str:
    with rt.db.reading() as session:
        return session.scalar(select(Person.display_name).where(Person.username == username))


def task_of(rt, username: str, element: str):
    [task] = [t for t in tasks.inbox(rt, rt.actor(username)) if t.element_id == element]
    return task


def rows_post(rows: list[dict]) -> dict:
    return {f"items-{i}-{key}": value for i, row in enumerate(rows) for key, value in row.items()}


def submit(client, task_id: int, data: dict):
    page = client.get(f"/tasks/{task_id}")
    return client.post(f"/tasks/{task_id}", data={**data, "csrf_token": csrf_token(text(page))})


def declare(client, rt) -> int:
    task = task_of(rt, "p01_staff1", "declare")
    sign_in(client, "p01_staff1")
    assert submit(client, task.id, rows_post([FULL_ROW])).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(text(client.get("/tasks")))})
    return task.id


def test_the_declaration_offers_five_item_rows_and_no_sixth(client, declared):
    task = task_of(declared, "p01_staff1", "declare")
    sign_in(client, "p01_staff1")
    page = text(client.get(f"/tasks/{task.id}"))
    assert "填报工作实绩" in page and "请在次月 5 日（含）前提交" in page  # the instructions
    items = rows_html(page, "items")
    assert items.count('class="item-row"') == 5 and 'data-shown="1"' in items
    for index in range(5):
        assert f'name="items-{index}-title"' in page and f'name="items-{index}-self_rating"' in page
    assert 'name="items-5-title"' not in page
    assert "添加一项" in page and "form_rows.js" in page
    assert '<option value="优秀"' in field_html(page, "items-0-self_rating")
    assert 'maxlength="100"' in field_html(page, "items-0-title")
    diagram = re.search(r'<div id="diagram"[^>]*>', page).group(0)
    assert 'data-current="declare"' in diagram and f"/tasks/{task.id}/diagram.bpmn" in diagram


def test_an_item_without_its_source_is_refused_in_place_and_everything_typed_is_kept(client, declared):
    task = task_of(declared, "p01_staff1", "declare")
    sign_in(client, "p01_staff1")
    first = {"title": "完成班组安全培训", "self_rating": "良好", "detail": "培训 32 人次"}  # no task_source
    response = submit(client, task.id, rows_post([first, {k: "" for k in FULL_ROW}, FULL_ROW]))
    assert response.status_code == 422
    page = text(response)
    assert "表单填写有误" in page
    # The empty middle row was dropped: the third row is now the second, each error beside its input.
    assert "此项为必填项" in field_html(page, "items-0-task_source")
    assert 'aria-invalid="true"' in field_html(page, "items-0-task_source")
    assert "此项为必填项" not in field_html(page, "items-0-title")
    assert input_value(page, "items-0-title") == "完成班组安全培训"
    assert "培训 32 人次" in field_html(page, "items-0-detail")
    assert '<option value="良好" selected' in field_html(page, "items-0-self_rating")
    assert input_value(page, "items-1-title") == FULL_ROW["title"]
    assert FULL_ROW["task_source"] in field_html(page, "items-1-task_source")
    assert "提前5天完成" in field_html(page, "items-1-detail")
    assert 'data-shown="2"' in page  # both filled rows shown; the empty ones wait for "添加一项"

    response = submit(client, task.id, rows_post([{**first, "task_source": "岗位职责：安全培训"}, FULL_ROW]))
    assert response.status_code == 302
    data = tasks.get(declared, task.id, declared.actor("owner")).data
    assert data["items"] == [{**first, "task_source": "岗位职责：安全培训"}, FULL_ROW]


def test_a_sixth_item_is_refused_by_the_form(client, declared):
    task = task_of(declared, "p01_staff1", "declare")
    sign_in(client, "p01_staff1")
    response = submit(client, task.id, rows_post([FULL_ROW] * 6))
    assert response.status_code == 422
    assert "最多 5 项" in rows_html(text(response), "items")


def test_the_rating_shows_the_declared_items_read_only_and_keeps_what_the_head_typed(client, declared):
    declare(client, declared)
    rating = task_of(declared, "p01_head", "rate_by_head")
    sign_in(client, "p01_head")
    page = text(client.get(f"/tasks/{rating.id}"))
    items = rows_html(page, "items")
    assert items.count('class="item-row"') == 1 and "添加一项" not in items and 'data-fixed="1"' in items
    title = field_html(page, "items-0-title")
    assert FULL_ROW["title"] in title and "disabled" in title
    assert "disabled" not in field_html(page, "items-0-rating")
    # Earlier steps: who declared what, when.
    steps = page[page.index('id="steps"'):]
    assert display_name(declared, "p01_staff1") in steps and "完成任务" in steps and "填报工作实绩" in steps
    assert FULL_ROW["title"] in steps and FULL_ROW["task_source"] in steps

    # A forged declared title is ignored; a missing reason is shown beside its input, the rating kept.
    response = submit(client, rating.id, {"items-0-title": "篡改", "items-0-rating": "优秀", "score": "92"})
    assert response.status_code == 422
    page = text(response)
    assert "至少需要" in field_html(page, "items-0-rating_reason") or \
        "此项为必填项" in field_html(page, "items-0-rating_reason")
    assert '<option value="优秀" selected' in field_html(page, "items-0-rating")
    assert input_value(page, "score") == "92"
    response = submit(client, rating.id, {"items-0-rating": "优秀", "items-0-rating_reason": "提前完成且节约费用",
                                          "score": "92"})
    assert response.status_code == 302
    data = tasks.get(declared, rating.id, declared.actor("owner")).data
    assert data["items"] == [{**FULL_ROW, "rating": "优秀", "rating_reason": "提前完成且节约费用"}]


def test_the_diagram_is_served_to_those_who_may_see_the_task(client, declared):
    task = task_of(declared, "p01_staff1", "declare")
    sign_in(client, "p01_staff1")
    response = client.get(f"/tasks/{task.id}/diagram.bpmn")
    assert response.status_code == 200 and b'id="declare"' in response.data
    client.post("/logout", data={"csrf_token": csrf_token(text(client.get("/tasks")))})
    sign_in(client, "p02_staff1")
    assert client.get(f"/tasks/{task.id}/diagram.bpmn").status_code == 403
    assert client.get(f"/tasks/{task.id}").status_code == 403


def test_array_rows_round_trip_through_the_form_helpers():
    schema = json.loads((WORKFLOWS / "forms" / "achievement_declaration.json").read_text(encoding="utf-8"))
    posted = rows_post([FULL_ROW, {"title": "", "task_source": " "}, {"title": "第二项", "self_rating": "一般"}])
    converted = forms_render.convert(schema, posted)
    assert converted == {"items": [FULL_ROW, {"title": "第二项", "self_rating": "一般"}]}
    [items] = forms_render.build_fields(schema, converted)
    assert items.widget == "rows" and len(items.rows) == 5 and items.shown_rows == 2
    assert [cell.value for cell in items.rows[1]] == ["第二项", "", "一般", ""]
    assert forms_render.convert(schema, {}) == {}  # nothing typed: `required` names the field
