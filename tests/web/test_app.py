"""The app factory: the embedded scheduler starts once per process, and a person's saved language."""
from __future__ import annotations

import pytest
from sqlalchemy import update

import engine.scheduling
import web
from engine.models import Person
from tests.web.conftest import login
from web import create_app


class FakeScheduler:
    started: list = []

    def __init__(self, rt):
        self.rt = rt

    def start(self):
        FakeScheduler.started.append(self)

    def shutdown(self):
        pass


@pytest.fixture
def fake_scheduler(monkeypatch):
    FakeScheduler.started = []
    monkeypatch.setattr(engine.scheduling, "TimerScheduler", FakeScheduler)
    monkeypatch.setattr(web, "_scheduler", None)
    monkeypatch.setattr(web.atexit, "register", lambda _fn: None)
    return FakeScheduler


def test_the_embedded_scheduler_starts_once_per_process(rt, fake_scheduler, monkeypatch):
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    first = create_app({"KAOHE_RUNTIME": rt, "START_SCHEDULER": True})
    second = create_app({"KAOHE_RUNTIME": rt, "START_SCHEDULER": True})
    assert len(fake_scheduler.started) == 1
    assert first.extensions["kaohe_scheduler"] is second.extensions["kaohe_scheduler"]
    assert first.extensions["kaohe"] is rt


def test_no_scheduler_in_tests_or_in_the_reloaders_watching_parent(rt, fake_scheduler, monkeypatch):
    assert "kaohe_scheduler" not in create_app({"KAOHE_RUNTIME": rt, "TESTING": True}).extensions
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "false")
    assert "kaohe_scheduler" not in create_app({"KAOHE_RUNTIME": rt, "START_SCHEDULER": True}).extensions
    assert fake_scheduler.started == []


def test_a_persons_saved_language_is_used_until_they_pick_another(client, rt, people):
    with rt.db.unit_of_work() as session:
        session.execute(update(Person).where(Person.username == "alice").values(language="en"))
    login(client, "alice")
    assert "My tasks" in client.get("/tasks").get_data(as_text=True)
    assert "待办任务" in client.get("/tasks?lang=zh_CN").get_data(as_text=True)
    assert "待办任务" in client.get("/tasks").get_data(as_text=True)  # the cookie now wins


def test_session_settings(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 8 * 3600
