"""Administration → API tokens: an administrator issues a token to an integration, sees it once,
and revokes it when the integration is retired. The rules are in engine/services/api_tokens.py."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.errors import ValidationFailed
from engine.models.org import ROLES
from engine.services import api_tokens
from web.auth_user import current_actor, runtime
from web.i18n import current_language

bp = Blueprint("admin_tokens", __name__, url_prefix="/admin/tokens")


def _page(status: int = 200, **context):
    tokens = api_tokens.list_tokens(runtime(), current_actor())
    english = current_language().startswith("en")
    role_names = {code: names[1] if english else names[0] for code, names in ROLES.items()}
    return render_template("admin/tokens.html", tokens=tokens, role_names=role_names,
                           form=context.pop("form", {}), errors=context.pop("errors", {}), **context), status


@bp.get("")
@login_required
def index():
    return _page()


@bp.post("")
@login_required
def create():
    form = request.form
    days = form.get("valid_days", "").strip()
    try:
        created = api_tokens.create(runtime(), current_actor(), name=form.get("name", ""),
                                    scope=form.getlist("scope"), account=form.get("account", ""),
                                    valid_days=int(days) if days.isdigit() else None)
    except ValidationFailed as error:
        language = current_language()
        kept = {"name": form.get("name", ""), "account": form.get("account", ""), "valid_days": days,
                "scope": form.getlist("scope")}
        return _page(422, form=kept, create_error=error.text(language),
                     errors={k: m.text(language) for k, m in error.field_errors.items()})
    # The secret is shown on this one answer only; it is not stored and cannot be shown again.
    return _page(201, created=created)


@bp.post("/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    api_tokens.revoke(runtime(), current_actor(), token_id)
    flash(_("令牌已吊销，使用它的调用将被拒绝"), "success")
    return redirect(url_for("admin_tokens.index"))
