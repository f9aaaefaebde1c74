"""Who may see and change the administration data; every admin service asks here first.

The pages hide what a person may not do, but the rule lives here so the CLI, the web and any
future API refuse the same things."""
from __future__ import annotations

from engine.errors import PermissionDenied
from engine.runtime import Actor

# Auditors inspect the set-up (organisation, schemes, calendar) without changing it.
READERS = ("process_owner", "admin", "auditor")
MANAGERS = ("process_owner", "admin")
# Logins, passwords and roles decide who may do everything else, so only administrators touch them.
USER_ADMINS = ("admin",)


def require_reader(actor: Actor) -> None:
    if not actor.has_role(*READERS):
        raise PermissionDenied("只有绩效办公室、系统管理员和审计员可以查看系统管理页面",
                               "only the performance office, administrators and auditors see the "
                               "administration pages")


def require_manager(actor: Actor) -> None:
    if not actor.has_role(*MANAGERS):
        raise PermissionDenied("只有绩效办公室和系统管理员可以修改组织、考核方案和日历",
                               "only the performance office and administrators change the organisation, "
                               "schemes and calendar")


def require_user_admin(actor: Actor) -> None:
    if not actor.has_role(*USER_ADMINS):
        raise PermissionDenied("只有系统管理员可以管理用户、密码和角色",
                               "only administrators manage users, passwords and roles")

# Roles that open the administration pages; granting them is managing users, even inside an org import.
ACCESS_ROLES = ("admin", "process_owner", "auditor")
