"""/api/v1/instances and /api/v1/startable: the instance list and one instance as the /instances pages
show them, starting a process, the owners' suspend / resume / terminate / retry, evidence files and
the diagram. Who may see or change what is decided by the services, exactly as for the pages."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, abort, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from engine.services import evidence, instance_migration, instance_views, instances, on_demand
from web import readmodels
from web.api.auth import api_actor
from web.auth_user import runtime
from web.errors import api_error
from web.i18n import current_language
from web.schemas.common import ErrorSchema, PageArgs, page_body
from web.schemas.instances import (EvidenceFileArgs, InstanceListArgs, InstancePageSchema, InstanceSchema,
                                   InstanceStatusSchema, MigrateArgs, MigrationSchema, RetryArgs, StartablePageSchema,
                                   StartArgs, SuspendArgs, TerminateArgs)

blp = Blueprint("api_instances", __name__, url_prefix="", description="流程实例 / process instances")


@blp.route("/instances")
class InstanceList(MethodView):
    @blp.arguments(InstanceListArgs, location="query")
    @blp.response(200, InstancePageSchema)
    def get(self, args):
        """The instances I may see (all, for owners and auditors; else those I started or worked on),
        newest first."""
        filters = instance_views.Filters(
            process_id=args.get("process"), status=args.get("status"), period=args.get("period"),
            unit_code=args.get("unit"), text=args.get("q"), parent_id=args.get("parent"),
            spawned_by=args.get("spawned_by"), page=args["page"], per_page=args["per_page"])
        found = instance_views.list_instances(runtime(), api_actor(), filters)
        return page_body([vars(row) for row in found.rows], page=found.page, per_page=args["per_page"],
                         has_next=found.page < found.pages, total=found.total)

    @blp.arguments(StartArgs)
    @blp.response(201, InstanceStatusSchema)
    def post(self, args):
        """Start the latest version of a process with its start data (process owners)."""
        rt, actor = runtime(), api_actor()
        instance_id = instances.start(rt, args["process_id"], actor, data=args["data"], title=args["title"])
        return {"id": instance_id, "status": instances.status_of(rt, instance_id, actor)}


def _instance_body(page: instance_views.InstancePage) -> dict:
    view, record = page.view, page.view.instance
    open_tasks = [{"id": t.id, "name": t.name, "element_id": t.element_id, "lane": t.lane,
                   "assignee": page.usernames.get(t.assignee_id), "created_at": t.created_at, "due_at": t.due_at}
                  for t in view.tasks if t.status == "open"]
    return {
        **{name: getattr(record, name) for name in (
            "id", "title", "process_id", "status", "business_key", "started_by", "created_at", "updated_at",
            "completed_at", "error_element", "error_message")},
        "process_name": page.process_name, "process_version": page.version,
        "period": page.period, "unit_code": page.unit_code, "unit_name": page.unit_name,
        "parent": vars(page.parent) if page.parent else None,
        "open_tasks": open_tasks,
        "timers": [{"element_id": element, "due_at": due} for element, due in view.timers],
        "children": [{"spawned_by": g.spawned_by, "total": g.total, "counts": g.counts} for g in page.children],
        "launches": [{"id": launch.id, "element": launch.element, "process_id": launch.process_id,
                      "status": launch.status, "total": launch.total, "started": launch.started,
                      "percent": launch.percent} for launch in page.launches],
        "active_elements": view.active_elements, "data": view.data,
    }


@blp.route("/instances/<int:instance_id>")
class InstanceItem(MethodView):
    @blp.response(200, InstanceSchema)
    def get(self, instance_id: int):
        """One instance: where it stands, its open tasks, timers, parent and children, its data."""
        return _instance_body(instance_views.instance_page(runtime(), instance_id, api_actor()))


@blp.route("/instances/<int:instance_id>/suspend")
class InstanceSuspend(MethodView):
    @blp.arguments(SuspendArgs)
    @blp.response(200, InstanceStatusSchema)
    def post(self, args, instance_id: int):
        """Hold a running instance: its tasks leave the inboxes until it is resumed (process owners)."""
        status = instances.suspend(runtime(), instance_id, api_actor(), args["reason"])
        return {"id": instance_id, "status": status}


@blp.route("/instances/<int:instance_id>/resume")
class InstanceResume(MethodView):
    @blp.response(200, InstanceStatusSchema)
    def post(self, instance_id: int):
        """Let a suspended instance run on; what fell due meanwhile happens now (process owners)."""
        return {"id": instance_id, "status": instances.resume(runtime(), instance_id, api_actor())}


@blp.route("/instances/<int:instance_id>/terminate")
class InstanceTerminate(MethodView):
    @blp.arguments(TerminateArgs)
    @blp.response(200, InstanceStatusSchema)
    def post(self, args, instance_id: int):
        """End an instance for good, saying why (process owners)."""
        status = instances.terminate(runtime(), instance_id, api_actor(), args["reason"])
        return {"id": instance_id, "status": status}


@blp.route("/instances/<int:instance_id>/retry")
class InstanceRetry(MethodView):
    @blp.arguments(RetryArgs)
    @blp.response(200, InstanceStatusSchema)
    def post(self, args, instance_id: int):
        """Run the failed step of an instance in error again, optionally with corrected data (process owners)."""
        status = instances.retry(runtime(), instance_id, api_actor(), args["data_patch"])
        return {"id": instance_id, "status": status}


@blp.route("/instances/<int:instance_id>/migrate")
class InstanceMigrate(MethodView):
    @blp.arguments(MigrateArgs)
    @blp.response(200, MigrationSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="refused: `details` lists every reason; nothing changed")
    def post(self, args, instance_id: int):
        """Move a running instance to a newer version of its process (default: the latest), where the
        change allows it; `check` only answers whether it could (process owners)."""
        rt, actor, language = runtime(), api_actor(), current_language()
        try:
            if args["check"]:
                found, migrated = instance_migration.check(rt, instance_id, actor, args["version"]), False
            else:
                found, migrated = instance_migration.migrate(rt, instance_id, actor, args["version"]), True
        except instance_migration.MigrationRefused as refused:
            return api_error(409, refused.code, refused.message.text(language),
                             details=[reason.text(language) for reason in refused.reasons])
        return {"id": instance_id, "process_id": found.process_id, "from_version": found.from_version,
                "to_version": found.to_version, "allowed": found.allowed, "migrated": migrated,
                "reasons": [r.text(language) for r in found.reasons], "notes": [n.text(language) for n in found.notes]}


@blp.route("/instances/<int:instance_id>/files/<string(length=64):sha256>")
class InstanceFile(MethodView):
    @blp.arguments(EvidenceFileArgs, location="query")
    @blp.response(200, description="the file with its stored type, always as an attachment", content_type="*/*")
    def get(self, args, instance_id: int, sha256: str):
        """An evidence file uploaded to the instance (its stored type), for those who may see the instance."""
        stored = evidence.open_file(runtime(), api_actor(), instance_id, sha256, args.get("name"))
        response = send_file(stored.path, mimetype=stored.content_type, as_attachment=True,
                             download_name=stored.name, conditional=False, etag=False)
        # As the page's download: never rendered by a browser, never sniffed into HTML, never cached.
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "sandbox"
        response.headers["Cache-Control"] = "private, no-store"
        return response


@blp.route("/instances/<int:instance_id>/diagram")
class InstanceDiagram(MethodView):
    @blp.response(200, description="the BPMN XML", content_type="application/xml")
    def get(self, instance_id: int):
        """The BPMN diagram of the version this instance runs on."""
        rt = runtime()
        instance = instances.view(rt, instance_id, api_actor()).instance  # refuses those who may not see it
        xml = readmodels.diagram_xml(rt, instance.process_version_id, instance.process_id)
        if xml is None:
            abort(404)
        response = Response(xml, mimetype="application/xml")
        filename = quote(f"{instance.process_id}.bpmn", safe="")
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{filename}"
        return response


@blp.route("/startable")
class StartableList(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, StartablePageSchema)
    def get(self, args):
        """Processes I may start myself when work comes up (the start event's `startableBy`)."""
        found = on_demand.startable(runtime(), api_actor())
        page, size = args["page"], args["per_page"]
        rows = [{"process_id": p.process_id, "name": p.name, "roles": sorted(p.roles)}
                for p in found[(page - 1) * size:page * size]]
        return page_body(rows, page=page, per_page=size, has_next=page * size < len(found), total=len(found))


@blp.route("/startable/<string(maxlength=128):process_id>")
class StartableStart(MethodView):
    @blp.response(201, InstanceStatusSchema)
    def post(self, process_id: str):
        """Start such a process with no data; its first task usually comes to me."""
        rt, actor = runtime(), api_actor()
        instance_id = on_demand.start(rt, process_id, actor)
        return {"id": instance_id, "status": instances.status_of(rt, instance_id, actor)}
