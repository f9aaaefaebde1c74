"""Who is calling the API: a bearer token (integrations) or the browser session (pages' own scripts).

A session call that changes something must carry the CSRF token (header X-CSRFToken), exactly as
a form would; a token call needs none, because no browser adds a bearer header by itself."""
from __future__ import annotations

from flask import g, request
from flask_login import current_user
from werkzeug.exceptions import Unauthorized

from engine.runtime import Actor
from engine.services import api_tokens
from web.auth_user import runtime

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kaohe"'}


class TokenRequired(Unauthorized):
    """401 with the challenge header, so clients know a bearer token is expected."""

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), *CHALLENGE.items()]


def api_actor() -> Actor:
    return g.api_actor


def authenticate() -> None:
    """Runs before every API view except the public document and docs page."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        actor = api_tokens.actor_for_secret(runtime(), secret.strip()) if scheme.lower() == "bearer" else None
        if actor is None:
            raise TokenRequired("invalid token")
        g.api_actor = actor
        return
    if not current_user.is_authenticated:
        raise TokenRequired("sign-in required")
    if request.method not in SAFE_METHODS:
        from web import csrf
        csrf.protect()
    g.api_actor = current_user.actor
