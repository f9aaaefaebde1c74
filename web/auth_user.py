"""The signed-in person as Flask-Login sees them: an engine Actor plus a name to show."""
from __future__ import annotations

import time

from flask import Flask, current_app, session
from flask_babel import gettext
from flask_login import LoginManager, UserMixin, current_user, logout_user

from engine.runtime import Actor, Runtime
from engine.services import people
from web import readmodels

login_manager = LoginManager()
SIGNED_IN_AT = "signed_in_at"
# However active a session is, it ends this long after sign-in (the idle limit is the cookie's lifetime).
ABSOLUTE_SESSION_SECONDS = 24 * 3600


def N_(text: str) -> str:
    """Marks a string for the catalogue; Flask-Login translates it later via localize_callback."""
    return text


class WebUser(UserMixin):
    """Wraps the Actor every service call runs as; the session stores only the person id."""

    def __init__(self, actor: Actor, display_name: str, language: str | None = None):
        self.actor = actor
        self.display_name = display_name
        self.language = language

    def get_id(self) -> str:
        return str(self.actor.person_id)

    @property
    def is_owner(self) -> bool:
        return self.actor.has_role("process_owner", "admin")


def runtime() -> Runtime:
    return current_app.extensions["kaohe"]


def current_actor() -> Actor:
    return current_user.actor


def web_user(actor: Actor) -> WebUser:
    profile = readmodels.person_profile(runtime(), actor.person_id)
    if profile is None:
        return WebUser(actor, actor.username)
    return WebUser(actor, profile.display_name, profile.language)


@login_manager.user_loader
def load_user(user_id: str) -> WebUser | None:
    if not user_id.isdigit():
        return None
    found = people.signed_in(runtime(), int(user_id))
    return WebUser(found.actor, found.display_name, found.language) if found is not None else None


def _end_old_sessions() -> None:
    """Sign out a session older than the absolute limit, or one from before the limit existed."""
    if "_user_id" not in session:
        return
    started = session.get(SIGNED_IN_AT)
    if not isinstance(started, (int, float)) or time.time() - started > ABSOLUTE_SESSION_SECONDS:
        logout_user()
        session.clear()


def init_app(app: Flask) -> None:
    app.before_request(_end_old_sessions)
    login_manager.login_view = "auth.login"
    login_manager.login_message = N_("请先登录")
    login_manager.login_message_category = "info"
    login_manager.localize_callback = gettext
    login_manager.session_protection = "basic"
    login_manager.init_app(app)
