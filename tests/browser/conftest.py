"""Browser-test fixtures: the app served from a background thread, one Chromium per module, and a
page that collects script errors and Content-Security-Policy violations."""
from __future__ import annotations

import threading

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, DESKTOP
from web import create_app


@pytest.fixture
def live_server(rt, people):
    """The app on the test runtime, served by Werkzeug from a background thread."""
    app = create_app({"TESTING": True, "KAOHE_RUNTIME": rt, "START_SCHEDULER": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="kaohe-test-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def problems() -> list[str]:
    """Script errors and Content-Security-Policy violations the page reports."""
    return []


@pytest.fixture
def page(browser, problems):
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    def on_console(message):
        # A refused form answers 422 on purpose; the browser logs every 4xx document as an error.
        if message.type == "error" and "status of 422" not in message.text:
            problems.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
