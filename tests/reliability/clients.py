"""Clients of a running kaohe for the reliability tests: API callers with bearer tokens and
signed-in browser-like page sessions, each answer recorded as a person or script would see it."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

import requests

from engine.runtime import SYSTEM
from engine.services import api_tokens
from engine.services.people import ensure_person
from tests.support.load_clients import Recorder  # noqa: F401  (the tests record their answers in it)
from tests.support.people import PASSWORD, password_hash

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
# What the loser of a race is told, on the page and in the API's JSON message.
COMPLETED_BY_OTHER = "已被他人完成"
CLAIMED_BY_OTHER = "已被他人认领"
SCORE = {"self_score": 77, "summary": "按期完成本月工作"}


def add_staff(rt, count: int, unit_code: str = "U1") -> list[str]:
    """`count` staff of one unit who may all take the unit's staff tasks; returns their usernames."""
    hashed = password_hash()
    names = [f"worker{n}" for n in range(count)]
    with rt.db.unit_of_work() as session:
        for name in names:
            ensure_person(session, name, f"员工{name}", password_hash=hashed, unit_code=unit_code, roles=("staff",))
    return names


def api_token(rt, username: str) -> str:
    return api_tokens.create(rt, SYSTEM, name=f"t-{username}", scope=["staff"], account=username).secret


@dataclass
class Answer:
    client: str
    kind: str  # api-complete, api-claim, page-complete ...
    task_id: int
    status: int  # 0: no answer (connection refused or cut: the server died)
    text: str = ""

    @property
    def server_error(self) -> bool:
        return self.status >= 500


def _message(response: requests.Response) -> str:
    """The API's message as a script reads it (the JSON body escapes Chinese), or the raw body."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    return body.get("message", response.text) if isinstance(body, dict) else response.text


class ApiClient:
    def __init__(self, name: str, token: str, recorder: Recorder):
        self.name, self.recorder = name, recorder
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def post(self, base: str, kind: str, task_id: int, path: str, body: dict | None = None) -> Answer:
        try:
            response = self.http.post(f"{base}/api/v1/tasks/{task_id}/{path}", json=body, timeout=60)
            answer = Answer(self.name, kind, task_id, response.status_code, _message(response))
        except requests.RequestException as error:
            answer = Answer(self.name, kind, task_id, 0, str(error))
        return self.recorder.add(answer)

    def complete(self, base: str, task_id: int) -> Answer:
        return self.post(base, "api-complete", task_id, "complete", {"data": SCORE})


class PageClient:
    """A person in a browser: signs in through the login form, submits the task form with its CSRF token."""

    def __init__(self, name: str, recorder: Recorder):
        self.name, self.recorder = name, recorder
        self.http = requests.Session()
        self.csrf = ""

    def sign_in(self, base: str) -> None:
        page = self.http.get(f"{base}/login", timeout=60)
        signed = self.http.post(f"{base}/login", data={"username": self.name, "password": PASSWORD,
                                                       "csrf_token": TOKEN.search(page.text).group(1)},
                                allow_redirects=False, timeout=60)
        assert signed.status_code == 302, signed.text
        # sign-in starts a fresh session, hence a fresh CSRF token: read it from a signed-in page
        self.csrf = TOKEN.search(self.http.get(f"{base}/tasks", timeout=60).text).group(1)

    def complete(self, base: str, task_id: int) -> Answer:
        try:
            response = self.http.post(f"{base}/tasks/{task_id}", data={**SCORE, "csrf_token": self.csrf},
                                      allow_redirects=False, timeout=60)
            answer = Answer(self.name, "page-complete", task_id, response.status_code, response.text)
        except requests.RequestException as error:
            answer = Answer(self.name, "page-complete", task_id, 0, str(error))
        return self.recorder.add(answer)


def succeeded(answer: Answer) -> bool:
    """A completion the person was told went through: the API's 200, the page's redirect to the inbox."""
    return answer.status == 200 if answer.kind.startswith("api") else answer.status == 302


def told_completed_elsewhere(answer: Answer) -> bool:
    return answer.status == 409 and COMPLETED_BY_OTHER in answer.text


def wait_until(condition, timeout: float, what: str, interval: float = 0.2):
    """Poll `condition` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
