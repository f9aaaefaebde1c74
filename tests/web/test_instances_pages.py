"""The instance list and the instance page as their users meet them: filters and who sees what,
the diagram's progress and timers, parallel branches' data, children, terminate and retry."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from engine.bpmn.bundle import SourceFile
from engine.clock import FixedClock
from engine.runtime import Runtime
from engine.services import deploy, instances, tasks
from tests.integration.test_children import PARENT, UNIT_WORK
from tests.support.files import review_bundle
from tests.web.conftest import login, post_form
from web import create_app

# A case with a parallel split: a timer branch (3 days) and a side task, joined at the end.
WAITER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="dw" targetNamespace="t">
  <bpmn:process id="waiter" name="等待复查" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fill"/>
    <bpmn:userTask id="fill" name="填写情况"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="split"/>
    <bpmn:parallelGateway id="split"/>
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="wait"/>
    <bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="side"/>
    <bpmn:intermediateCatchEvent id="wait" name="等待三天">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"P3D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f5" sourceRef="wait" targetRef="check"/>
    <bpmn:userTask id="check" name="复查"/>
    <bpmn:sequenceFlow id="f6" sourceRef="check" targetRef="join"/>
    <bpmn:userTask id="side" name="旁路登记"/>
    <bpmn:sequenceFlow id="f7" sourceRef="side" targetRef="join"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:sequenceFlow id="f8" sourceRef="join" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""
NOW = datetime(2026, 12, 2, 16, 0, tzinfo=timezone.utc)  # the timer falls due 2026-12-06 00:00 in Shanghai


def text(response) -> str:
    return response.get_data(as_text=True)


def listed_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-instance="(\d+)"', page)]


def section(page: str, section_id: str) -> str:
    start = page.index(f'id="{section_id}"')
    end = page.find("<section class=\"card", start)
    return page[start:end if end != -1 else len(page)]


def relogin(client, username: str) -> None:
    with client.session_transaction() as session:
        session.clear()
    login(client, username)


@pytest.fixture
def cases(rt, people):
    """Three review cases: U1 2026-03 (alice claimed its task), U2 2026-04, U1 2026-04 (completed by nobody)."""
    deploy.deploy(rt, review_bundle(), people.owner)
    march = instances.start(rt, "review", people.owner, data={"weight": 1, "unit_code": "U1", "period": "2026-03"},
                            title="2026年3月 一车间自评")
    april_u2 = instances.start(rt, "review", people.owner, data={"weight": 1, "unit_code": "U2", "period": "2026-04"},
                               title="2026年4月 财务部自评")
    april_u1 = instances.start(rt, "review", people.owner, data={"weight": 1, "unit_code": "U1", "period": "2026-04"},
                               title="2026年4月 一车间自评")
    [task] = [t for t in tasks.inbox(rt, people.alice) if t.instance_id == march]
    tasks.claim(rt, task.id, people.alice)
    return march, april_u2, april_u1


def test_staff_see_the_cases_they_took_part_in_or_are_offered_and_no_other_units(client, people, cases):
    """alice claimed March's task; April U1's self-assessment is offered to U1's staff, so she may open
    that case to decide whether to take it. U2's case is neither: refused, and not even its title shows."""
    march, april_u2, april_u1 = cases
    login(client, "alice")
    page = text(client.get("/instances"))
    assert listed_ids(page) == [april_u1, march] and "共 2 个实例" in page
    assert "财务部自评" not in page
    assert client.get(f"/instances/{april_u1}").status_code == 200
    assert client.get(f"/instances/{april_u2}").status_code == 403
    assert "财务部自评" not in text(client.get(f"/instances?parent={april_u2}"))  # not even its title
    relogin(client, "bob")
    assert listed_ids(text(client.get("/instances"))) == [april_u2]
    assert client.get(f"/instances/{april_u1}").status_code == 403 and client.get(f"/instances/{march}").status_code == 403


