"""Who may call what: (endpoint, method) → the personas allowed (tests/security/walk.py names them).

Read with the world of walk.py: the case is P02's rectification (its open task is offered to
P02's head), the round was run by group A (insp_wang) over P02 and P03."""
from __future__ import annotations

SIGNED_IN = {"staff", "other_staff", "head", "other_head", "inspector", "outside_inspector", "eval_leader",
             "auditor", "owner", "admin"}
EVERYONE = SIGNED_IN | {"anonymous"}
OFFICE = {"auditor", "owner", "admin"}           # read the set-up and every case
MANAGERS = {"owner", "admin"}                     # change the set-up, deploy, launch, manage cases
ADMIN = {"admin"}                                 # logins, roles and tokens
CASE = OFFICE | {"head"}                          # the P02 case: its head is offered its open task
TRACKED = CASE | {"inspector"}                    # the P02 problem, as the tracker shows it
TRACKERS = OFFICE | {"head", "other_head", "inspector", "outside_inspector"}  # may open the tracker
TASK = CASE                                       # the open task itself
ROUND = OFFICE | {"inspector"}                    # the round: its inspectors and the office

PAGES = {
    ("inbox.root", "GET"): EVERYONE,  # a redirect: to the inbox, or to sign in
    ("auth.login", "GET"): EVERYONE, ("auth.login", "POST"): EVERYONE,
    ("auth.logout", "POST"): SIGNED_IN,
    ("inbox.index", "GET"): SIGNED_IN, ("inbox.claim", "POST"): {"head"},
    ("inbox.unclaim", "POST"): TASK - {"auditor"},
    ("task.show", "GET"): TASK, ("task.diagram", "GET"): TASK, ("task.submit", "POST"): {"head"},
    ("task.delegate", "POST"): {"head", "owner", "admin"},
    # check_record is started on demand by inspectors, evaluation groups and the office (not admins).
    ("start.index", "GET"): SIGNED_IN, ("start.begin", "POST"): {"owner", "inspector", "outside_inspector",
                                                                   "eval_leader"},
    ("instances.index", "GET"): SIGNED_IN,  # each sees only their own instances in it
    ("instances.show", "GET"): CASE, ("instances.diagram", "GET"): CASE, ("instances.file", "GET"): TRACKED,
    ("instances.audit_download", "GET"): CASE, ("instances.manage", "POST"): MANAGERS,
    ("instances.migrate", "POST"): MANAGERS,  # moving a case to a newer version: as suspend / terminate
    ("quarterly.publicity_page", "GET"): SIGNED_IN,
    ("quarterly.interviews_page", "GET"): OFFICE | {"head", "other_head"},
    ("results.index", "GET"): SIGNED_IN,
    ("results.updating", "GET"): SIGNED_IN,  # how far a recompute is: a percentage, never a figure
    ("results.unit", "GET"): OFFICE | {"head", "eval_leader"},
    ("results.person", "GET"): OFFICE | {"staff", "head"},
    ("tracker.index", "GET"): TRACKERS,
    ("tracker.show", "GET"): TRACKED, ("tracker.diagram", "GET"): TRACKED, ("tracker.round_page", "GET"): ROUND,
    ("tracker.rounds_page", "GET"): SIGNED_IN,  # each sees only the rounds they may open
    ("schedule.index", "GET"): OFFICE,
    ("scores.index", "GET"): SIGNED_IN,  # explains who may score; the workbook itself is guarded
    ("editor.index", "GET"): OFFICE, ("editor.edit", "GET"): OFFICE, ("editor.source", "GET"): OFFICE,
    ("editor.versions", "GET"): OFFICE, ("editor.download", "GET"): OFFICE,
    ("editor.edit_decision", "GET"): OFFICE, ("editor.download_decision", "GET"): OFFICE,
    ("editor.check", "POST"): MANAGERS, ("editor.deploy_files", "POST"): MANAGERS,
    ("editor.upload", "POST"): MANAGERS, ("editor.form_preview", "POST"): OFFICE,
    ("admin.index", "GET"): OFFICE, ("admin.org", "GET"): OFFICE, ("admin.org_template", "GET"): OFFICE,
    # Background jobs: the walk's job is the owner's organisation export; only they and admins see it.
    ("jobs.start", "POST"): OFFICE, ("jobs.show", "GET"): {"owner", "admin"},
    ("jobs.status", "GET"): {"owner", "admin"}, ("jobs.download", "GET"): {"owner", "admin"},
    ("admin.schemes_page", "GET"): OFFICE, ("admin.scheme", "GET"): OFFICE, ("admin.scheme_json", "GET"): OFFICE,
    ("admin.scheme_import", "POST"): MANAGERS,
    ("admin.calendar", "GET"): OFFICE, ("admin.holiday_add", "POST"): MANAGERS,
    ("admin.holiday_remove", "POST"): MANAGERS,
    ("admin.users", "GET"): ADMIN, ("admin.user", "GET"): ADMIN, ("admin.user_create", "POST"): ADMIN,
    ("admin.user_password", "POST"): ADMIN, ("admin.user_active", "POST"): ADMIN,
    ("admin.user_roles", "POST"): ADMIN,
    ("admin_tokens.index", "GET"): ADMIN, ("admin_tokens.create", "POST"): ADMIN,
    ("admin_tokens.revoke", "POST"): ADMIN,
}

