"""Headers that every response carries, so a page cannot be framed, sniffed or fed foreign scripts."""
from __future__ import annotations

import re

from flask import Flask, abort, request

CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                           "script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def add_security_headers(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # Pages and downloads show personal data: keep them out of shared caches and the back-button cache.
    # send_file's own "no-cache" still lets a cache store a file, so anything short of no-store is replaced.
    if request.endpoint != "static" and "no-store" not in response.headers.get("Cache-Control", ""):
        response.headers["Cache-Control"] = "no-store"
    return response


DOWNLOAD_TOKEN = re.compile(r"[a-z0-9]{1,32}")


def mark_download_done(response):
    """web/static/busy.js shows a progress bar while a long download is prepared; a download asked
    for with download_token=T answers with the cookie kaohe_download=T so the page knows it arrived
    (the token is the page's own random value, not a secret, so scripts may read the cookie)."""
    if not response.headers.get("Content-Disposition", "").startswith("attachment"):
        return response  # and the form is left unread: a refused (413) body must not be parsed here
    token = request.values.get("download_token", "")
    if DOWNLOAD_TOKEN.fullmatch(token):
        response.set_cookie("kaohe_download", token, max_age=120, path="/", samesite="Strict",
                            secure=request.is_secure, httponly=False)
    return response


def _unstorable(value) -> bool:
    """Text a database cannot hold: a NUL character, or half of a surrogate pair (not UTF-8)."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


def refuse_unstorable_text() -> None:
    """A NUL character is never meaningful text and PostgreSQL cannot store one; a lone surrogate
    cannot even be encoded. Refuse both at the door (URL, query, form or JSON body) with a 400
    rather than fail deep inside a query."""
    values = [request.path, *(v for _k, vs in request.args.lists() for v in vs),
              *(v for _k, vs in request.form.lists() for v in vs)]
    if _unstorable(values) or (request.is_json and _unstorable(request.get_json(silent=True))):
        abort(400)


def init_app(app: Flask) -> None:
    app.before_request(refuse_unstorable_text)
    app.after_request(add_security_headers)
    app.after_request(mark_download_done)
