"""Clients that keep using a running kaohe (pages with a signed-in browser session, the API with a
bearer token) and record every answer: when it was asked, how long it took, what came back.
Reliability tests read the record to say what a person saw during an incident."""
from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from tests.support.people import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Answer:
    client: str
    kind: str           # page / api / static / complete
    url: str
    started: float      # time.monotonic() when asked
    seconds: float
    status: int         # 0: no HTTP answer at all (refused, timed out)
    body: str
    headers: dict

    @property
    def ended(self) -> float:
        return self.started + self.seconds

    def json(self) -> dict:
        try:
            return json.loads(self.body)
        except ValueError:
            return {}


@dataclass
class Recorder:
    answers: list[Answer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, answer: Answer) -> Answer:
        with self.lock:
            self.answers.append(answer)
        return answer

    def snapshot(self) -> list[Answer]:
        with self.lock:
            return list(self.answers)


class HttpClient:
    """One person's connection: cookies kept (a browser session), or a bearer token for the API."""

    def __init__(self, base: str, name: str, recorder: Recorder, *, token: str | None = None, timeout: float = 20):
        self.base, self.name, self.recorder, self.token, self.timeout = base, name, recorder, token, timeout
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, kind: str, path: str, *, data: bytes | None = None, content_type: str | None = None,
                headers: dict | None = None) -> Answer:
        request = urllib.request.Request(self.base + path, data=data, method="POST" if data is not None else "GET")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        if content_type:
            request.add_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                status, body, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            with error:
                status, body, got = error.code, error.read(), dict(error.headers)
        except OSError as error:  # refused, reset, timed out: no HTTP answer
            status, body, got = 0, str(error).encode(), {}
        return self.recorder.add(Answer(self.name, kind, path, started, time.monotonic() - started, status,
                                        body.decode("utf-8", "replace"), got))

    def get(self, kind: str, path: str, **kwargs) -> Answer:
        return self.request(kind, path, **kwargs)

    def post_json(self, kind: str, path: str, payload: dict) -> Answer:
        return self.request(kind, path, data=json.dumps(payload).encode(), content_type="application/json")

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        """Through the login form, as a browser: the session cookie then signs every page request."""
        page = self.get("page", "/login")
        token = CSRF.search(page.body)
        assert page.status == 200 and token, f"login page: {page.status}"
        form = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token.group(1)})
        done = self.request("page", "/login", data=form.encode(), content_type="application/x-www-form-urlencoded")
        assert done.status == 200 and 'name="password"' not in done.body, f"sign-in failed: {done.status}"
