"""/api/v1/org: the unit tree, people search, the organisation spreadsheet (download, template, import)
and logins (create, password, on/off, roles). The services decide who may: readers see, the office and
administrators import, only administrators manage logins."""
from __future__ import annotations

from io import BytesIO

from flask import send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from engine.services import admin_users, org_admin
from engine.services.org_io import import_org
from web.api.auth import api_actor
from web.auth_user import runtime
from web.i18n import current_language
from web.schemas.common import BINARY, ErrorSchema, FileUploadSchema, MessageSchema, XLSX, page_body
from web.schemas.org import (AccountSchema, ActiveArgs, ImportReportSchema, PasswordArgs, PeopleArgs,
                             OrgPersonPageSchema, RolesArgs, OrgUnitPageSchema, UserCreateArgs)

blp = Blueprint("api_org", __name__, url_prefix="/org", description="组织与用户 / organisation and logins")


def _language() -> str:
    return "en" if current_language().startswith("en") else "zh"


def _xlsx(content: bytes, name: str):
    return send_file(BytesIO(content), mimetype=XLSX, as_attachment=True, download_name=name)


@blp.route("/units")
class Units(MethodView):
    @blp.response(200, OrgUnitPageSchema)
    def get(self):
        """Every unit in tree order (parents first) with its parent, branch and head count, in one page."""
        units = org_admin.unit_tree(runtime(), api_actor())
        return page_body(units, page=1, per_page=max(1, len(units)), has_next=False, total=len(units))


@blp.route("/people")
class People(MethodView):
    @blp.arguments(PeopleArgs, location="query")
    @blp.response(200, OrgPersonPageSchema)
    def get(self, args):
        """People whose username or name contains q, optionally in one unit or holding one role."""
        found = org_admin.search_people(runtime(), api_actor(), args["q"], unit_code=args["unit"],
                                        role=args["role"], page=args["page"], page_size=args["per_page"])
        return page_body(found.rows, page=found.page, per_page=args["per_page"], has_next=found.page < found.pages,
                         total=found.total)


@blp.route("/export")
class Export(MethodView):
    @blp.response(200, BINARY, content_type=XLSX, description="org.xlsx: a units sheet and a people sheet")
    def get(self):
        """The whole organisation as a workbook in the layout the import reads."""
        return _xlsx(org_admin.export_xlsx(runtime(), api_actor(), _language()), "org.xlsx")


@blp.route("/template")
class Template(MethodView):
    @blp.response(200, BINARY, content_type=XLSX, description="org-template.xlsx, with a sheet explaining "
                                                               "every column")
    def get(self):
        """An empty organisation workbook to fill in."""
        return _xlsx(org_admin.template_xlsx(api_actor(), _language()), "org-template.xlsx")


@blp.route("/import")
class Import(MethodView):
    @blp.arguments(FileUploadSchema, location="files")
    @blp.response(200, ImportReportSchema)
    @blp.alt_response(422, schema=ErrorSchema, description="the file was refused and nothing was written; "
                                                           "details lists every problem with its file, sheet, "
                                                           "row and column")
    def post(self, files):
        """Import units and people from one .xlsx workbook or .csv table, all or nothing.

        Units are matched by code and people by username; the office cannot grant or withdraw the
        administrator, office or auditor roles (only administrators can)."""
        upload = files["file"]
        # A refused file raises OrgImportRejected: web/errors.py answers 422 with every problem in details.
        report = import_org(runtime(), [(upload.filename or "", upload.read())], api_actor())
        return {**{name: getattr(report, name) for name in (
                    "units_created", "units_updated", "units_unchanged", "people_created", "people_updated",
                    "people_unchanged")},
                "files": list(report.files), "messages": report.lines(current_language())}


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(UserCreateArgs)
    @blp.response(201, AccountSchema)
    def post(self, args):
        """Create a login that works at once (administrators only)."""
        return admin_users.create_user(runtime(), api_actor(), username=args["username"],
                                       display_name=args["display_name"], password=args["password"],
                                       unit_code=args["unit_code"], roles=tuple(args["roles"]))


@blp.route("/users/<username>")
class User(MethodView):
    @blp.response(200, AccountSchema)
    def get(self, username: str):
        """One login with its unit, roles and whether it has a password (administrators only)."""
        return admin_users.get_account(runtime(), api_actor(), username)


@blp.route("/users/<username>/password")
class UserPassword(MethodView):
    @blp.arguments(PasswordArgs)
    @blp.response(200, MessageSchema)
    def post(self, args, username: str):
        """Set or reset the password; the trail records that it changed, never the password."""
        admin_users.reset_password(runtime(), api_actor(), username, args["password"])
        return {"status": "password_set"}


@blp.route("/users/<username>/active")
class UserActive(MethodView):
    @blp.arguments(ActiveArgs)
    @blp.response(200, MessageSchema)
    def post(self, args, username: str):
        """Switch a login off (it cannot sign in, its session ends) or on again; not one's own."""
        admin_users.set_active(runtime(), api_actor(), username, args["active"])
        return {"status": "active" if args["active"] else "inactive"}


@blp.route("/users/<username>/roles")
class UserRoles(MethodView):
    @blp.arguments(RolesArgs)
    @blp.response(200, AccountSchema)
    def post(self, args, username: str):
        """Grant (add) and withdraw (remove) roles in one change; one's own administrator role stays."""
        return admin_users.change_roles(runtime(), api_actor(), username, add=args["add"], remove=args["remove"])
