"""Every route × every persona: who may open or do what, asserted against one table.

The world has one of everything (a finished inspection round, the rectification it opened for
unit P02 with an open task, the demo task book of P01, a scored month, a token). Each persona
calls every route, pages with a session and /api/v1 with the persona's own token; a route added
without an entry in ACCESS fails the walk, so no door is left unguarded by omission."""
from __future__ import annotations

import os

import pytest

from tests.security.access_table import ACCESS, DESTRUCTIVE, NOT_CHANGES, OVERRIDES
from tests.security.walk import PERSONAS, build, fill, last_event_id, recorded_by, request_body, sign_in, verdict
from web import create_app

ORDER = list(PERSONAS)  # least to most privileged: a permitted change comes after the refusals


def _routes(app):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    calls = [(r, m) for r in rules for m in sorted(r.methods - {"HEAD", "OPTIONS"})]
    # Reads first, then changes, the ones that end things (terminate, revoke, deactivate) last.
    return sorted(calls, key=lambda c: (c[1] != "GET", c[0].endpoint in DESTRUCTIVE, c[0].rule))


@pytest.fixture
def world_app(tracked):
    world = build(tracked)
    app = create_app({"TESTING": True, "KAOHE_RUNTIME": tracked, "START_SCHEDULER": False,
                      "WTF_CSRF_ENABLED": False})
    return tracked, world, app


def test_every_route_answers_every_persona_as_the_table_says(world_app):
    rt, world, app = world_app
    clients = {p: sign_in(app, rt, world.usernames[p]) for p in ORDER}
    missing = sorted({f"{m} {r.endpoint}" for r, m in _routes(app) if (r.endpoint, m) not in ACCESS})
    assert os.environ.get("KAOHE_PRINT_ACCESS") or not missing, "routes with no entry in the access table:\n" + "\n".join(missing)
    wrong, seen = [], {}
    for rule, method in _routes(app):
        api = rule.rule.startswith("/api/")
        path = fill(rule.rule, rule.endpoint, world, OVERRIDES)
        allowed = ACCESS.get((rule.endpoint, method), set())
        first_allowed = next((p for p in ORDER if p in allowed), None)
        for persona in ORDER:
            client, secret = clients[persona]
            headers = {"Authorization": f"Bearer {secret}"} if api and secret else {}
            if api:
                client = app.test_client()  # the token alone, no session
            before = last_event_id(rt)
            response = client.open(path, method=method, headers=headers, **request_body(rule.endpoint, method, api, world))
            got = verdict(response, api, rule.endpoint)
            # The first permitted call changes the world; later ones may repeat it and change nothing.
            if (method != "GET" and persona == first_allowed and response.status_code < 400
                    and rule.endpoint not in NOT_CHANGES and not recorded_by(rt, before, world.usernames[persona])):
                wrong.append(f"{method} {path} as {persona}: changed something with no audit event naming them")
            seen[(rule.endpoint, method, persona)] = got
            expected_ok = persona in allowed
            if got == "error":
                wrong.append(f"{method} {path} as {persona}: {response.status_code} (server error)")
            elif expected_ok and got in ("deny", "login"):
                wrong.append(f"{method} {path} as {persona}: refused ({response.status_code}), should be allowed")
            elif not expected_ok and got not in ("deny", "login", "missing"):
                wrong.append(f"{method} {path} as {persona}: {response.status_code}, should be refused")
    if os.environ.get("KAOHE_PRINT_ACCESS"):
        _print_matrix(app, seen)
    assert not wrong, f"{len(wrong)} answers differ from the access table:\n" + "\n".join(wrong)


def _print_matrix(app, seen):
    short = {"allow": "A", "deny": "-", "login": "L", "missing": "4", "error": "E"}
    print("\n" + " " * 58 + " ".join(p[:5].ljust(5) for p in ORDER))
    for rule, method in _routes(app):
        row = [short[seen[(rule.endpoint, method, p)]].ljust(5) for p in ORDER]
        print(f"{method:4} {rule.endpoint[:52]:53} {' '.join(row)}")


def test_every_change_through_a_page_needs_the_csrf_token(world_app):
    """With the session cookie alone, no POST to a page (sign-in included) changes anything."""
    rt, world, _app = world_app
    app = create_app({"TESTING": True, "KAOHE_RUNTIME": rt, "START_SCHEDULER": False})
    client, _secret = sign_in(app, rt, world.usernames["admin"])
    before = last_event_id(rt)
    posts = [(r, m) for r, m in _routes(app) if m != "GET" and not r.rule.startswith("/api/")]
    assert len(posts) > 20
    for rule, method in posts:
        path = fill(rule.rule, rule.endpoint, world, OVERRIDES)
        response = client.open(path, method=method, **request_body(rule.endpoint, method, False, world))
        assert response.status_code == 400, f"{method} {path} answered {response.status_code} without a CSRF token"
    assert last_event_id(rt) == before
