"""The locust users of bench/http_load.py (which runs this file; it is not run on its own).

Each simulated person signs in once through the login form (CSRF token from the form, session
cookie kept) and then loads the inbox, /tasks, again and again with no pause. The statistics are
reset the moment the last person has signed in and the run ends BENCH_SECONDS later, so the
figures are the inbox alone at full load, not the sign-ins (argon2 is slow on purpose).

It also reports the CPU time the gunicorn workers (BENCH_SERVER_PIDS) and this load generator
spent per inbox page over the same window, read from /proc: unlike response times, that figure
hardly moves when other programs share the cores.

Reads BENCH_USERNAMES (comma-separated, one person per simulated user), BENCH_PASSWORD,
BENCH_SECONDS and BENCH_SERVER_PIDS.
"""
from __future__ import annotations

import itertools
import os
import re
import sys
import time
from urllib.parse import urlencode

import gevent
from locust import FastHttpUser, constant, events, task

USERNAMES = os.environ.get("BENCH_USERNAMES", "").split(",")
PASSWORD = os.environ.get("BENCH_PASSWORD", "")
SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
# The inbox's filter form, in any language: a page without it is not the inbox.
INBOX_MARK = 'id="q-scope"'

SERVER_PIDS = [int(pid) for pid in os.environ.get("BENCH_SERVER_PIDS", "").split(",") if pid]
_next_username = itertools.count()
_signed_in = 0
_began = time.monotonic()
_window: dict[str, float] = {}  # CPU seconds and clock at the start of the measured window


def _server_cpu_seconds() -> float:
    """User + system time of the server's processes so far (Linux /proc; 0 where unreadable)."""
    ticks = 0
    for pid in SERVER_PIDS:
        try:
            fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _start_window() -> None:
    _window.update(server=_server_cpu_seconds(), own=time.process_time(), clock=time.monotonic())


class InboxReader(FastHttpUser):
    wait_time = constant(0)  # no think time: each user is a closed loop of requests

    def on_start(self) -> None:
        self.username = USERNAMES[next(_next_username) % len(USERNAMES)]
        form = self.client.get("/login", name="GET /login")
        token = TOKEN.search(form.text or "")
        body = urlencode({"username": self.username, "password": PASSWORD,
                          "csrf_token": token.group(1) if token else ""})
        with self.client.post("/login", name="POST /login", data=body, allow_redirects=False, catch_response=True,
                              headers={"Content-Type": "application/x-www-form-urlencoded"}) as answer:
            if answer.status_code != 302 or not answer.headers.get("Location", "").endswith("/tasks"):
                answer.failure(f"sign-in of {self.username} refused ({answer.status_code})")
        self._count_sign_in()

    def _count_sign_in(self) -> None:
        global _signed_in
        _signed_in += 1
        if _signed_in == self.environment.parsed_options.num_users:
            self.environment.stats.reset_all()
            _start_window()
            gevent.spawn_later(SECONDS, self.environment.runner.quit)
            print(f"BENCH all {_signed_in} users signed in after {time.monotonic() - _began:.1f} s; "
                  f"measuring {SECONDS:.0f} s from now", file=sys.stderr, flush=True)

    @task
    def inbox(self) -> None:
        with self.client.get("/tasks", name="GET /tasks", allow_redirects=False, catch_response=True) as page:
            if page.status_code != 200:
                page.failure(f"status {page.status_code}")
            elif INBOX_MARK not in (page.text or ""):
                page.failure("not the inbox page")


@events.quitting.add_listener
def _report_cpu(environment, **_kwargs) -> None:
    if _signed_in < environment.parsed_options.num_users:
        print(f"BENCH only {_signed_in} users signed in: the statistics include sign-ins",
              file=sys.stderr, flush=True)
        return
    pages = environment.stats.get("GET /tasks", "GET").num_requests
    if not pages or not SERVER_PIDS:
        return
    elapsed = time.monotonic() - _window["clock"]
    server = _server_cpu_seconds() - _window["server"]
    own = time.process_time() - _window["own"]
    print(f"BENCH cpu per page: gunicorn workers {server / pages * 1000:.1f} ms, locust {own / pages * 1000:.1f} ms "
          f"(over {elapsed:.0f} s the workers used {server / elapsed:.2f} cores, locust {own / elapsed:.2f})",
          file=sys.stderr, flush=True)
