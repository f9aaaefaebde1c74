"""/api/v1/tasks: my inbox, one task with its form, claim, release, delegate, upload, complete."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from engine.services import evidence, inbox, tasks
from engine.services.inbox import InboxQuery
from web.api.auth import api_actor
from web.auth_user import runtime
from web.schemas.common import FileUploadSchema, MessageSchema, page_body
from web.schemas.tasks import (CompleteArgs, CompletedSchema, DelegateArgs, FileReferenceSchema, TaskListArgs,
                               TaskPageSchema, TaskSchema, UploadArgs)

blp = Blueprint("api_tasks", __name__, url_prefix="/tasks", description="我的待办 / my tasks")


@blp.route("")
class TaskList(MethodView):
    @blp.arguments(TaskListArgs, location="query")
    @blp.response(200, TaskPageSchema)
    def get(self, args):
        """Open tasks assigned to me or offered to my roles and unit, soonest due first.

        Page with `after` = the previous page's `next_after` (cheap at any depth, and a task added
        meanwhile neither repeats nor hides one); `page` numbers still work."""
        found = inbox.page(runtime(), api_actor(), InboxQuery(**args), with_choices=False)
        number = 1 if found.query.after else found.query.page
        return {**page_body(found.rows, page=number, per_page=found.query.per_page, has_next=found.has_next),
                "next_after": found.next_after}


@blp.route("/<int:task_id>")
class TaskItem(MethodView):
    @blp.response(200, TaskSchema)
    def get(self, task_id: int):
        """One task with its form (JSON Schema) and the data it sees."""
        actor = api_actor()
        view = tasks.get(runtime(), task_id, actor)
        task = view.task
        return {**{name: getattr(task, name) for name in (
                    "id", "name", "instance_id", "element_id", "lane", "status", "instructions", "process_id",
                    "unit_code", "period", "created_at", "due_at", "claimed_at", "completed_at")},
                "assigned_to_me": task.assignee_id is not None and task.assignee_id == actor.person_id,
                "may_act": view.may_act, "form": view.schema, "data": view.data}


@blp.route("/<int:task_id>/claim")
class TaskClaim(MethodView):
    @blp.response(200, MessageSchema)
    def post(self, task_id: int):
        """Take a task offered to my role or unit, so nobody else works on it."""
        tasks.claim(runtime(), task_id, api_actor())
        return {"status": "claimed"}


@blp.route("/<int:task_id>/unclaim")
class TaskUnclaim(MethodView):
    @blp.response(200, MessageSchema)
    def post(self, task_id: int):
        """Give a claimed task back to everyone it was offered to."""
        tasks.unclaim(runtime(), task_id, api_actor())
        return {"status": "released"}


@blp.route("/<int:task_id>/delegate")
class TaskDelegate(MethodView):
    @blp.arguments(DelegateArgs)
    @blp.response(200, MessageSchema)
    def post(self, args, task_id: int):
        """Hand the task to a named person; the note goes into the audit trail."""
        tasks.delegate(runtime(), task_id, api_actor(), args["to"], args["note"])
        return {"status": "delegated"}


@blp.route("/<int:task_id>/files")
class TaskFiles(MethodView):
    @blp.arguments(UploadArgs, location="query")
    @blp.arguments(FileUploadSchema, location="files")
    @blp.response(201, FileReferenceSchema)
    def post(self, args, files, task_id: int):
        """Upload one evidence file (multipart, name `file`) to a file field of a task I may complete."""
        upload = files["file"]
        return evidence.store(runtime(), api_actor(), task_id, args["field"], upload.filename, upload.stream)


@blp.route("/<int:task_id>/complete")
class TaskComplete(MethodView):
    @blp.arguments(CompleteArgs)
    @blp.response(200, CompletedSchema)
    def post(self, args, task_id: int):
        """Submit the form and complete the task; the process runs on at once."""
        rt, actor = runtime(), api_actor()
        view = tasks.get(rt, task_id, actor, acting=True)
        status = tasks.complete(rt, task_id, actor, args["data"])
        return {"status": status, "instance_id": view.task.instance_id}
