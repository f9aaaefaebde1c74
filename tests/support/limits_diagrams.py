"""Diagrams for the limit tests (tests/reliability/test_limits.py): a form with unbounded fields,
a loop that piles up data, a launch of child instances, and files that try XML entity tricks."""
from __future__ import annotations

import io
import json
import zipfile

from engine.bpmn.bundle import SourceFile

NOTES_FORM = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "title": "说明"},          # no maxLength: KAOHE_MAX_TEXT_LENGTH applies
        "items": {"type": "array", "title": "事项", "items": {"type": "string"}},  # no maxItems
        "capped": {"type": "string", "title": "长文", "maxLength": 50_000},  # its own bound wins
    },
}

# start → (grow while len(pile) < grow_to) → write [form] → (grow while len(pile) < grow_after) → wait → end
PILE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="pile_defs" targetNamespace="t">
  <bpmn:process id="pile" name="限额测试" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane_staff" name="员工">
      <bpmn:flowNodeRef>write</bpmn:flowNodeRef><bpmn:flowNodeRef>wait</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="more1"/>
    <bpmn:exclusiveGateway id="more1" default="f_write"/>
    <bpmn:sequenceFlow id="f_grow1" sourceRef="more1" targetRef="grow1">
      <bpmn:conditionExpression>len(pile) &lt; grow_to</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:scriptTask id="grow1" name="堆数据"><bpmn:script>pile = pile + ["x" * 2000]</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f_back1" sourceRef="grow1" targetRef="more1"/>
    <bpmn:sequenceFlow id="f_write" sourceRef="more1" targetRef="write"/>
    <bpmn:userTask id="write" name="填写说明">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="notes.json"/>
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="write" targetRef="more2"/>
    <bpmn:exclusiveGateway id="more2" default="f_wait"/>
    <bpmn:sequenceFlow id="f_grow2" sourceRef="more2" targetRef="grow2">
      <bpmn:conditionExpression>len(pile) &lt; grow_after</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:scriptTask id="grow2" name="再堆数据"><bpmn:script>pile = pile + ["x" * 2000]</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f_back2" sourceRef="grow2" targetRef="more2"/>
    <bpmn:sequenceFlow id="f_wait" sourceRef="more2" targetRef="wait"/>
    <bpmn:userTask id="wait" name="等待"/>
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""

LAUNCH = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="launch_defs" targetNamespace="t">
  <bpmn:process id="launch" name="下发" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="spawn"/>
    <bpmn:serviceTask id="spawn" name="逐人下发">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="kaohe/start_instances" resultVariable="spawned">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="process" type="str" value="'pile'"/>
            <spiffworkflow:parameter id="items" type="list" value="people"/>
            <spiffworkflow:parameter id="item_variable" type="str" value="'username'"/>
            <spiffworkflow:parameter id="data" type="dict" value="{'pile': [], 'grow_to': 0, 'grow_after': 0}"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="spawn" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""

# Billion laughs: each level ten times the one before; expanded, a few hundred bytes become gigabytes.
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="laughs" name="&lol4;" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>
</bpmn:definitions>"""

# An external entity: a parser that resolved it would put a local file's content into the diagram.
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="peek" name="&secret;" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>
</bpmn:definitions>"""


def pile_bundle() -> list[SourceFile]:
    return [SourceFile("pile.bpmn", PILE), SourceFile("notes.json", json.dumps(NOTES_FORM, ensure_ascii=False))]


def launch_bundle() -> list[SourceFile]:
    return [SourceFile("launch.bpmn", LAUNCH)]


def bloated_definition(kilobytes: int) -> SourceFile:
    """A well-formed diagram padded with a documentation text to about `kilobytes` KB."""
    padding = "说明" * (kilobytes * 1024 // 6 + 1)
    return SourceFile("bloated.bpmn", PILE.replace('name="限额测试"', 'name="大文件"').replace(
        "<bpmn:startEvent id=\"start\"/>", f"<bpmn:startEvent id=\"start\"><bpmn:documentation>{padding}"
        "</bpmn:documentation></bpmn:startEvent>"))


def zip_bomb_xlsx(unpacked_mb: int) -> bytes:
    """An .xlsx-shaped zip whose sheet is `unpacked_mb` MB of spaces (a few KB compressed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/content-types"/>')
        package.writestr("xl/worksheets/sheet1.xml", b" " * (unpacked_mb * 1024 * 1024))
    return buffer.getvalue()


def many_rows_csv(rows: int) -> bytes:
    lines = ["单位编码,单位名称,类别"] + [f"X{n:05d},单位{n},production" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode("utf-8")


# start → a timer (0.3 s) → (grow while len(pile) < grow_to) → wait: the growth happens unattended.
TIMED_PILE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="timed_defs" targetNamespace="t">
  <bpmn:process id="timed_pile" name="定时堆数据" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="later"/>
    <bpmn:intermediateCatchEvent id="later" name="稍后">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT0.3S"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="later" targetRef="more"/>
    <bpmn:exclusiveGateway id="more" default="f_wait"/>
    <bpmn:sequenceFlow id="f_grow" sourceRef="more" targetRef="grow">
      <bpmn:conditionExpression>len(pile) &lt; grow_to</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:scriptTask id="grow" name="堆数据"><bpmn:script>pile = pile + ["x" * 2000]</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f_back" sourceRef="grow" targetRef="more"/>
    <bpmn:sequenceFlow id="f_wait" sourceRef="more" targetRef="wait"/>
    <bpmn:userTask id="wait" name="等待"/>
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def timed_pile_bundle() -> list[SourceFile]:
    return [SourceFile("timed_pile.bpmn", TIMED_PILE)]
