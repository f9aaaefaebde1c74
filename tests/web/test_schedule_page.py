"""The calendar page shows the performance office the next 12 firings, what fired, and holidays."""
from __future__ import annotations

from datetime import date

from engine.services.working_days import add_non_working_day
from tests.support.people import PASSWORD
from tests.web.conftest import csrf_token


def login(client, username):
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(page)})


def test_the_office_sees_the_next_firings_and_holidays(rt, app, people):
    add_non_working_day(rt, date(rt.clock.now().year, 12, 31), "年末", people.owner)
    owner = app.test_client()
    login(owner, "owner")
    page = owner.get("/schedule")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and text.count("<tr><td") == 12 and "年末" in text
    assert "考核通报会" in text or "旬抽查提醒" in text
    english = owner.get("/schedule?lang=en").get_data(as_text=True)
    assert "Coming up" in english and ("results report meeting" in english or "spot-check" in english)


def test_staff_may_not_see_the_calendar(app, people):
    staff = app.test_client()
    login(staff, "alice")
    assert staff.get("/schedule").status_code == 403
