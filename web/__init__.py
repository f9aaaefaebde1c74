"""The kaohe web app: server-rendered pages over the engine's services.

`web` imports `engine`; the engine never imports Flask or this package.
"""
from __future__ import annotations

import atexit
import os
import threading
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from engine.runtime import Runtime
from engine.settings import DEVELOPMENT_SECRET, Settings
from web.schemas.common import MAX_ID

HERE = Path(__file__).resolve().parent
csrf = CSRFProtect()

# One scheduler per process, however many apps a process builds (tests, the reloader parent).
_scheduler_lock = threading.Lock()
_scheduler = None


class DatabaseId(IntegerConverter):
    """`<int:…>` in every route: an id a database column can hold (1 … 2³¹−1, PostgreSQL's
    integer). A larger number is no id at all: 404, rather than an overflow in the driver."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def _check_secret(settings: Settings) -> None:
    """Served over TLS means served for real: then the development key would let anyone forge a
    session, so kaohe refuses to start rather than run with it."""
    if settings.secure_cookies and settings.secret_key == DEVELOPMENT_SECRET:
        raise RuntimeError("KAOHE_SECURE_COOKIES is on but KAOHE_SECRET_KEY is not set: set a long random "
                           "KAOHE_SECRET_KEY (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")


def request_limits(settings: Settings) -> dict:
    from web.limits import config_for
    return config_for(settings)


def create_app(config: dict | None = None) -> Flask:
    """Build the app. `config` may carry KAOHE_RUNTIME (a ready Runtime) and any Flask setting."""
    config = dict(config or {})
    app = Flask(__name__, instance_relative_config=False)
    app.url_map.converters["int"] = DatabaseId
    rt: Runtime = config.get("KAOHE_RUNTIME") or Runtime(Settings.from_env())
    _check_secret(rt.settings)
    app.config.from_mapping(
        SECRET_KEY=rt.settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=rt.settings.secure_cookies,
        # Refreshed on every request, so this is the idle limit; web.auth_user adds an absolute one.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=rt.settings.session_hours),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=rt.settings.secure_cookies,
        REMEMBER_COOKIE_SAMESITE="Lax",
        KAOHE_TIMEZONE=rt.settings.timezone,
        # The request body, a form's fields and their text, bounded (web/limits.py, KAOHE_MAX_REQUEST_MB ...).
        **request_limits(rt.settings),
        # A form may stay open for as long as the session lives; an expired token would lose the typing.
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.update(config)
    app.extensions["kaohe"] = rt

    from web import api, auth_user, errors, i18n, limits, login_limits, security, templating
    from web.blueprints import register_blueprints

    csrf.init_app(app)
    i18n.init_app(app)
    auth_user.init_app(app)
    templating.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    limits.init_app(app)
    register_blueprints(app)
    api.init_app(app)
    login_limits.init_app(app, rt.settings.ratelimit_storage)
    _maybe_start_scheduler(app, rt)
    return app


def _maybe_start_scheduler(app: Flask, rt: Runtime) -> None:
    """Embedded mode runs timer wake-ups in the web process, started once per process only."""
    wanted = app.config.get("START_SCHEDULER")
    if wanted is None:
        wanted = rt.settings.scheduler_mode == "embedded" and not app.testing
    # Under the Werkzeug reloader the parent process only watches files; the child serves.
    if not wanted or os.environ.get("WERKZEUG_RUN_MAIN") not in (None, "true"):
        return
    global _scheduler
    with _scheduler_lock:
        if _scheduler is None:
            from engine.scheduling import TimerScheduler
            _scheduler = TimerScheduler(rt)
            _scheduler.start()
            atexit.register(_scheduler.shutdown)
    app.extensions["kaohe_scheduler"] = _scheduler