API = {
    ("api-docs.openapi_json", "GET"): EVERYONE, ("api_docs_page.docs", "GET"): EVERYONE,
    ("api_tasks.TaskList", "GET"): SIGNED_IN, ("api_tasks.TaskItem", "GET"): TASK,
    ("api_tasks.TaskClaim", "POST"): {"head"}, ("api_tasks.TaskUnclaim", "POST"): TASK - {"auditor"},
    ("api_tasks.TaskDelegate", "POST"): {"head", "owner", "admin"}, ("api_tasks.TaskFiles", "POST"): {"head"},
    ("api_tasks.TaskComplete", "POST"): {"head"},
    ("api_instances.InstanceList", "GET"): SIGNED_IN, ("api_instances.InstanceList", "POST"): MANAGERS,
    ("api_instances.InstanceItem", "GET"): CASE, ("api_instances.InstanceDiagram", "GET"): CASE,
    ("api_instances.InstanceFile", "GET"): TRACKED,
    ("api_instances.InstanceSuspend", "POST"): MANAGERS, ("api_instances.InstanceResume", "POST"): MANAGERS,
    ("api_instances.InstanceTerminate", "POST"): MANAGERS, ("api_instances.InstanceRetry", "POST"): MANAGERS,
    ("api_instances.InstanceMigrate", "POST"): MANAGERS,
    ("api_instances.StartableList", "GET"): SIGNED_IN,
    ("api_instances.StartableStart", "POST"): {"owner", "inspector", "outside_inspector", "eval_leader"},
    ("api_processes.ProcessList", "GET"): OFFICE, ("api_processes.ProcessList", "POST"): MANAGERS,
    ("api_processes.ProcessCheck", "POST"): MANAGERS, ("api_processes.ProcessVersions", "GET"): OFFICE,
    ("api_processes.ProcessVersionFile", "GET"): OFFICE, ("api_processes.DecisionList", "GET"): OFFICE,
    ("api_processes.DecisionVersions", "GET"): OFFICE, ("api_processes.DecisionDownload", "GET"): OFFICE,
    ("api_results.Rankings", "GET"): SIGNED_IN, ("api_results.ResultsExport", "GET"): OFFICE,
    ("api_results.UnitResults", "GET"): OFFICE | {"head", "eval_leader"},
    ("api_results.PersonResults", "GET"): OFFICE | {"staff", "head"},
    ("api_tracking.RoundList", "GET"): SIGNED_IN,  # each sees only the rounds they may see
    # The round's findings are the tracker's list narrowed to the round: each sees the problems they may.
    ("api_tracking.RoundItem", "GET"): ROUND, ("api_tracking.RoundFindings", "GET"): TRACKERS,
    ("api_tracking.RectificationList", "GET"): TRACKERS, ("api_tracking.RectificationExport", "GET"): TRACKERS,
    ("api_tracking.RectificationItem", "GET"): TRACKED,
    ("api_org.Units", "GET"): OFFICE, ("api_org.People", "GET"): OFFICE, ("api_org.Export", "GET"): OFFICE,
    ("api_org.Template", "GET"): OFFICE, ("api_org.Import", "POST"): MANAGERS,
    ("api_org.User", "GET"): ADMIN, ("api_org.Users", "POST"): ADMIN, ("api_org.UserActive", "POST"): ADMIN,
    ("api_org.UserPassword", "POST"): ADMIN, ("api_org.UserRoles", "POST"): ADMIN,
    ("api_audit.Events", "GET"): OFFICE, ("api_audit.Verify", "GET"): OFFICE,
    ("api_audit.ChainCsv", "GET"): OFFICE, ("api_audit.ChainXlsx", "GET"): OFFICE,
    ("api_audit.CaseTrail", "GET"): CASE, ("api_audit.CaseCsv", "GET"): CASE, ("api_audit.CaseXlsx", "GET"): CASE,
    ("api_tokens.Tokens", "GET"): ADMIN, ("api_tokens.Tokens", "POST"): ADMIN,
    ("api_tokens.TokenRevoke", "POST"): ADMIN,
    ("api_jobs.JobList", "POST"): OFFICE, ("api_jobs.Job", "GET"): {"owner", "admin"},
    ("api_jobs.JobDownload", "GET"): {"owner", "admin"},
}

ACCESS = {**PAGES, **API}

# Run after every other call of the walk: they end sessions, cases or tokens the rest depend on.
DESTRUCTIVE = {"auth.logout", "admin_tokens.revoke",
               "api_tokens.TokenRevoke", "admin.user_active", "api_org.UserActive"}
# Allowed calls that change nothing, so need no audit event: checks, previews, signing out.
NOT_CHANGES = {"editor.check", "api_processes.ProcessCheck", "editor.form_preview", "editor.upload", "auth.logout",
               "auth.login"}

# Path values other than walk.path_values' defaults.
OVERRIDES: dict[str, dict[str, str]] = {
    "tracker.round_page": {"instance_id": "{round_id}"},
    "api_instances.StartableStart": {"process_id": "check_record"},
    "start.begin": {"process_id": "check_record"},
    "admin.scheme": {"code": "{scheme_code}", "version": "{scheme_version}"},
    "admin.scheme_json": {"code": "{scheme_code}", "version": "{scheme_version}"},
    # Case changes act on P01's task book, so P02's case stays open for the task calls.
    "instances.manage": {"action": "terminate", "instance_id": "{other_case_id}"},
}
OVERRIDES["api_tokens.TokenRevoke"] = {"token_id": "{api_token_id}"}
for _endpoint in ("api_instances.InstanceSuspend", "api_instances.InstanceResume", "api_instances.InstanceTerminate",
                  "api_instances.InstanceRetry", "api_instances.InstanceMigrate", "instances.migrate"):
    OVERRIDES[_endpoint] = {"instance_id": "{other_case_id}"}
for _endpoint in ("admin.user", "admin.user_password", "admin.user_active", "admin.user_roles", "api_org.User",
                  "api_org.UserActive", "api_org.UserPassword", "api_org.UserRoles"):
    OVERRIDES[_endpoint] = {"username": "walk_target"}
