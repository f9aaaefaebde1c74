"""/api/v1/audit and /api/v1/instances/{id}/audit: the hash-chained audit trail.

The whole chain (search, check, export) is for auditors, administrators and the office; the trail of
one case is for whoever may view the case. Every download is itself recorded in the trail."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from engine.services import audit_export
from engine.services.audit_export import EventQuery
from web.api.auth import api_actor
from web.auth_user import runtime
from web.i18n import current_language
from web.schemas.common import BINARY
from web.schemas.audit import AuditEventArgs, AuditEventPageSchema, AuditEventSchema, ChainReportSchema

blp = Blueprint("api_audit", __name__, url_prefix="", description="审计记录 / audit trail")
INSTANCE = "<int:instance_id>"


def download(export: audit_export.Export) -> Response:
    """An export as an attachment; never cached, since it holds personal data."""
    response = Response(export.content, mimetype=export.mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _language() -> str:
    return "en" if current_language().startswith("en") else "zh"


def _doc_download(fmt: str):
    return blp.response(200, BINARY, content_type=audit_export.FORMATS[fmt],
                        description=f"{fmt.upper()}: one row per event with its prev_hash and hash"
                                    + (" (UTF-8 with a BOM)" if fmt == "csv" else ", and an explanation sheet"))


@blp.route("/audit/events")
class Events(MethodView):
    @blp.arguments(AuditEventArgs, location="query")
    @blp.response(200, AuditEventPageSchema)
    def get(self, args):
        """Audit events in id order after after_id, filtered; for auditors, administrators and the office."""
        page = audit_export.search(runtime(), api_actor(), EventQuery(**args))
        return {"items": page.events, "limit": args["limit"], "has_next": page.next_after_id is not None,
                "next_after_id": page.next_after_id}


@blp.route("/audit/verify")
class Verify(MethodView):
    @blp.response(200, ChainReportSchema)
    def get(self):
        """Walk the whole chain and name the first event whose link or content does not match."""
        report = audit_export.verify_chain(runtime(), api_actor())
        return {"ok": report.ok, "checked": report.checked, "first_broken_id": report.first_broken_id,
                "reason": report.reason}


@blp.route("/audit/export.csv")
class ChainCsv(MethodView):
    @_doc_download("csv")
    def get(self):
        """The whole chain as CSV, to keep a copy that proves it was whole that day; the export is recorded."""
        return download(audit_export.export_chain(runtime(), api_actor(), "csv", _language()))


@blp.route("/audit/export.xlsx")
class ChainXlsx(MethodView):
    @_doc_download("xlsx")
    def get(self):
        """The whole chain as an Excel workbook; the export is recorded."""
        return download(audit_export.export_chain(runtime(), api_actor(), "xlsx", _language()))


@blp.route(f"/instances/{INSTANCE}/audit")
class CaseTrail(MethodView):
    @blp.response(200, AuditEventSchema(many=True))
    def get(self, instance_id: int):
        """The audit trail of one case, oldest first, for whoever may view the case."""
        return audit_export.case_trail(runtime(), api_actor(), instance_id)


@blp.route(f"/instances/{INSTANCE}/audit.csv")
class CaseCsv(MethodView):
    @_doc_download("csv")
    def get(self, instance_id: int):
        """One case's trail as CSV; the export is recorded in the case's trail."""
        return download(audit_export.export_case(runtime(), api_actor(), instance_id, "csv", _language()))


@blp.route(f"/instances/{INSTANCE}/audit.xlsx")
class CaseXlsx(MethodView):
    @_doc_download("xlsx")
    def get(self, instance_id: int):
        """One case's trail as an Excel workbook; the export is recorded in the case's trail."""
        return download(audit_export.export_case(runtime(), api_actor(), instance_id, "xlsx", _language()))
