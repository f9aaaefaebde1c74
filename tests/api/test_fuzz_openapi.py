"""Schemathesis against /api/v1/openapi.json: random and malformed calls to every operation, made
with an administrator's token on a small organisation with a running case. No call may answer 5xx,
and every answer must match the status codes, content types and schema its operation documents.

Bounded (a few examples per operation) so the suite stays within minutes; a deeper run is
`KAOHE_FUZZ_EXAMPLES=200 pytest tests/api/test_fuzz_openapi.py`."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)
from schemathesis.checks import not_a_server_error

from engine.services.people import actor_for, ensure_person
from tests.api.conftest import token_for

EXAMPLES = int(os.environ.get("KAOHE_FUZZ_EXAMPLES", "8"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def superuser_token(rt, people, started) -> str:
    """One account holding every office role, so the calls reach past the permission checks."""
    with rt.db.unit_of_work() as session:
        person = ensure_person(session, "root", "系统管理员", unit_code="U1",
                               roles=("admin", "process_owner", "auditor", "staff", "unit_head"))
        actor = actor_for(person)
    return token_for(rt, actor)


def test_no_call_breaks_the_server_or_its_documented_answer(api_schema, superuser_token):
    """Every operation in turn (schemathesis' pytest plugin does not run under this pytest, so the
    operations are walked here; hypothesis still shrinks a failure to its smallest call)."""
    headers = {"Authorization": f"Bearer {superuser_token}"}
    failures = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10, "the API document lists too few operations"
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case):
            case.call_and_validate(headers=headers, checks=CHECKS)
        try:
            call()
        except Exception as failure:  # collected, so one run reports every broken operation
            failures.append(f"{operation.label}: {failure}")
    assert not failures, "\n\n".join(failures)
