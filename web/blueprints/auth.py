"""Signing in and out."""
from __future__ import annotations

import time

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from engine.services import people
from web.auth_user import SIGNED_IN_AT, runtime, web_user

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only local paths, so a crafted link cannot send a person elsewhere after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("inbox.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Username and password; a failure never says which of the two was wrong."""
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    username = request.form.get("username", "").strip()
    error = None
    if request.method == "POST":
        actor = people.authenticate(runtime(), username, request.form.get("password", ""),
                                    source=request.remote_addr)
        if actor is not None:
            session.clear()  # a fresh session at every sign-in
            login_user(web_user(actor))
            session.permanent = True
            session[SIGNED_IN_AT] = time.time()
            return redirect(_safe_next(request.form.get("next")))
        error = _("用户名或密码错误")
    return render_template("auth/login.html", username=username, error=error,
                           next=request.values.get("next", ""))


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
