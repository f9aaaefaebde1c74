"""Stored results per period, kept current by the "inputs changed" generations that every writer
of an input bumps (engine/services/result_inputs.py).

`snapshot(rt, label)` returns the period's stored snapshot when the generations it was
computed from are still the current ones; otherwise it computes the results once (one thread per
process and label at a time; two processes may both compute, the later store wins), stores header
and rows in one transaction (replacing the old rows, so nobody ever reads half a snapshot) and
returns it. The generations are read before the inputs: a write that lands during a computation
leaves the stored snapshot older than its generations, so it is recomputed next time, never trusted.

A month's results depend on its own inputs and, through the "full marks N months running" flags,
on the months before it; N is at most FULL_MARKS_WINDOW (the scheme document's maximum), so a
snapshot depends on the generations of the FULL_MARKS_WINDOW months ending with its last month and
on the "*" scope."""
from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.models import ResultInputGeneration, ResultPersonRow, ResultSnapshot, ResultUnitRow
from engine.periods import months_ending, months_of
from engine.runtime import Runtime
from engine.services import result_rows
from engine.services.progress import Report, counted
from engine.services.result_inputs import EVERY_PERIOD
from engine.services.results import PersonResult, Results, UnitResult, compute
from engine.services.rows import execute
from engine.services.schemes import SCHEME_DOCUMENT, scheme_for_period

FULL_MARKS_WINDOW = SCHEME_DOCUMENT["properties"]["full_marks_months"]["maximum"]
_GENERATION = ResultInputGeneration.__table__


# --- the snapshot header -------------------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    id: int
    token: str                   # changes whenever the rows are replaced
    label: str
    months: list[str]
    scheme_code: str | None      # None: nothing to show for the period (why: see `explain_empty`)
    scheme_version: int | None
    own_weight: Decimal | None
    rater_weights: dict
    areas: list                  # [[area code, weight, [categories]], ...] of the scheme
    unit_count: int
    person_count: int

    @property
    def empty(self) -> bool:
        return self.scheme_code is None


_HEADER = select(ResultSnapshot.id, ResultSnapshot.token, ResultSnapshot.label, ResultSnapshot.inputs,
                 ResultSnapshot.scheme_code, ResultSnapshot.scheme_version, ResultSnapshot.own_weight,
                 ResultSnapshot.rater_weights, ResultSnapshot.areas, ResultSnapshot.unit_count,
                 ResultSnapshot.person_count)


def _snapshot(row) -> Snapshot:
    """A header row (or the dict just stored) as a Snapshot."""
    get = row.get if isinstance(row, dict) else row._mapping.get
    return Snapshot(get("id"), get("token"), get("label"), months_of(get("label")), get("scheme_code"),
                    get("scheme_version"), get("own_weight"), json.loads(get("rater_weights") or "{}"),
                    json.loads(get("areas") or "[]"), get("unit_count"), get("person_count"))


def depends_on(label: str) -> list[str]:
    return months_ending(months_of(label)[-1], FULL_MARKS_WINDOW)


def _fingerprints(session: Session, labels: list[str]) -> dict[str, str]:
    """The generations each label's results depend on, as one comparable string."""
    scopes = sorted({m for label in labels for m in depends_on(label)} | {EVERY_PERIOD})
    current = dict(execute(session, select(_GENERATION.c.scope, _GENERATION.c.generation)
                           .where(_GENERATION.c.scope.in_(scopes))).all())
    return {label: ".".join(str(current.get(scope, 0)) for scope in [EVERY_PERIOD, *depends_on(label)])
            for label in labels}


def snapshot(rt: Runtime, label: str) -> Snapshot:
    """The period's stored results, computed and stored first if missing or out of date."""
    return snapshots(rt, [label])[label]


def snapshots(rt: Runtime, labels: list[str]) -> dict[str, Snapshot]:
    """Several periods at once (a unit's trend): two queries when all are current."""
    with rt.db.reading() as session:
        found, stale = _current(session, labels)
    for label in stale:
        found[label] = _refresh(rt, label)
    return found


