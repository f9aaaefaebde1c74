"""The process owner in a real browser: open task_book in the modeler, rename a step in the properties
panel, validate, deploy, and find version 2 in the history with the change marked; a broken
condition's validation marks its sequence flow on the diagram; decision tables open in dmn-js."""
from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from engine.services import deploy
from tests.browser.support import shoot, sign_in

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
FILES = [WORKFLOWS / "task_book.bpmn", *sorted((WORKFLOWS / "forms").glob("task_book_*.json")),
         WORKFLOWS / "monthly_rewards.dmn"]


def test_the_owner_changes_a_diagram_deploys_it_and_sees_version_2(live_server, page, problems, rt, people):
    deploy.deploy(rt, deploy.read_files(FILES), people.owner)
    base = live_server
    sign_in(page, base, "owner")
    page.goto(f"{base}/processes")
    expect(page.locator('tr[data-process="task_book"]')).to_contain_text("v1")
    shoot(page, "editor-1-list")
    page.locator('tr[data-process="task_book"]').get_by_role("link", name="编辑").click()
    expect(page.locator("#editor.editor-ready")).to_have_count(1)
    expect(page.locator('#modeler .djs-element[data-element-id="sign_head"]')).to_have_count(1)

    # Rename a step and give it instructions in the properties panel.
    page.locator('#modeler .djs-shape[data-element-id="sign_head"]').click()
    expect(page.locator("#p-id")).to_have_text("sign_head")
    expect(page.locator("#p-lane")).to_have_text("部门正职")
    expect(page.locator("#p-form-file")).to_have_value("task_book_sign_head.json")
    page.locator("#p-name").fill("部门正职签字")
    page.locator("#p-name").press("Tab")
    page.locator("#p-instructions").fill("请核对任务书后签字。")
    page.locator("#p-instructions").press("Tab")
    name = page.evaluate("window.kaoheModeler.get('elementRegistry').get('sign_head').businessObject.name")
    assert name == "部门正职签字"
    xml = page.evaluate("window.kaoheModeler.saveXML({format: true}).then(r => r.xml)")
    assert "请核对任务书后签字。</spiffworkflow:instructionsForEndUser>" in xml
    assert 'value="task_book_sign_head.json"' in xml and 'value="task_book_draft.json"' in xml

    # The form beside the diagram, previewed as the task page draws it.
    page.locator("#form-select").select_option("task_book_draft.json")
    page.get_by_role("button", name="检查并预览").click()
    expect(page.locator("#form-messages")).to_have_text("表单有效。")
    expect(page.locator("#form-preview .field").first).to_be_visible()

    page.get_by_role("button", name="校验").click()
    expect(page.locator("#editor-status")).to_have_text("校验通过，可以部署。")
    shoot(page, "editor-2-modeler")
    page.get_by_role("button", name="部署", exact=True).click()
    expect(page.locator("#editor-status")).to_contain_text("已部署：task_book 版本 2")
    assert page.locator("#editor").get_attribute("data-deployed-version") == "2"

    page.goto(f"{base}/processes/task_book/versions")
    expect(page.locator('#history tr[data-version="2"]')).to_contain_text("owner")
    expect(page.locator('#diff-list tr.diff-changed[data-element="sign_head"]')).to_contain_text("部门正职签字")
    expect(page.locator('#diff-new.diagram-ready .djs-element.kaohe-diff-changed[data-element-id="sign_head"]')) \
        .to_have_count(1)
    shoot(page, "editor-3-history")
    assert problems == []


