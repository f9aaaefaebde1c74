"""Helpers every browser test uses: Debian's Chromium (never a downloaded browser), the page sizes,
screenshots into tests/browser/screenshots/ (ignored by git), and signing in."""
from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.people import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}


def shoot(page: Page, name: str) -> None:
    """Save the page at desktop and phone width, then return to desktop."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def sign_in(page: Page, base: str, username: str, *, screenshot: bool = False) -> None:
    page.goto(f"{base}/login")
    if screenshot:
        shoot(page, "0-login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{base}/tasks")