def stored_as_they_are(session: Session, labels: list[str]) -> tuple[dict[str, Snapshot], list[str]]:
    """The stored snapshots of `labels`, current or not, and the labels whose snapshot is out of
    date or missing (what engine/services/result_jobs.py shows while a job recomputes them)."""
    wanted = _fingerprints(session, labels)
    kept, stale = {}, []
    for row in execute(session, _HEADER.where(ResultSnapshot.label.in_(labels))).all():
        kept[row.label] = _snapshot(row)
        if row.inputs != wanted[row.label]:
            stale.append(row.label)
    return kept, stale + [label for label in labels if label not in kept]


def _current(session: Session, labels: list[str]) -> tuple[dict[str, Snapshot], list[str]]:
    wanted = _fingerprints(session, labels)
    found = {}
    for row in execute(session, _HEADER.where(ResultSnapshot.label.in_(labels))).all():
        if row.inputs == wanted[row.label]:
            found[row.label] = _snapshot(row)
    return found, [label for label in labels if label not in found]


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def refresh(rt: Runtime, label: str, progress: Report | None = None) -> Snapshot:
    """The period's current snapshot, computed and stored first if out of date (`progress` hears of
    the units and people computed, then of the rows stored)."""
    return _refresh(rt, label, progress)


def current_results(rt: Runtime, label: str, progress: Report | None = None) -> Results:
    """The period's whole Results from the store, recomputed first if out of date (`kaohe results`);
    NotFound, as results.compute says it, when there is nothing to show."""
    snap = refresh(rt, label, progress)
    if snap.empty:
        raise explain_empty(rt, snap)
    with rt.db.reading() as session:
        return results(session, snap)


def _refresh(rt: Runtime, label: str, progress: Report | None = None) -> Snapshot:
    """Compute and store once: a second request for the same label waits and then reads it."""
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(label, threading.Lock())
    with lock:
        with rt.db.reading() as session:
            found, _stale = _current(session, [label])
            if label in found:
                return found[label]
            inputs = _fingerprints(session, [label])[label]  # before reading any input
            scheme = _scheme_parts(session, months_of(label)[-1])
        try:
            # No scheme: nothing to compute (one imported meanwhile has bumped the generations).
            results = compute(rt, label, progress=progress) if scheme else None
        except NotFound:  # the reward tables are not deployed
            results = None
        return _store(rt, label, inputs, results, scheme, progress)


def _scheme_parts(session: Session, month: str) -> dict:
    """What the pages need of the scheme besides the results: the fusion weight, rater weights, areas."""
    try:
        scheme = scheme_for_period(session, month)
    except NotFound:
        return {}
    return {"own_weight": scheme.own_weight, "rater_weights": scheme.rater_weights,
            "areas": json.dumps([[a.code, str(a.weight), json.loads(a.categories)] for a in scheme.areas])}


def _store(rt: Runtime, label: str, inputs: str, results: Results | None, scheme: dict,
           progress: Report | None = None) -> Snapshot:
    units = results.units if results else []
    people = results.people if results else []
    header = {"label": label, "inputs": inputs, "token": uuid.uuid4().hex, "computed_at": rt.clock.now(),
              "unit_count": len(units), "person_count": len(people),
              "scheme_code": results.scheme_code if results else None,
              "scheme_version": results.scheme_version if results else None,
              **{key: scheme[key] if results else None for key in ("own_weight", "rater_weights", "areas")}}
    with rt.db.unit_of_work() as session:
        dialect = session.get_bind().dialect.name
        upsert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}[dialect](ResultSnapshot.__table__)
        # Replaced in place (same id, row locked on PostgreSQL): a concurrent store waits, then replaces.
        header["id"] = execute(session, upsert.values(**header).on_conflict_do_update(
            index_elements=[ResultSnapshot.label], set_={k: v for k, v in header.items() if k != "label"})
            .returning(ResultSnapshot.id)).scalar_one()
        execute(session, delete(ResultUnitRow).where(ResultUnitRow.snapshot_id == header["id"]))
        execute(session, delete(ResultPersonRow).where(ResultPersonRow.snapshot_id == header["id"]))
        partners = result_rows.fusion_partners(results) if results else {}
        rows = len(units) + len(people)
        unit_rows = [{"snapshot_id": header["id"], "code": u.code, "position": n, "category": u.category,
                      "data": result_rows.unit_data(u, partners.get(u.code))}
                     for n, u in enumerate(counted(units, progress, rows, *_SAVING))]
        if unit_rows:
            execute(session, insert(ResultUnitRow), unit_rows)
        person_rows = [{"snapshot_id": header["id"], "username": p.username, "position": n,
                        "unit_code": p.unit_code, "data": result_rows.person_data(p)}
                       for n, p in enumerate(counted(people, _after(progress, len(units)), rows, *_SAVING))]
        if person_rows:
            execute(session, insert(ResultPersonRow), person_rows)
    return _snapshot(header)


