"""Under the strict Content-Security-Policy, in Chromium: names with markup in a deployed diagram show
as text in the instance page's viewer and in the editor (nothing runs), the editor still works, and
the API's Swagger UI page renders its operations, all without a single CSP violation."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from engine.bpmn.bundle import SourceFile
from engine.services import deploy, instances, tasks
from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, DESKTOP, sign_in

IMG = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=1</script>"
LANE = "<img src=x onerror=__pwned=1>"  # a lane name that is no known role is a role code: at most 32 characters
PROCESS = "流程" + SCRIPT


def xml_attr(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


PROBE = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
                  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
                  xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
                  id="xss_defs" targetNamespace="http://kaohe.test/xss">
  <bpmn:collaboration id="xss_collab">
    <bpmn:participant id="xss_pool" name="{xml_attr(PROCESS)}" processRef="xss_probe"/>
  </bpmn:collaboration>
  <bpmn:process id="xss_probe" name="{xml_attr(PROCESS)}" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_starter" name="发起人">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>first</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_evil" name="{xml_attr(LANE)}">
        <bpmn:flowNodeRef>second</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first"/>
    <bpmn:userTask id="first" name="{xml_attr(SCRIPT)}"/>
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second"/>
    <bpmn:userTask id="second" name="{xml_attr(IMG)}"/>
    <bpmn:sequenceFlow id="f3" sourceRef="second" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="xss_diagram">
    <bpmndi:BPMNPlane id="xss_plane" bpmnElement="xss_collab">
      <bpmndi:BPMNShape id="xss_pool_di" bpmnElement="xss_pool" isHorizontal="true">
        <dc:Bounds x="100" y="50" width="700" height="300"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="lane_starter_di" bpmnElement="lane_starter" isHorizontal="true">
        <dc:Bounds x="130" y="50" width="670" height="150"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="lane_evil_di" bpmnElement="lane_evil" isHorizontal="true">
        <dc:Bounds x="130" y="200" width="670" height="150"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="180" y="107" width="36" height="36"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="first_di" bpmnElement="first"><dc:Bounds x="260" y="85" width="120" height="80"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="second_di" bpmnElement="second"><dc:Bounds x="440" y="235" width="120" height="80"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end"><dc:Bounds x="640" y="257" width="36" height="36"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1"><di:waypoint x="216" y="125"/><di:waypoint x="260" y="125"/>
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f2_di" bpmnElement="f2"><di:waypoint x="380" y="125"/><di:waypoint x="410" y="125"/>
        <di:waypoint x="410" y="275"/><di:waypoint x="440" y="275"/></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f3_di" bpmnElement="f3"><di:waypoint x="560" y="275"/><di:waypoint x="640" y="275"/>
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""

# Every violation the page sees, also those a console message might not name.
WATCH_CSP = """window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"""


def squeeze(value: str) -> str:
    """bpmn-js wraps a long label into lines at its spaces; compare without the whitespace."""
    return re.sub(r"\s+", "", value)


def assert_nothing_ran(page, problems: list[str]) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("window.__csp") == []
    assert [p for p in problems if "Content Security Policy" in p] == []
    assert problems == []  # no script error either, e.g. an image "x" that does not exist
    assert page.locator('img[src="x"]').count() == 0


@pytest.fixture
def probe_case(rt, people) -> int:
    """The probe deployed, started by the owner, and its first step done: the second step is waiting."""
    deploy.deploy(rt, [SourceFile("xss_probe.bpmn", PROBE)], people.owner)
    case = instances.start(rt, "xss_probe", people.owner, title="标题" + IMG)
    [first] = [t for t in tasks.inbox(rt, people.owner) if t.instance_id == case]
    tasks.complete(rt, first.id, people.owner, {})
    return case


def test_names_with_markup_show_as_text_in_the_instance_diagram(live_server, page, problems, probe_case):
    page.add_init_script(WATCH_CSP)
    sign_in(page, live_server, "owner")
    page.goto(f"{live_server}/instances/{probe_case}")
    diagram = page.locator("#diagram.diagram-ready")
    expect(diagram.locator('.djs-element.kaohe-done[data-element-id="first"]')).to_have_count(1)
    expect(diagram.locator('.djs-element.kaohe-active[data-element-id="second"]')).to_have_count(1)
    for element, name in (("first", SCRIPT), ("second", IMG), ("lane_evil", LANE), ("xss_pool", PROCESS)):
        label = diagram.locator(f'.djs-element[data-element-id="{element}"] text').first
        assert squeeze(label.text_content()) == squeeze(name), element
    expect(page.locator("h1")).to_contain_text("标题" + IMG)
    expect(page.locator("#history")).to_contain_text(SCRIPT)
    expect(page.locator("#history")).to_contain_text(IMG)
    assert_nothing_ran(page, problems)


def test_the_editor_draws_the_names_as_text_and_works_under_the_policy(live_server, page, problems, probe_case):
    page.add_init_script(WATCH_CSP)
    sign_in(page, live_server, "owner")
    page.goto(f"{live_server}/processes/xss_probe/edit")
    expect(page.locator("#editor.editor-ready")).to_have_count(1)
    expect(page.locator("#modeler .djs-container > svg")).to_have_count(1)
    expect(page.locator("h1")).to_contain_text(PROCESS)
    for element, name in (("first", SCRIPT), ("second", IMG), ("lane_evil", LANE)):
        label = page.locator(f'#modeler .djs-element[data-element-id="{element}"] text').first
        assert squeeze(label.text_content()) == squeeze(name), element

    # The properties panel shows the names as typed, and the modeler edits and validates as usual.
    page.locator('#modeler .djs-shape[data-element-id="second"]').click()
    expect(page.locator("#p-id")).to_have_text("second")
    expect(page.locator("#p-lane")).to_have_text(LANE)
    expect(page.locator("#p-name")).to_have_value(IMG)
    page.locator("#p-name").fill(SCRIPT + "改")
    page.locator("#p-name").press("Tab")
    name = page.evaluate("window.kaoheModeler.get('elementRegistry').get('second').businessObject.name")
    assert name == SCRIPT + "改"
    page.get_by_role("button", name="校验").click()
    expect(page.locator("#editor-status")).to_have_text("校验通过，可以部署。")
    assert_nothing_ran(page, problems)


@pytest.fixture
def foreign_host_page(browser, problems):
    """A page that reaches the test server under a name other than localhost, as a real deployment would
    (Swagger UI behaves differently on localhost)."""
    host_browser = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP docs.kaohe.test 127.0.0.1"])
    page = host_browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
    page.on("console", lambda m: m.type == "error" and problems.append(f"{m.text} ({m.location.get('url')})"))
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    host_browser.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "docs.kaohe.test"])
def test_the_api_docs_render_their_operations_under_the_policy(live_server, page, foreign_host_page, problems,
                                                               host):
    docs_page = page if host == "127.0.0.1" else foreign_host_page
    docs_page.add_init_script(WATCH_CSP)
    base = live_server.replace("127.0.0.1", host)
    docs_page.goto(f"{base}/api/v1/docs")
    expect(docs_page.locator(".swagger-ui .info .title")).to_contain_text("kaohe")
    expect(docs_page.locator('.opblock-summary-path[data-path="/api/v1/tasks"]').first).to_be_visible()
    expect(docs_page.locator('.opblock-summary-path[data-path="/api/v1/instances"]').first).to_be_visible()
    docs_page.locator('.opblock-summary-path[data-path="/api/v1/tasks"]').first.click()
    expect(docs_page.locator(".opblock.is-open").first).to_be_visible()
    docs_page.wait_for_load_state("networkidle")
    assert docs_page.evaluate("window.__csp") == []
    # The stand-alone docs page links no icon, so the browser's guess at /favicon.ico is a harmless 404.
    assert [p for p in problems if "/favicon.ico" not in p] == []
    # No request leaves the site (Swagger UI's online validator badge would send the spec's address out).
    assert docs_page.locator('img[src*="validator.swagger.io"]').count() == 0
