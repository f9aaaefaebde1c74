"""Sign-in throttling: failed attempts are counted per address and per username (Flask-Limiter),
so passwords cannot be guessed at speed and one address cannot try many accounts.

Only failures count: a person who signs in and out all day is never throttled."""
from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

PER_ADDRESS = "10 per minute;100 per day"
PER_USERNAME = "5 per minute;20 per hour"


def _username() -> str:
    return "user:" + request.form.get("username", "").strip().lower()[:64]


def _failed(response) -> bool:
    return request.method == "POST" and response.status_code != 302  # success redirects


def init_app(app: Flask, storage_uri: str) -> None:
    """One Limiter per app, so apps built side by side (tests) keep separate counts."""
    limiter = Limiter(get_remote_address, app=app, storage_uri=storage_uri, default_limits=[],
                      headers_enabled=True, strategy="moving-window")
    view = app.view_functions["auth.login"]
    limited = limiter.limit(PER_ADDRESS, methods=["POST"], deduct_when=_failed)(view)
    limited = limiter.limit(PER_USERNAME, key_func=_username, methods=["POST"], deduct_when=_failed)(limited)
    app.view_functions["auth.login"] = limited
    app.extensions["kaohe_limiter"] = limiter
