"""Fixtures for the REST API tests: the app on the test runtime and clients that call it with a
bearer token issued, as an administrator would, to one of the test people."""
from __future__ import annotations

import pytest

from engine.runtime import SYSTEM
from engine.services import api_tokens
from web import create_app


class ApiClient:
    """The Flask test client plus `Authorization: Bearer …` on every call."""

    def __init__(self, client, secret: str | None):
        self.client, self.secret = client, secret

    def _headers(self, headers):
        merged = dict(headers or {})
        if self.secret:
            merged.setdefault("Authorization", f"Bearer {self.secret}")
        return merged

    def get(self, path, headers=None, **kwargs):
        return self.client.get(path, headers=self._headers(headers), **kwargs)

    def post(self, path, headers=None, **kwargs):
        return self.client.post(path, headers=self._headers(headers), **kwargs)

    def delete(self, path, headers=None, **kwargs):
        return self.client.delete(path, headers=self._headers(headers), **kwargs)


def token_for(rt, actor, name: str | None = None) -> str:
    """A token acting as `actor`'s account with every role the account holds."""
    created = api_tokens.create(rt, SYSTEM, name=name or f"t-{actor.username}", scope=sorted(actor.roles) or ["staff"],
                                account=actor.username)
    return created.secret


@pytest.fixture
def app(rt, people):
    return create_app({"TESTING": True, "KAOHE_RUNTIME": rt, "START_SCHEDULER": False})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api_as(rt, app):
    """api_as(people.alice) → an ApiClient calling with a token of alice's."""
    made: dict[str, ApiClient] = {}

    def make(actor) -> ApiClient:
        if actor.username not in made:
            made[actor.username] = ApiClient(app.test_client(), token_for(rt, actor))
        return made[actor.username]
    return make


@pytest.fixture
def anonymous(app) -> ApiClient:
    return ApiClient(app.test_client(), None)


@pytest.fixture
def started(rt, people) -> int:
    """The test review process, deployed and started by the owner for unit U1 (alice's unit)."""
    from engine.services import deploy, instances
    from tests.support.files import review_bundle
    deploy.deploy(rt, review_bundle(), people.owner)
    return instances.start(rt, "review", people.owner, data={"weight": 0.5, "unit_code": "U1"},
                           title="2025年5月 自评")