def test_owner_and_auditor_see_all_and_filter(client, people, cases):
    march, april_u2, april_u1 = cases
    for who in ("owner", "auditor"):
        relogin(client, who)
        assert listed_ids(text(client.get("/instances"))) == [april_u1, april_u2, march]  # newest first
    assert listed_ids(text(client.get("/instances?period=2026-04"))) == [april_u1, april_u2]
    assert listed_ids(text(client.get("/instances?unit=U1"))) == [april_u1, march]
    assert listed_ids(text(client.get("/instances?unit=U1&period=2026-04"))) == [april_u1]
    assert listed_ids(text(client.get("/instances?q=财务部"))) == [april_u2]
    assert listed_ids(text(client.get("/instances?q=%25"))) == []  # a wildcard is searched as text
    assert listed_ids(text(client.get("/instances?process=review&status=waiting_person"))) == \
        [april_u1, april_u2, march]
    assert listed_ids(text(client.get("/instances?status=completed"))) == []
    page = text(client.get("/instances?page=999"))  # past the end: the last page
    assert listed_ids(page) == [april_u1, april_u2, march]
    assert "一车间" in page and "等待人工处理" in page and "月度自评审核" in page


def test_auditor_reads_but_has_no_actions_and_posts_are_refused(client, people, cases):
    march = cases[0]
    login(client, "auditor")
    page = text(client.get(f"/instances/{march}"))
    assert 'id="actions"' not in page and "终止原因" not in page
    for action in ("suspend", "terminate", "retry"):
        response = post_form(client, f"/instances/{march}", f"/instances/{march}/{action}", {"reason": "试试"})
        assert response.status_code == 403
    relogin(client, "owner")
    page = text(client.get(f"/instances/{march}"))
    assert 'id="actions"' in page and "终止原因" in page and "挂起" in page


def test_terminate_needs_a_reason_and_the_trail_shows_it(client, people, cases):
    march = cases[0]
    login(client, "owner")
    refused = post_form(client, f"/instances/{march}", f"/instances/{march}/terminate", {"reason": "  "})
    assert refused.status_code == 422 and "终止实例须填写原因" in text(refused)
    response = post_form(client, f"/instances/{march}", f"/instances/{march}/terminate", {"reason": "重复发起"},
                         follow_redirects=True)
    page = text(response)
    assert "已终止" in page
    trail = section(page, "audit")
    assert "终止" in trail and "重复发起" in trail
    assert 'id="actions"' not in page  # nothing left to do


def test_retry_after_an_error_with_a_validated_patch(client, rt, people):
    deploy.deploy(rt, review_bundle(), people.owner)
    case = instances.start(rt, "review", people.owner, data={"unit_code": "U1"}, title="缺少权重")  # no weight
    [task] = tasks.inbox(rt, people.alice)
    assert tasks.complete(rt, task.id, people.alice, {"self_score": 90, "summary": "完成"}) == "error"
    login(client, "owner")
    page = text(client.get(f"/instances/{case}"))
    assert 'role="alert"' in page and "<code>score</code>" in page and "weight" in page
    assert '&#34;score&#34;' in page.split('data-error-elements="')[1].split('"')[0]
    assert 'id="retry-form"' in page
    url = f"/instances/{case}"
    refused = post_form(client, url, f"{url}/retry", {"patch": '{"weight": 1,'})
    assert refused.status_code == 422
    assert "不是有效的 JSON" in text(refused) and "{&#34;weight&#34;: 1," in text(refused)  # typing kept
    refused = post_form(client, url, f"{url}/retry", {"patch": "[1, 2]"})
    assert refused.status_code == 422 and "须为 JSON 对象" in text(refused)
    response = post_form(client, url, f"{url}/retry", {"patch": '{"weight": 0.5}'}, follow_redirects=True)
    page = text(response)
    assert "等待人工处理" in page and 'role="alert"' not in page
    assert "重试" in section(page, "audit")
    [approve] = tasks.inbox(rt, people.head)
    assert tasks.get(rt, approve.id, people.head).data["total"] == 45


@pytest.fixture
def waiting(rt, people):
    """The parallel case after its first task and the side task: one branch waits on the timer."""
    fixed = Runtime(rt.settings, database=rt.db, clock=FixedClock(NOW))
    deploy.deploy(fixed, [SourceFile("waiter.bpmn", WAITER)], people.owner)
    case = instances.start(fixed, "waiter", people.owner, data={"problem": "台账缺页"}, title="台账复查")
    [fill] = tasks.inbox(fixed, people.owner)
    tasks.complete(fixed, fill.id, people.owner, {"found": "缺 3 页"})
    [side] = [t for t in tasks.inbox(fixed, people.owner) if t.name == "旁路登记"]
    tasks.complete(fixed, side.id, people.owner, {"side_note": "旁路已登记"})
    return fixed, case


