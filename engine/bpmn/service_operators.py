"""Service tasks (`spiffworkflow:serviceTaskOperator id="..."`) call operators registered here.

The bpmn layer knows only this registry; the services that implement operators (they need the
database) register themselves, so the dependency points the right way (services -> bpmn).
"""
from __future__ import annotations

from typing import Callable

# name -> function(task, params: dict[str, value]) -> JSON-serialisable result
OPERATORS: dict[str, Callable] = {}


class UnknownOperator(LookupError):
    pass


def register(name: str):
    def decorate(function: Callable) -> Callable:
        OPERATORS[name] = function
        return function
    return decorate


def call(name: str, task, params: dict):
    operator = OPERATORS.get(name)
    if operator is None:
        raise UnknownOperator(f"未知的服务任务操作 {name} / unknown service task operator {name}")
    return operator(task, params)
