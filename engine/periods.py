"""Evaluation periods: a month "2026-03" or a quarter "2026Q1", and the arithmetic on them.
One place, so the calendar, results and demo data agree on what "last month" is."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from engine.errors import ValidationFailed

_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_QUARTER = re.compile(r"([0-9]{4})Q([1-4])")


def month_of(moment: datetime, zone: str) -> str:
    """The month a moment falls in, where people are (KAOHE_TIMEZONE)."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local.year}-{local.month:02d}"


def quarter_of(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local.year}Q{(local.month - 1) // 3 + 1}"


def last_month(moment: datetime, zone: str) -> str:
    """The month before the one `moment` falls in: what a report meeting reports on."""
    return shift_month(month_of(moment, zone), -1)


def shift_month(period: str, months: int) -> str:
    """'2026-01' shifted by -1 is '2025-12'."""
    index = int(period[:4]) * 12 + int(period[5:7]) - 1 + months
    return f"{index // 12}-{index % 12 + 1:02d}"


def months_ending(period: str, count: int) -> list[str]:
    """`count` months ending with `period`, oldest first."""
    return [shift_month(period, -n) for n in range(count - 1, -1, -1)]


def months_of(label: str) -> list[str]:
    """'2026-03' -> ['2026-03']; '2026Q1' -> ['2026-01', '2026-02', '2026-03']; anything else is refused."""
    if _MONTH.fullmatch(label):
        return [label]
    quarter = _QUARTER.fullmatch(label)
    if quarter:
        year, q = int(quarter.group(1)), int(quarter.group(2))
        return [f"{year}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]
    raise ValidationFailed(f"期间格式应为 2026-03 或 2026Q1，收到「{label}」",
                           f"a period looks like 2026-03 or 2026Q1, not '{label}'")
