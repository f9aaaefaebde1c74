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
        if not isinstance(node.tag, str) or not (node.text and node.text.strip()):
            continue
        tag = etree.QName(node).localname
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


def expression_problems(filename: str, root) -> list[Problem]:
    problems = []
    for node, mode, source in _sources(root):
        for reason in check_source(source.strip(), mode):
            problems.append(Problem(filename, _element_id(node),
                                    f"不安全或无效的脚本/表达式：{reason}",
                                    f"unsafe or invalid script/expression: {reason}", node.sourceline))
    return problems
