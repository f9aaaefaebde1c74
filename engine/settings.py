"""All runtime settings, read once from KAOHE_* environment variables."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Signs session cookies on a developer's machine; anyone who knows it could forge a session.
DEVELOPMENT_SECRET = "dev-only-change-me"
WORK_QUEUES = ("inline", "thread", "scheduler", "celery")


def _default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'instance' / 'kaohe.db'}"


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=_default_database_url)
    timezone: str = "Asia/Shanghai"
    secret_key: str = DEVELOPMENT_SECRET
    language: str = "zh_CN"
    workflows_dir: Path = PROJECT_ROOT / "workflows"
    script_time_limit: float = 2.0
    # "embedded": the web process runs the scheduler; "external": `kaohe scheduler` does.
    scheduler_mode: str = "embedded"
    debug: bool = False
    # Time of day (local, HH:MM) at which calendar meetings and checks fire.
    calendar_time: str = "09:00"
    # Uploaded evidence files, content-addressed (engine/evidence/storage.py), and the largest one accepted.
    files_dir: Path = PROJECT_ROOT / "instance" / "files"
    max_upload_mb: float = 20
    # Limits that keep one request, form, case or file from hurting the service (engine/limits.py).
    # The whole request body; None: ten files of max_upload_mb plus 2 MB for the form's own fields.
    max_request_mb: float | None = None
    max_form_fields: int = 2000        # fields (parts) of one posted form
    max_form_memory_kb: int = 1024     # a posted form's text fields together (files not counted)
    max_data_kb: int = 256             # one task's submitted data, or one start's data, as JSON
    max_text_length: int = 10_000      # characters of a text field whose form sets no maxLength
    max_list_items: int = 1000         # items of a list field whose form sets no maxItems
    max_state_mb: float = 16           # one instance's saved state; a save that would be larger is refused
    max_children: int = 200_000        # child instances one launch may start (room for 100,000 people)
    max_unpacked_mb: float = 200       # what an uploaded .xlsx (a zip) declares it unpacks to
    max_sheet_rows: int = 200_000      # rows of one sheet (or CSV file) an import reads
    max_definition_kb: int = 2048      # one BPMN, DMN or form file at deploy
    # Sessions end after this many hours without a request, and in any case a day after sign-in.
    session_hours: float = 8
    # Send cookies over HTTPS only: set it wherever kaohe is served through TLS (a proxy counts).
    secure_cookies: bool = False
    # Where failed sign-ins are counted; one process may count in memory, several workers need a
    # shared store (e.g. redis://127.0.0.1:6379/0) or each would allow the full number.
    ratelimit_storage: str = "memory://"
    # Who starts a launch's children (engine/services/fan_out.py): "inline" (the caller, after its
    # commit), "thread" (a background thread of this process) or "celery" (workers, engine/worker.py).
    work_queue: str = "inline"
    # The Celery broker (Redis or RabbitMQ) when work_queue is "celery".
    broker_url: str = "redis://127.0.0.1:6379/0"

    @property
    def max_request_bytes(self) -> int:
        """The largest request body: KAOHE_MAX_REQUEST_MB, or ten evidence files plus the form."""
        megabytes = self.max_request_mb if self.max_request_mb is not None else self.max_upload_mb * 10 + 2
        return int(megabytes * 1024 * 1024)

    @classmethod
    def from_env(cls, environ=None) -> "Settings":
        env = os.environ if environ is None else environ
        defaults = cls()
        work_queue = env.get("KAOHE_WORK_QUEUE", defaults.work_queue)
        if work_queue not in WORK_QUEUES:  # a typo would otherwise start every launch in the request
            raise ValueError(f"KAOHE_WORK_QUEUE 只能是 {' / '.join(WORK_QUEUES)}，收到 {work_queue!r}; "
                             f"KAOHE_WORK_QUEUE must be one of {', '.join(WORK_QUEUES)}")
        return cls(
            database_url=env.get("KAOHE_DATABASE_URL", defaults.database_url),
            timezone=env.get("KAOHE_TIMEZONE", defaults.timezone),
            secret_key=env.get("KAOHE_SECRET_KEY", defaults.secret_key),
            language=env.get("KAOHE_LANGUAGE", defaults.language),
            workflows_dir=Path(env.get("KAOHE_WORKFLOWS_DIR", defaults.workflows_dir)),
            script_time_limit=float(env.get("KAOHE_SCRIPT_TIME_LIMIT", defaults.script_time_limit)),
            scheduler_mode=env.get("KAOHE_SCHEDULER", defaults.scheduler_mode),
            debug=env.get("KAOHE_DEBUG", "") in ("1", "true", "yes"),
            calendar_time=env.get("KAOHE_CALENDAR_TIME", defaults.calendar_time),
            files_dir=Path(env.get("KAOHE_FILES_DIR", defaults.files_dir)),
            max_upload_mb=float(env.get("KAOHE_MAX_UPLOAD_MB", defaults.max_upload_mb)),
            max_request_mb=float(env["KAOHE_MAX_REQUEST_MB"]) if env.get("KAOHE_MAX_REQUEST_MB") else None,
            max_form_fields=int(env.get("KAOHE_MAX_FORM_FIELDS", defaults.max_form_fields)),
            max_form_memory_kb=int(env.get("KAOHE_MAX_FORM_MEMORY_KB", defaults.max_form_memory_kb)),
            max_data_kb=int(env.get("KAOHE_MAX_DATA_KB", defaults.max_data_kb)),
            max_text_length=int(env.get("KAOHE_MAX_TEXT_LENGTH", defaults.max_text_length)),
            max_list_items=int(env.get("KAOHE_MAX_LIST_ITEMS", defaults.max_list_items)),
            max_state_mb=float(env.get("KAOHE_MAX_STATE_MB", defaults.max_state_mb)),
            max_children=int(env.get("KAOHE_MAX_CHILDREN", defaults.max_children)),
            max_unpacked_mb=float(env.get("KAOHE_MAX_UNPACKED_MB", defaults.max_unpacked_mb)),
            max_sheet_rows=int(env.get("KAOHE_MAX_SHEET_ROWS", defaults.max_sheet_rows)),
            max_definition_kb=int(env.get("KAOHE_MAX_DEFINITION_KB", defaults.max_definition_kb)),
            session_hours=float(env.get("KAOHE_SESSION_HOURS", defaults.session_hours)),
            secure_cookies=env.get("KAOHE_SECURE_COOKIES", "") in ("1", "true", "yes"),
            ratelimit_storage=env.get("KAOHE_RATELIMIT_STORAGE", defaults.ratelimit_storage),
            work_queue=work_queue,
            broker_url=env.get("KAOHE_BROKER_URL", defaults.broker_url),
        )
