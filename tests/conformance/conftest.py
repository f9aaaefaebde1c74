"""Fixtures for the conformance suite: a Runtime offering the script globals the upstream tests inject."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine.runtime import Runtime
from tests.conformance.driver import Driver


@pytest.fixture
def calls() -> list[int]:
    """How often the diagrams' `custom_function()` ran (the upstream tests count refills)."""
    return []


@pytest.fixture
def crt(rt, settings, database, calls) -> Runtime:
    """`rt` (tables emptied) plus the upstream tests' globals: `custom_function`, and `datetime` (the
    class) and `timedelta` unless the sandbox already offers them."""
    def custom_function():
        calls.append(1)
        return len(calls)

    helpers = {"custom_function": custom_function}
    environment = rt.script_engine.environment.globals
    offered = {**environment, **environment.get("__builtins__", {})}
    for name, value in (("datetime", datetime), ("timedelta", timedelta)):
        if name not in offered:
            helpers[name] = value
    return Runtime(settings, database=database, script_helpers=helpers)


@pytest.fixture
def drv(crt, people) -> Driver:
    """The process owner at work; tasks without a lane go to whoever started the instance."""
    return Driver(crt, people.owner)
