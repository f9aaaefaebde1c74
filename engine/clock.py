"""The one source of "now" for the whole engine, so tests and `kaohe run-due --now` can travel in time."""
from __future__ import annotations

from datetime import datetime, timezone


class Clock:
    """Wall-clock time in UTC (aware datetimes)."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock(Clock):
    """A clock that stands still until moved; for tests and catch-up runs."""

    def __init__(self, at: datetime):
        self.at = as_utc(at)

    def now(self) -> datetime:
        return self.at

    def move_to(self, at: datetime) -> None:
        self.at = as_utc(at)


def as_utc(moment: datetime) -> datetime:
    """Read naive datetimes (as SQLite returns them) as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


SYSTEM_CLOCK = Clock()
