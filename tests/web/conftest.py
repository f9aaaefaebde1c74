"""Fixtures for the page tests: the app on the test runtime, a client, and a started review case."""
from __future__ import annotations

import html
import re

import pytest

from engine.services import deploy, instances
from tests.support.files import review_bundle
from tests.support.people import PASSWORD
from web import create_app

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
JOB_DOWNLOAD = re.compile(r'id="job-download" href="([^"]+)"')


@pytest.fixture
def app(rt, people):
    return create_app({"TESTING": True, "KAOHE_RUNTIME": rt, "START_SCHEDULER": False})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def started(rt, people) -> int:
    """The test review process, deployed and started by the owner for unit U1 (alice's unit)."""
    deploy.deploy(rt, review_bundle(), people.owner)
    return instances.start(rt, "review", people.owner, data={"weight": 0.5, "unit_code": "U1"},
                           title="2025年5月 自评")


def csrf_token(html: str) -> str:
    """The token the page rendered into its forms, as a browser would send it back."""
    match = TOKEN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(page.get_data(as_text=True))})


def post_form(client, page_url: str, action: str, data: dict, **kwargs):
    """POST to `action` with the CSRF token taken from the page at `page_url`."""
    page = client.get(page_url)
    return client.post(action, data={**data, "csrf_token": csrf_token(page.get_data(as_text=True))}, **kwargs)


def run_job(client, page_url: str, kind: str, data: dict | None = None):
    """Press a page's export or import button: POST /jobs with the kind (and the form's fields or file),
    then follow to where the browser lands. The tests' work queue is `inline`, so that is the job's page
    with its outcome; a refusal (403, 404) is returned as is."""
    started = post_form(client, page_url, "/jobs", {"kind": kind, **(data or {})},
                        content_type="multipart/form-data")
    return client.get(started.location) if started.status_code == 302 else started


def job_download(client, job_page):
    """The file behind the job page's download button."""
    match = JOB_DOWNLOAD.search(job_page.get_data(as_text=True))
    assert match, "the job page offers no download"
    return client.get(html.unescape(match.group(1)))
