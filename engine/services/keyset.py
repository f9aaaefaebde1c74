"""Keyset ("seek") paging shared by the inbox and the rectification tracker.

A page continues after (or before) the sort key of the last (first) row shown instead of skipping
N rows with OFFSET, so page 500 costs what page 1 costs and a row inserted meanwhile neither repeats
nor hides one. A list's order is a sequence of *segments* (e.g. "tasks with a due time, by due time"
then "tasks without one, by id"): within a segment every key column is NOT NULL, which lets each
segment be read from one index in order on SQLite and PostgreSQL alike (NULLS LAST would need a
sort on SQLite). The cursor in the address is that key, base64 of a short JSON list tagged with the
sort it belongs to; anything that does not decode to the right types is treated as no cursor.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

MAX_CURSOR_LENGTH = 400


@dataclass(frozen=True)
class Segment:
    """Rows matching `where`, ordered by `key`: (column, descending) pairs, the last one unique.

    `constant`: columns `where` holds at one value (tested IS NULL), named first in ORDER BY so that
    PostgreSQL sees the index order: it takes "x = 1" as fixing x for the order, not "x IS NULL"."""

    where: tuple
    key: tuple
    constant: tuple = ()


@dataclass(frozen=True)
class Position:
    segment: int
    values: tuple


@dataclass
class Window:
    rows: list  # the page's rows, in display order
    has_next: bool
    has_prev: bool
    next_cursor: str | None
    prev_cursor: str | None


def encode(tag: str, position: Position) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in position.values]
    raw = json.dumps([tag, position.segment, *values], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(text: str | None, tag: str, segments: list[Segment]) -> Position | None:
    """The position a cursor names, or None when it is missing, of another sort, or malformed."""
    if not text or len(text) > MAX_CURSOR_LENGTH:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(raw, list) or len(raw) < 3 or raw[0] != tag or type(raw[1]) is not int:
        return None
    if not 0 <= raw[1] < len(segments) or len(raw) - 2 != len(segments[raw[1]].key):
        return None
    values = []
    for (column, _descending), value in zip(segments[raw[1]].key, raw[2:]):
        typed = _typed(_python_type(column), value)
        if typed is None:
            return None
        values.append(typed)
    return Position(raw[1], tuple(values))


def _python_type(column) -> type:
    kind = column.type.impl if isinstance(column.type, TypeDecorator) else column.type  # UtcDateTime
    return kind.python_type


def _typed(kind: type, value):
    if kind is int:
        return value if type(value) is int and abs(value) < 2**63 else None
    if kind is datetime:
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None
        return moment if moment is not None and moment.tzinfo is not None else None
    return value if isinstance(value, str) and len(value) <= 200 else None


def _seek(key: tuple, values: tuple, forward: bool):
    """Rows strictly after (forward) or before the key values in the segment's order.

    The leading column's inclusive range comes first on its own, so both databases turn it into
    an index range; the OR then only sorts out ties on that column."""
    def beyond(column, descending, value, strict=True):
        greater = descending != forward  # ascending and forward, or descending and backward
        if strict:
            return column > value if greater else column < value
        return column >= value if greater else column <= value
    ties = []
    for n, (column, descending) in enumerate(key):
        ties.append(and_(*[c == v for (c, _d), v in zip(key[:n], values[:n])], beyond(column, descending, values[n])))
    first, descending = key[0]
    return and_(beyond(first, descending, values[0], strict=False), or_(*ties)) if len(key) > 1 else ties[0]


def _order(segment: Segment, forward: bool) -> list:
    leading = segment.key[0][1]  # the constant columns go the way the first key column goes
    key = tuple((column, leading) for column in segment.constant) + segment.key
    return [column.desc() if descending == forward else column.asc() for column, descending in key]


def _position(segment_index: int, segment: Segment, row) -> Position:
    return Position(segment_index, tuple(getattr(row, column.key) for column, _d in segment.key))


def segment_query(base, segment: Segment, start: Position | None, limit: int, forward: bool = True):
    """The SELECT that reads one segment from `start` on (what the benches explain)."""
    conditions = list(segment.where) + ([_seek(segment.key, start.values, forward)] if start is not None else [])
    return base.where(*conditions).order_by(*_order(segment, forward)).limit(limit)


def _walk(session: Session, base, segments: list[Segment], start: Position | None, limit: int,
          forward: bool) -> list[tuple[int, object]]:
    """Up to `limit` rows from `start` (exclusive) on, crossing into the next segments as needed."""
    found: list[tuple[int, object]] = []
    first = (start.segment if start else 0) if forward else start.segment
    order = range(first, len(segments)) if forward else range(first, -1, -1)
    for index in order:
        segment = segments[index]
        query = segment_query(base, segment, start if start is not None and index == start.segment else None,
                              limit - len(found), forward)
        found += [(index, row) for row in session.execute(query)]
        if len(found) >= limit:
            break
    return found


def fetch(session: Session, base, segments: list[Segment], tag: str, per_page: int,
          after: Position | None = None, before: Position | None = None) -> Window:
    """One page of `base` (a SELECT with the list's columns and WHERE) in the segments' order."""
    if before is not None:
        found = _walk(session, base, segments, before, per_page + 1, forward=False)
        if len(found) > per_page:  # a full page before the cursor and more beyond it
            found = found[:per_page][::-1]
            index, row = found[-1]
            has_next = bool(_walk(session, base, segments, _position(index, segments[index], row), 1, True))
            return _window(tag, segments, found, has_next, True)
        after = None  # fewer than a page before it: that is the first page
    found = _walk(session, base, segments, after, per_page + 1, forward=True)
    return _window(tag, segments, found[:per_page], len(found) > per_page, after is not None)


def _window(tag: str, segments: list[Segment], found: list, has_next: bool, has_prev: bool) -> Window:
    rows = [row for _index, row in found]
    if not found:
        return Window(rows, False, has_prev, None, None)
    first, last = found[0], found[-1]
    return Window(rows, has_next, has_prev,
                  encode(tag, _position(last[0], segments[last[0]], last[1])) if has_next else None,
                  encode(tag, _position(first[0], segments[first[0]], first[1])) if has_prev else None)


def fetch_offset(session: Session, base, segments: list[Segment], tag: str, per_page: int, page: int) -> Window:
    """Page N the old way (OFFSET), for API clients that still send `page`; the window's cursors let
    them switch to seeking. A segment the offset passes whole is counted to know how far to skip on."""
    skip, found = (page - 1) * per_page, []
    for index, segment in enumerate(segments):
        if len(found) > per_page:
            break
        rows = session.execute(segment_query(base, segment, None, per_page + 1 - len(found)).offset(skip)).all()
        found += [(index, row) for row in rows]
        if rows or not skip:
            skip = 0
        else:
            size = session.scalar(select(func.count()).select_from(base.where(*segment.where).subquery()))
            skip -= min(skip, size)
    return _window(tag, segments, found[:per_page], len(found) > per_page, page > 1)
