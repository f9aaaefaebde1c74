"""Errors the engine raises on purpose. Each carries its message in Chinese and English;
the web layer maps the class to an HTTP status and picks the language."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    zh: str
    en: str

    def text(self, language: str = "zh") -> str:
        return self.en if language.startswith("en") else self.zh


class KaoheError(Exception):
    """Root of every error a person may see. `code` is stable for API clients."""

    code = "error"

    def __init__(self, zh: str, en: str, *, details: list | dict | None = None):
        self.message = Message(zh, en)
        self.details = details
        super().__init__(f"{zh} / {en}")

    def text(self, language: str = "zh") -> str:
        return self.message.text(language)


class NotFound(KaoheError):
    code = "not_found"


class PermissionDenied(KaoheError):
    code = "forbidden"


class Conflict(KaoheError):
    """The thing changed under the caller (another writer, a task already done)."""

    code = "conflict"


class InvalidState(KaoheError):
    code = "invalid_state"


class ValidationFailed(KaoheError):
    """Input rejected; `field_errors` maps a field path to a Message."""

    code = "validation_failed"

    def __init__(self, zh: str, en: str, *, field_errors: dict[str, Message] | None = None):
        super().__init__(zh, en)
        self.field_errors = field_errors or {}


@dataclass(frozen=True)
class Problem:
    """One reason a deployment was refused: which file, which element, what is wrong."""

    file: str
    element: str | None
    zh: str
    en: str
    line: int | None = None

    def text(self, language: str = "zh") -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        if self.element:
            where += f" #{self.element}"
        return f"{where}: {self.en if language.startswith('en') else self.zh}"


class DeploymentRejected(KaoheError):
    code = "deployment_rejected"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"部署被拒绝：发现 {len(problems)} 个问题",
                         f"deployment refused: {len(problems)} problem(s)", details=problems)