def test_the_page_shows_completed_path_current_tokens_timers_and_branch_data(rt, people, waiting):
    fixed, case = waiting
    client = create_app({"TESTING": True, "KAOHE_RUNTIME": fixed, "START_SCHEDULER": False}).test_client()
    login(client, "owner")
    page = text(client.get(f"/instances/{case}"))
    diagram = page[page.index('id="diagram"'):page.index("</div>", page.index('id="diagram"'))]
    completed = json.loads(re.search(r'data-completed="([^"]*)"', diagram).group(1).replace("&#34;", '"'))
    active = json.loads(re.search(r'data-active="([^"]*)"', diagram).group(1).replace("&#34;", '"'))
    timers = json.loads(re.search(r'data-timers="([^"]*)"', diagram).group(1).replace("&#34;", '"'))
    assert {"start", "fill", "split", "side"} <= set(completed) and "check" not in completed
    assert {"wait", "join"} <= set(active)
    assert timers == [{"id": "wait", "text": "到期 2026-12-06 00:00"}]
    flows = json.loads(re.search(r'data-flows="([^"]*)"', diagram).group(1).replace("&#34;", '"'))
    assert {("fill", "split"), ("split", "wait"), ("split", "side"), ("side", "join")} <= {tuple(f) for f in flows}
    assert ["wait", "check"] not in flows  # the timer has not fired yet
    assert "等待定时器" in page and "到期 2026-12-06 00:00" in page  # the legend and the facts
    data = section(page, "data")
    assert "problem" in data and "台账缺页" in data and "缺 3 页" in data
    assert "并行分支" in data and "side_note" in data and "旁路已登记" in data
    assert data.count("problem") == 1  # shared data shown once, not once per branch
    history = section(page, "history")
    assert "填写情况" in history and "旁路登记" in history
    listed = text(client.get("/instances?status=waiting_timer"))
    assert listed_ids(listed) == [case] and "2026-12-06 00:00" in listed


def test_big_values_are_collapsed(client, rt, people):
    deploy.deploy(rt, review_bundle(), people.owner)
    case = instances.start(rt, "review", people.owner, title="大数据",
                           data={"weight": 1, "unit_code": "U1", "units": [f"U{i:03}" for i in range(200)]})
    login(client, "owner")
    data = section(text(client.get(f"/instances/{case}")), "data")
    assert '<details class="long-value">' in data and "U199" in data and "（" in data


def test_parent_shows_child_counts_and_links_children_back(client, rt, people):
    deploy.deploy(rt, [SourceFile("unit_work.bpmn", UNIT_WORK)], people.owner)
    deploy.deploy(rt, [SourceFile("cycle.bpmn", PARENT.format(child="unit_work"))], people.owner)
    parent = instances.start(rt, "cycle", people.owner, data={"units": ["U1", "U2"], "period": "2026-03"},
                             title="2026年3月 循环")
    login(client, "owner")
    children = listed_ids(text(client.get(f"/instances?parent={parent}")))
    assert len(children) == 2
    page = text(client.get(f"/instances/{parent}"))
    box = section(page, "children")
    assert "plan_units" in box and "共 2 个" in box and f"/instances?parent={parent}" in box
    assert "等待人工处理" in box and re.search(r'class="num">2<', box)
    instances.terminate(rt, children[0], people.owner, reason="撤销")
    box = section(text(client.get(f"/instances/{parent}")), "children")
    assert "已终止" in box
    child_page = text(client.get(f"/instances/{children[1]}"))
    assert f'href="/instances/{parent}" id="parent-link"' in child_page and "2026年3月 循环" in child_page
    # newest first: U2's child, then U1's; period and unit come from each child's start data
    assert listed_ids(text(client.get("/instances?period=2026-03&unit=U1"))) == [children[1]]
