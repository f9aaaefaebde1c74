"""Find every piece of Python a diagram or decision table carries, and check it at deploy time.

SpiffWorkflow runs scripts, gateway conditions, timer texts, multi-instance expressions,
pre/post scripts and DMN cells through one script engine; each must pass the sandbox's
compile-time check before a version is stored.
"""
from __future__ import annotations

import re

from lxml import etree

from engine.bpmn.scripting import check_source
from engine.errors import Problem

# BPMN/spiff element local name -> how its text is run.
_BPMN_EXPRESSIONS = {
    "script": "exec", "preScript": "exec", "postScript": "exec",
    "conditionExpression": "eval", "condition": "eval",
    "timeDuration": "eval", "timeDate": "eval", "timeCycle": "eval",
    "loopCardinality": "eval", "completionCondition": "eval", "loopCondition": "eval",
    "messagePayload": "eval",
}
_DMN_OPERATOR_START = re.compile(r"^\s*(<=|>=|==|!=|<|>|not\s+in\b|in\b)")
_TIMER_TAGS = ("timeDuration", "timeDate", "timeCycle")
# SpiffWorkflow joins a DMN input and a cell starting with an operator WITHOUT a space: `rank` and
# `in (1, 2)` become `rankin (1, 2)`, an unknown name at run time. Such cells must use `?`.
_DMN_WORD_OPERATOR = re.compile(r"^\s*(not\s+in|in|is|and|or)\b")
# An ISO 8601 duration, cycle or date written bare: SpiffWorkflow reads timer texts as Python, so
# `PT5M` is an unknown name at run time; it must be written "PT5M" (or name a data variable).
_BARE_ISO_TIME = re.compile(r"^(R\d*/)?P(\d|T\d)|^\d{4}-\d{2}-\d{2}")


def _element_id(node) -> str | None:
    while node is not None:
        if node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


def _dmn_cell_as_expression(text: str) -> str | None:
    """SpiffWorkflow's reading of an input cell: '-' is any, '?' the input, a leading operator applies to it."""
    text = text.strip()
    if text in ("", "-"):
        return None
    text = text.replace("?", "dmninputexpr")
    if _DMN_OPERATOR_START.match(text):
        return f"dmninputexpr {text}"
    return text


def _sources(root):
    """Yield (node, mode, source) for every expression in a BPMN or DMN document."""
    for node in root.iter():
        if not isinstance(node.tag, str) or not ((node.text and node.text.strip()) or node.get("value")):
            continue
        tag = etree.QName(node).localname
        if tag == "parameter" and node.get("value"):  # a service task parameter: an expression
            yield node, "eval", node.get("value")
            continue
        if tag in _BPMN_EXPRESSIONS and etree.QName(node).namespace != "http://camunda.org/schema/1.0/bpmn":
            yield node, _BPMN_EXPRESSIONS[tag], node.text
        elif tag == "text":
            parent = etree.QName(node.getparent()).localname
            if parent in ("inputExpression", "outputEntry"):
                yield node, "eval", node.text
            elif parent == "inputEntry":
                expression = _dmn_cell_as_expression(node.text)
                if expression is not None:
                    yield node, "eval", expression


def _is_dmn_input_entry(node) -> bool:
    return etree.QName(node).localname == "text" and etree.QName(node.getparent()).localname == "inputEntry"


def _split(reason: str) -> tuple[str, str]:
    """The sandbox reports "中文 / English"; keep each language on its own side."""
    zh, sep, en = reason.partition(" / ")
    return (zh, en) if sep else (reason, reason)


def expression_problems(filename: str, root) -> list[Problem]:
    problems = []
    for node, mode, source in _sources(root):
        element = _element_id(node)
        if _is_dmn_input_entry(node) and _DMN_WORD_OPERATOR.match(node.text or ""):
            text = node.text.strip()
            problems.append(Problem(filename, element, f"决策表单元格「{text}」须写作「? {text}」",
                                    f"decision table cell '{text}' must be written '? {text}'", node.sourceline))
            continue
        if etree.QName(node).localname in _TIMER_TAGS and _BARE_ISO_TIME.match(source.strip()):
            text = source.strip()
            problems.append(Problem(filename, element, f"定时器表达式 {text} 须加引号，写作 \"{text}\"",
                                    f'timer expression {text} must be quoted: "{text}"', node.sourceline))
            continue
        for reason in check_source(source.strip(), mode):
            zh, en = _split(reason)
            problems.append(Problem(filename, element, f"不安全或无效的脚本/表达式：{zh}",
                                    f"unsafe or invalid script/expression: {en}", node.sourceline))
    return problems