_SAVING = ("正在保存考核结果", "saving the results")


def _after(progress: Report | None, already: int) -> Report | None:
    """`progress` for a second list counted on from where the first one ended."""
    if progress is None:
        return None
    return lambda done, total, zh, en: progress(already + done, total, zh, en)


_DECODED: OrderedDict = OrderedDict()
_DECODED_GUARD = threading.Lock()
DECODED_KEPT = 8


def memo(snap: Snapshot, name: str, build):
    """`build()` once per stored snapshot content in this process (a few, least recently used first
    out). Turning 2,000 stored units into the ranking's objects costs tens of milliseconds in Python;
    the snapshot's token changes with every store, so what is kept is never out of date: a request
    still checks the generations in the database (two small queries) before it gets here."""
    key = (snap.token, name)
    with _DECODED_GUARD:
        if key in _DECODED:
            _DECODED.move_to_end(key)
            return _DECODED[key]
    value = build()
    with _DECODED_GUARD:
        _DECODED[key] = value
        while len(_DECODED) > DECODED_KEPT:
            _DECODED.popitem(last=False)
    return value


def explain_empty(rt: Runtime, snap: Snapshot) -> NotFound:
    """Why a period has nothing to show, in the words results.compute uses (no scheme applies, or
    the reward tables are not deployed): the check fails on its first query."""
    try:
        compute(rt, snap.label)
    except NotFound as problem:
        return problem
    return NotFound(f"{snap.label} 的考核结果暂不可用，请稍后再试",
                    f"the results of {snap.label} are not available yet")


# --- reading rows ----------------------------------------------------------------------------

_UNITS = select(ResultUnitRow.code, ResultUnitRow.category, ResultUnitRow.data)
_PEOPLE = select(ResultPersonRow.username, ResultPersonRow.unit_code, ResultPersonRow.data)


def units(session: Session, snap: Snapshot, categories=None,
          codes=None) -> list[tuple[UnitResult, Decimal | None]]:
    """Units of the snapshot in results.compute's order with their fusion partner, optionally only
    some categories or codes (None: all)."""
    query = _UNITS.where(ResultUnitRow.snapshot_id == snap.id).order_by(ResultUnitRow.position)
    if categories is not None:
        query = query.where(ResultUnitRow.category.in_(list(categories)))
    if codes is not None:
        query = query.where(ResultUnitRow.code.in_(list(codes)))
    return [result_rows.unit_from(*row) for row in execute(session, query).all()]


def unit_across(session: Session, snaps: list[Snapshot], code: str) -> dict[str, UnitResult]:
    """One unit in several snapshots (a trend), by label, in one query."""
    labels = {s.id: s.label for s in snaps}
    rows = execute(session, select(ResultUnitRow.snapshot_id, *_UNITS.selected_columns)
                   .where(ResultUnitRow.snapshot_id.in_(list(labels)), ResultUnitRow.code == code)).all()
    return {labels[row[0]]: result_rows.unit_from(*row[1:])[0] for row in rows}


def people(session: Session, snap: Snapshot, usernames=None) -> list[PersonResult]:
    """Rated people of the snapshot in results.compute's order; `usernames` narrows them."""
    query = _PEOPLE.where(ResultPersonRow.snapshot_id == snap.id).order_by(ResultPersonRow.position)
    if usernames is not None:
        query = query.where(ResultPersonRow.username.in_(list(usernames)))
    return [result_rows.person_from(*row) for row in execute(session, query).all()]


def person(session: Session, snap: Snapshot, username: str) -> PersonResult | None:
    found = people(session, snap, [username])
    return found[0] if found else None


def results(session: Session, snap: Snapshot) -> Results:
    """The whole Results, as results.compute returned them (for the workbook)."""
    return Results(snap.label, snap.months, snap.scheme_code, snap.scheme_version,
                   [unit for unit, _partner in units(session, snap)], people(session, snap))
