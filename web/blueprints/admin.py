"""Administration: the organisation (tree, people, spreadsheet import), evaluation schemes, the calendar's
non-working days, and logins. Views stay thin; who may see or change what is decided in the services."""
from __future__ import annotations

from datetime import date
from io import BytesIO

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.calendar import JOBS
from engine.errors import InvalidState, ValidationFailed
from engine.models.org import ROLES, UNIT_CATEGORIES
from engine.models.scoring import AREAS
from engine.services import (
    admin_users,
    calendar_admin,
    org_admin,
    scheme_catalog,
    schemes,
)
from engine.services.admin_access import (
    MANAGERS,
    USER_ADMINS,
    require_manager,
    require_reader,
)
from engine.services.org_sheets import PARTY_STATUSES, POSITIONS
from engine.services.working_days import add_non_working_day, remove_non_working_day
from web.auth_user import current_actor, runtime
from web.i18n import current_language

bp = Blueprint("admin", __name__, url_prefix="/admin")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.context_processor
def _vocabularies():
    """Code → (zh, en) tables and what the signed-in person may change, for every admin template."""
    if not current_user.is_authenticated:  # an error page for a signed-out visitor
        return {}
    actor = current_actor()
    return {"roles": ROLES, "categories": UNIT_CATEGORIES, "positions": POSITIONS, "party": PARTY_STATUSES,
            "areas_names": AREAS, "methods": schemes.METHODS, "jobs": JOBS,
            "can_manage": actor.has_role(*MANAGERS), "can_admin_users": actor.has_role(*USER_ADMINS),
            "pick": lambda pair: pair[1] if current_language().startswith("en") else pair[0]}


def _language() -> str:
    return "en" if current_language().startswith("en") else "zh"


def _int(name: str, default: int) -> int:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else default


@bp.get("")
@login_required
def index():
    require_reader(current_actor())
    return redirect(url_for("admin.org"))


# --- organisation ---------------------------------------------------------------------------------

@bp.get("/org")
@login_required
def org():
    """The unit tree, one page of people, and the spreadsheet import and downloads (as background jobs,
    web/blueprints/jobs.py; only the blank template is served here, it is instant)."""
    rt, actor = runtime(), current_actor()
    people = org_admin.search_people(rt, actor, request.args.get("q", ""), unit_code=request.args.get("unit", ""),
                                     role=request.args.get("role", ""), page=_int("page", 1))
    return render_template("admin/org.html", units=org_admin.unit_tree(rt, actor), people=people,
                           role_filter=request.args.get("role", ""))


@bp.get("/org/template.xlsx")
@login_required
def org_template():
    data = org_admin.template_xlsx(current_actor(), _language())
    return send_file(BytesIO(data), mimetype=XLSX, as_attachment=True, download_name="org-template.xlsx")


# --- schemes --------------------------------------------------------------------------------------

def _schemes_page(status: int = 200, **context):
    return render_template("admin/schemes.html", versions=scheme_catalog.list_versions(runtime(), current_actor()),
                           **context), status


@bp.get("/schemes")
@login_required
def schemes_page():
    return _schemes_page()


@bp.get("/schemes/<code>/<int:version>")
@login_required
def scheme(code: str, version: int):
    detail = scheme_catalog.version_detail(runtime(), current_actor(), code, version)
    return render_template("admin/scheme.html", detail=detail)


@bp.get("/schemes/<code>/<int:version>.json")
@login_required
def scheme_json(code: str, version: int):
    detail = scheme_catalog.version_detail(runtime(), current_actor(), code, version)
    return send_file(BytesIO(detail.source.encode("utf-8")), mimetype="application/json", as_attachment=True,
                     download_name=f"{code}-v{version}.scheme.json")


@bp.post("/schemes/import")
@login_required
def scheme_import():
    """A new version from an uploaded JSON document; an unchanged document creates none."""
    require_manager(current_actor())
    upload = request.files.get("scheme")
    if upload is None or not upload.filename:
        return _schemes_page(422, upload_error=_("请选择要上传的方案文件（.json）"))
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        return _schemes_page(422, upload_error=_("方案文件须为 UTF-8 编码的 JSON"))
    language = current_language()
    try:
        imported, created = schemes.import_scheme(runtime(), text, current_actor())
    except ValidationFailed as error:
        return _schemes_page(422, upload_error=error.text(language),
                             problems=[(path, message.text(language)) for path, message in error.field_errors.items()])
    if created:
        flash(_("已导入考核方案 %(code)s 第 %(version)s 版", code=imported.code, version=imported.version), "success")
    else:
        flash(_("内容与 %(code)s 的最新版本相同，未创建新版本", code=imported.code), "info")
    return redirect(url_for("admin.schemes_page"))


# --- calendar -------------------------------------------------------------------------------------

