"""The engine's shared parts for one process: settings, database, clock, specs, script engine."""
from __future__ import annotations

from dataclasses import dataclass

from engine.bpmn.scripting import make_script_engine
from engine.clock import SYSTEM_CLOCK, Clock
from engine.db import Database
from engine.settings import Settings
from engine.specs import SpecCache


class Runtime:
    """Handed to every service function; web, CLI, scheduler and tests each build one."""

    def __init__(self, settings: Settings | None = None, *, clock: Clock = SYSTEM_CLOCK,
                 database: Database | None = None, script_helpers: dict | None = None):
        self.settings = settings or Settings.from_env()
        self.clock = clock
        self.db = database or Database(self.settings.database_url)
        self.specs = SpecCache()
        # script_helpers: extra vetted functions offered to diagrams' scripts (tests, plug-ins).
        self.script_engine = make_script_engine(script_helpers, time_limit=self.settings.script_time_limit)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in person, or the system itself (scheduler, CLI)."""

    username: str
    person_id: int | None = None
    unit_id: int | None = None
    roles: frozenset[str] = frozenset()
    # Set when an integration calls with an API token: the person is the token's account and
    # `roles` only the token's scope, so the audit trail can name the token as well as the account.
    token_id: int | None = None

    @property
    def is_system(self) -> bool:
        return self.person_id is None

    @property
    def audit_name(self) -> str:
        """How the audit trail names this actor: the username, plus the token when one was used."""
        return self.username if self.token_id is None else f"{self.username}#token{self.token_id}"

    def has_role(self, *roles: str) -> bool:
        return self.is_system or bool(self.roles.intersection(roles))


# The performance office and administrators: who may deploy, start and manage processes.
MANAGERS = ("process_owner", "admin")

SYSTEM = Actor("system")
SCHEDULER = Actor("system:scheduler")