def test_validation_marks_the_element_of_a_problem(live_server, page, problems, rt, people):
    deploy.deploy(rt, deploy.read_files(FILES), people.owner)
    base = live_server
    sign_in(page, base, "owner")
    page.goto(f"{base}/processes/task_book/edit")
    expect(page.locator("#editor.editor-ready")).to_have_count(1)
    page.evaluate("""() => {
        const m = window.kaoheModeler, flow = m.get('elementRegistry').get('signed');
        m.get('modeling').updateProperties(flow, {
            conditionExpression: m.get('moddle').create('bpmn:FormalExpression', {body: 'head_approved and ('})});
    }""")
    page.get_by_role("button", name="校验").click()
    expect(page.locator('#modeler .djs-element.kaohe-problem[data-element-id="signed"]')).to_have_count(1)
    expect(page.locator('.kaohe-problem-note[data-element="signed"]')).to_contain_text("语法错误")
    expect(page.locator('#problem-list li[data-element="signed"]')).to_contain_text("#signed")
    shoot(page, "editor-4-problem")
    page.get_by_role("button", name="部署", exact=True).click()
    expect(page.locator("#editor-status")).to_have_text("发现以下问题：")
    assert len(deploy.list_versions(rt, "task_book")) == 1
    # An auditor reads the diagram but has no buttons to change what runs.
    page.get_by_role("button", name="退出").click()
    sign_in(page, base, "auditor")
    page.goto(f"{base}/processes/task_book/edit")
    expect(page.locator("#editor.editor-ready")).to_have_count(1)
    expect(page.get_by_role("button", name="部署", exact=True)).to_have_count(0)
    problems[:] = [p for p in problems if "status of 422" not in p]  # the refused deploy answers 422 on purpose
    assert problems == []


def test_a_decision_table_opens_in_dmn_js_and_validates(live_server, page, problems, rt, people):
    deploy.deploy(rt, deploy.read_files(FILES), people.owner)
    base = live_server
    sign_in(page, base, "owner")
    page.goto(f"{base}/decisions/monthly_rewards/edit")
    expect(page.locator("#dmn-editor.editor-ready")).to_have_count(1)
    expect(page.locator("#dmn-modeler .tjs-table")).to_be_visible()
    page.get_by_role("button", name="校验").click()
    expect(page.locator("#editor-status")).to_have_text("校验通过，可以部署。")
    shoot(page, "editor-5-decision")
    # dmn-js 17's production bundle itself logs Inferno's "minified copy of the development build" warning.
    assert [p for p in problems if "development build of Inferno" not in p] == []


def test_every_shipped_diagram_survives_the_modeler_and_the_panel_edits_service_tasks(
        live_server, page, problems, rt, people):
    """Import into bpmn-js and save again: kaohe's deploy checks still pass (SpiffWorkflow's extension
    elements are kept), and service operator parameters edited in the panel are written back."""
    deploy.deploy(rt, deploy.read_files([WORKFLOWS]), people.owner)
    base = live_server
    sign_in(page, base, "owner")
    for process_id in sorted(p.stem for p in WORKFLOWS.glob("*.bpmn")):
        page.goto(f"{base}/processes/{process_id}/edit")
        expect(page.locator("#editor.editor-ready")).to_have_count(1)
        answer = page.evaluate("""async () => {
            const root = document.getElementById('editor'), xml = (await window.kaoheModeler.saveXML()).xml;
            const source = await (await fetch(root.dataset.source)).json();
            const response = await fetch(root.dataset.check, {method: 'POST', headers: {
                'Content-Type': 'application/json', 'X-CSRFToken': root.dataset.csrf},
                body: JSON.stringify({files: [{name: source.bpmn_name, content: xml}]})});
            return response.json();
        }""")
        assert answer == {"ok": True, "problems": []}, (process_id, answer)

    page.goto(f"{base}/processes/monthly_cycle/edit")
    expect(page.locator("#editor.editor-ready")).to_have_count(1)
    page.evaluate("window.kaoheModeler.get('selection').select("
                  "window.kaoheModeler.get('elementRegistry').get('set_deadlines'))")
    expect(page.locator("#p-operator")).to_have_value("kaohe/month_deadlines")
    expect(page.locator("#p-params tr")).to_have_count(2)
    page.locator("#p-result").fill("month_deadlines")
    page.locator("#p-result").press("Tab")
    page.get_by_role("button", name="添加参数").click()
    row = page.locator("#p-params tr").nth(2)
    row.locator('[data-param="id"]').fill("note")
    row.locator('[data-param="value"]').fill('"x"')
    row.locator('[data-param="value"]').press("Tab")
    xml = page.evaluate("window.kaoheModeler.saveXML().then(r => r.xml)")
    assert 'resultVariable="month_deadlines"' in xml
    assert '<spiffworkflow:parameter id="note" type="str" value="&#34;x&#34;"' in xml \
        or '<spiffworkflow:parameter id="note" type="str" value="&quot;x&quot;"' in xml
    assert problems == []
