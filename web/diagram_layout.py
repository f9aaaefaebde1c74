"""A plain left-to-right layout for BPMN files written without coordinates (no BPMNDI).

The engine runs such files happily, but a viewer has nothing to draw. Diagrams made in a
modeler keep their own layout; only files without any BPMNDiagram get one computed here.
Lanes, data objects and annotations are left out; sub-processes are drawn collapsed.
"""
from __future__ import annotations

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"

EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
ACTIVITIES = {"task", "userTask", "manualTask", "scriptTask", "serviceTask", "businessRuleTask", "sendTask",
              "receiveTask", "callActivity", "subProcess", "transaction", "adHocSubProcess"}
CELL_W, CELL_H, MARGIN = 170, 130, 40


def _local(element) -> str:
    return etree.QName(element).localname


def _size(kind: str) -> tuple[int, int]:
    if kind in EVENTS:
        return 36, 36
    if kind.endswith("Gateway"):
        return 50, 50
    return 100, 80


def _columns(nodes: list[str], flows: list[tuple[str, str, str]], starts: list[str]) -> dict[str, int]:
    """Longest-path layering over the flows, ignoring the edges that close a loop."""
    outgoing: dict[str, list[str]] = {n: [] for n in nodes}
    for _fid, source, target in flows:
        if source in outgoing and target in outgoing:
            outgoing[source].append(target)
    order: list[str] = []
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}
    for root in starts + nodes:
        if root in state:
            continue
        stack = [(root, iter(outgoing[root]))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                order.append(node)
                stack.pop()
            elif state.get(child) == 1:
                back.add((node, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(outgoing[child])))
    column = {n: 0 for n in nodes}
    for node in reversed(order):  # reverse post-order is a topological order of the forward edges
        for child in outgoing[node]:
            if (node, child) not in back:
                column[child] = max(column[child], column[node] + 1)
    return column


def _waypoints(src: dict, dst: dict, backwards: bool) -> list[tuple[float, float]]:
    sx, sy = src["x"] + src["w"], src["y"] + src["h"] / 2
    tx, ty = dst["x"], dst["y"] + dst["h"] / 2
    if src.get("boundary"):
        sx, sy = src["x"] + src["w"] / 2, src["y"] + src["h"]
        return [(sx, sy), (sx, ty), (tx, ty)]
    if backwards:  # run under both shapes, back to the target's bottom
        below = max(src["y"] + src["h"], dst["y"] + dst["h"]) + 25
        bx, by = src["x"] + src["w"] / 2, src["y"] + src["h"]
        cx, cy = dst["x"] + dst["w"] / 2, dst["y"] + dst["h"]
        return [(bx, by), (bx, below), (cx, below), (cx, cy)]
    if abs(sy - ty) < 1:
        return [(sx, sy), (tx, ty)]
    middle = tx - 20
    return [(sx, sy), (middle, sy), (middle, ty), (tx, ty)]


def with_layout(xml: str, process_id: str) -> str:
    """The file unchanged if it has diagram coordinates, else the file with a computed layout."""
    root = etree.fromstring(xml.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False))
    if root.find(f"{{{BPMNDI_NS}}}BPMNDiagram") is not None:
        return xml
    process = next((p for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("id") == process_id), None)
    if process is None:
        return xml
    kinds: dict[str, str] = {}
    boundary_host: dict[str, str] = {}
    flows: list[tuple[str, str, str]] = []
    for child in process:
        if not isinstance(child.tag, str):
            continue
        kind, element_id = _local(child), child.get("id")
        if kind == "sequenceFlow":
            flows.append((element_id, child.get("sourceRef"), child.get("targetRef")))
        elif kind == "boundaryEvent":
            boundary_host[element_id] = child.get("attachedToRef")
            kinds[element_id] = kind
        elif kind in EVENTS or kind in ACTIVITIES or kind.endswith("Gateway"):
            kinds[element_id] = kind
    placed = [n for n in kinds if n not in boundary_host]
    starts = [n for n in placed if kinds[n] == "startEvent"]
    column = _columns(placed, flows, starts)
    # Boundary events sit on their host; what follows them is laid out as if it followed the host.
    for event, host in boundary_host.items():
        column[event] = column.get(host, 0)
    for _fid, source, target in flows:
        if source in boundary_host and target in column:
            column[target] = max(column[target], column[source] + 1)
    boxes: dict[str, dict] = {}
    used_rows: dict[int, int] = {}
    position = {node: index for index, node in enumerate(placed)}
    for node in sorted(placed, key=lambda n: (column[n], position[n])):
        row = used_rows.get(column[node], 0)
        used_rows[column[node]] = row + 1
        w, h = _size(kinds[node])
        x = MARGIN + column[node] * CELL_W + (CELL_W - w) / 2
        y = MARGIN + row * CELL_H + (CELL_H - h) / 2
        boxes[node] = {"x": x, "y": y, "w": w, "h": h}
    for event, host in boundary_host.items():
        if host in boxes:
            hb = boxes[host]
            boxes[event] = {"x": hb["x"] + hb["w"] - 50, "y": hb["y"] + hb["h"] - 18, "w": 36, "h": 36,
                            "boundary": True}

    nsmap = {"bpmndi": BPMNDI_NS, "dc": DC_NS, "di": DI_NS}
    diagram = etree.SubElement(root, f"{{{BPMNDI_NS}}}BPMNDiagram", nsmap=nsmap, id=f"{process_id}_di")
    plane = etree.SubElement(diagram, f"{{{BPMNDI_NS}}}BPMNPlane", id=f"{process_id}_plane",
                             bpmnElement=process_id)
    for node, box in boxes.items():
        attrs = {"id": f"{node}_di", "bpmnElement": node}
        if kinds[node] in ("subProcess", "transaction", "adHocSubProcess"):
            attrs["isExpanded"] = "false"
        shape = etree.SubElement(plane, f"{{{BPMNDI_NS}}}BPMNShape", **attrs)
        etree.SubElement(shape, f"{{{DC_NS}}}Bounds", x=f"{box['x']:g}", y=f"{box['y']:g}",
                         width=str(box["w"]), height=str(box["h"]))
        if kinds[node] in EVENTS or kinds[node].endswith("Gateway"):
            # Names of events and gateways go above the shape, clear of flows that leave below.
            label = etree.SubElement(shape, f"{{{BPMNDI_NS}}}BPMNLabel")
            centre = box["x"] + box["w"] / 2
            etree.SubElement(label, f"{{{DC_NS}}}Bounds", x=f"{centre - 50:g}", y=f"{box['y'] - 30:g}",
                             width="100", height="27")
    for flow_id, source, target in flows:
        if source not in boxes or target not in boxes:
            continue
        backwards = column.get(target, 0) <= column.get(source, 0) and source not in boundary_host
        edge = etree.SubElement(plane, f"{{{BPMNDI_NS}}}BPMNEdge", id=f"{flow_id}_di", bpmnElement=flow_id)
        for x, y in _waypoints(boxes[source], boxes[target], backwards):
            etree.SubElement(edge, f"{{{DI_NS}}}waypoint", x=f"{x:g}", y=f"{y:g}")
    return etree.tostring(root, encoding="unicode")
