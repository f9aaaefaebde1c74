"""Text that people typed, written into a spreadsheet as text and never as a formula.

openpyxl stores any string beginning with "=" as a formula, so a finding or a file name such as
"=HYPERLINK(...)" would run when the office opens an export (CSV/formula injection). Such
strings get a leading apostrophe, the usual way to say "this is text"; everything else is
written unchanged."""
from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_text(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def row_as_text(values) -> list:
    return [as_text(v) for v in values]