def _calendar_page(status: int = 200, year: int | None = None, **context):
    this_year = runtime().clock.now().year
    year = year or _int("year", this_year)
    year = year if 2000 <= year <= 2100 else this_year
    return render_template("admin/calendar.html", overview=calendar_admin.overview(runtime(), current_actor(), year),
                           **context), status


@bp.get("/calendar")
@login_required
def calendar():
    return _calendar_page()


@bp.post("/calendar/add")
@login_required
def holiday_add():
    try:
        day = date.fromisoformat(request.form.get("day", ""))
    except ValueError:
        require_manager(current_actor())
        return _calendar_page(422, day_error=_("请填写有效的日期"), name=request.form.get("name", ""))
    try:
        add_non_working_day(runtime(), day, request.form.get("name", ""), current_actor())
    except ValidationFailed as error:
        return _calendar_page(422, day.year, name_error=error.text(current_language()), day=day.isoformat())
    flash(_("已将 %(day)s 设为非工作日", day=day.isoformat()), "success")
    return redirect(url_for("admin.calendar", year=day.year))


@bp.post("/calendar/<day>/remove")
@login_required
def holiday_remove(day: str):
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        parsed = None
    if parsed is None or not remove_non_working_day(runtime(), parsed, current_actor()):
        flash(_("该日期不在非工作日列表中"), "info")
        return redirect(url_for("admin.calendar"))
    flash(_("%(day)s 已恢复为工作日（周末除外）", day=parsed.isoformat()), "success")
    return redirect(url_for("admin.calendar", year=parsed.year))


# --- users ----------------------------------------------------------------------------------------

def _users_page(status: int = 200, **context):
    """Logins are people: the same search as the organisation page, admin only (checked by the service)."""
    rt, actor = runtime(), current_actor()
    admin_users.require_user_admin(actor)
    people = org_admin.search_people(rt, actor, request.args.get("q", ""), role=request.args.get("role", ""),
                                     page=_int("page", 1))
    return render_template("admin/users.html", people=people, role_filter=request.args.get("role", ""),
                           form=context.pop("form", {}), errors=context.pop("errors", {}), **context), status


@bp.get("/users")
@login_required
def users():
    return _users_page()


@bp.post("/users")
@login_required
def user_create():
    form = request.form
    try:
        account = admin_users.create_user(runtime(), current_actor(), username=form.get("username", ""),
                                          display_name=form.get("display_name", ""),
                                          password=form.get("password", ""), unit_code=form.get("unit_code", ""),
                                          roles=tuple(form.getlist("roles")))
    except ValidationFailed as error:
        language = current_language()
        kept = {key: form.get(key, "") for key in ("username", "display_name", "unit_code")}
        kept["roles"] = form.getlist("roles")
        return _users_page(422, form=kept, create_error=error.text(language),
                           errors={k: m.text(language) for k, m in error.field_errors.items()})
    flash(_("已创建用户 %(username)s，可以用设定的密码登录", username=account.username), "success")
    return redirect(url_for("admin.user", username=account.username))


def _user_page(username: str, status: int = 200, **context):
    account = admin_users.get_account(runtime(), current_actor(), username)
    return render_template("admin/user.html", account=account, **context), status


@bp.get("/users/<username>")
@login_required
def user(username: str):
    return _user_page(username)


@bp.post("/users/<username>/password")
@login_required
def user_password(username: str):
    try:
        admin_users.reset_password(runtime(), current_actor(), username, request.form.get("password", ""))
    except ValidationFailed as error:
        message = error.field_errors.get("password") or error.message
        return _user_page(username, 422, password_error=message.text(current_language()))
    flash(_("密码已更新"), "success")
    return redirect(url_for("admin.user", username=username))


def _user_change(username: str, change, done: str):
    """Run one change; a refusal (e.g. removing one's own admin role) is shown on the person's page."""
    try:
        change()
    except (InvalidState, ValidationFailed) as error:
        return _user_page(username, 409 if isinstance(error, InvalidState) else 422,
                          action_error=error.text(current_language()))
    flash(done, "success")
    return redirect(url_for("admin.user", username=username))


@bp.post("/users/<username>/active")
@login_required
def user_active(username: str):
    active = request.form.get("active") == "1"
    return _user_change(username, lambda: admin_users.set_active(runtime(), current_actor(), username, active),
                        _("账号已启用") if active else _("账号已停用，该用户不能再登录"))


@bp.post("/users/<username>/roles")
@login_required
def user_roles(username: str):
    role, grant = request.form.get("role", ""), request.form.get("action") == "add"
    service = admin_users.add_role if grant else admin_users.remove_role
    return _user_change(username, lambda: service(runtime(), current_actor(), username, role),
                        _("已授予角色") if grant else _("已撤销角色"))
