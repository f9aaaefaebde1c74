"""Every shipped diagram opens in bpmn-js (the editor process owners use) without a warning, and
no two shapes of a diagram overlap, so what a process owner opens is a clean, readable diagram."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from playwright.sync_api import sync_playwright

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
DIAGRAMS = sorted((ROOT / "workflows").glob("*.bpmn"))
VIEWER = ROOT / "web" / "static" / "vendor" / "bpmn-js" / "bpmn-viewer.production.min.js"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC"}
IMPORT = """async (xml) => {
  const viewer = new BpmnJS({container: '#canvas'});
  try { return (await viewer.importXML(xml)).warnings.map(w => w.message); }
  catch (error) { return ['import failed: ' + error.message]; }
}"""


@pytest.fixture(scope="module")
def viewer_page():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        page.set_content("<div id='canvas' style='width:1600px;height:900px'></div>")
        page.add_script_tag(path=str(VIEWER))
        yield page
        browser.close()


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.stem)
def test_the_diagram_opens_in_bpmn_js_without_warnings(viewer_page, path):
    assert viewer_page.evaluate(IMPORT, path.read_text(encoding="utf-8")) == []


def _flow_node_bounds(path: Path) -> dict[str, tuple[float, float, float, float]]:
    tree = etree.parse(str(path))
    skip = {e.get("id") for e in tree.iter() if isinstance(e.tag, str) and etree.QName(e).localname in
            ("participant", "lane", "boundaryEvent", "subProcess")}
    bounds = {}
    for shape in tree.iterfind(".//bpmndi:BPMNShape", NS):
        if shape.get("bpmnElement") in skip:
            continue
        box = shape.find("dc:Bounds", NS)
        x, y, w, h = (float(box.get(k)) for k in ("x", "y", "width", "height"))
        bounds[shape.get("bpmnElement")] = (x, y, x + w, y + h)
    return bounds


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.stem)
def test_no_two_shapes_overlap(path):
    shapes = sorted(_flow_node_bounds(path).items())
    overlapping = [(a, b) for i, (a, (ax1, ay1, ax2, ay2)) in enumerate(shapes) for b, (bx1, by1, bx2, by2)
                   in shapes[i + 1:] if ax1 < bx2 and bx1 < ax2 and ay1 < by2 and by1 < ay2]
    assert overlapping == []
