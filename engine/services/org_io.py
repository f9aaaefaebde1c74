"""Import and export the organisation (units and people) as spreadsheets; the CLI and the web both call these.

Import is all-or-nothing: every row is checked against the files and the database first, every problem is
reported, and only clean files are written, in one unit of work. Existing rows are loaded once into dicts
and written with bulk statements, so 100,000 people cost a handful of statements, not 100,000 queries."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from engine import limits
from engine.errors import Conflict, Message, PermissionDenied, ValidationFailed
from engine.models import OrgUnit, Person, PersonRole
from engine.models.org import ROLES, UNIT_CATEGORIES
from engine.runtime import Actor, Runtime
from engine.services import audit
from engine.services.admin_access import ACCESS_ROLES, USER_ADMINS
from engine.services.progress import Report, step
from engine.services.result_inputs import all_periods_changed
from engine.services.org_sheets import (COLUMNS, PARTY_STATUSES, POSITIONS, TABLE_NAMES, SheetContents,
                                        SheetProblem, Table, read_tables)
from engine.services.org_sheets_write import header_texts, write_csv, write_xlsx

UNITS, PEOPLE, ROLES_TABLE = OrgUnit.__table__, Person.__table__, PersonRole.__table__
Source = Path | str | tuple[str, bytes]  # a file on disk, or (file name, content) as uploaded


class OrgImportRejected(ValidationFailed):
    """The files were refused; `problems` says where and why, every one of them."""

    def __init__(self, problems: list[SheetProblem]):
        super().__init__(f"导入被拒绝：发现 {len(problems)} 个问题，没有写入任何数据",
                         f"import refused: {len(problems)} problem(s) found; nothing was written",
                         field_errors={str(i): Message(p.text("zh"), p.text("en"))
                                       for i, p in enumerate(problems, 1)})
        self.problems = self.details = problems


@dataclass(frozen=True)
class ImportReport:
    files: tuple[str, ...]
    units_created: int
    units_updated: int
    units_unchanged: int
    people_created: int
    people_updated: int
    people_unchanged: int

    def lines(self, language: str = "zh") -> list[str]:
        if language.startswith("en"):
            lines = [f"{what}: {new} created, {changed} updated, {same} unchanged"
                     for what, new, changed, same in (
                         ("units", self.units_created, self.units_updated, self.units_unchanged),
                         ("people", self.people_created, self.people_updated, self.people_unchanged))]
            no_password = (f"the {self.people_created} new people have no password: they cannot log in until "
                           f"an administrator sets one")
        else:
            lines = [f"{what}：新建 {new}，更新 {changed}，未变 {same}" for what, new, changed, same in (
                ("单位", self.units_created, self.units_updated, self.units_unchanged),
                ("人员", self.people_created, self.people_updated, self.people_unchanged))]
            no_password = f"新建的 {self.people_created} 人没有密码：管理员为其设置密码后才能登录"
        return lines + [no_password] if self.people_created else lines


def import_org(rt: Runtime, sources: Iterable[Source], actor: Actor,
               progress: Report | None = None) -> ImportReport:
    """Check every table in the files against each other and the database; write all of it or nothing."""
    if not actor.has_role("process_owner", "admin"):
        raise PermissionDenied("只有绩效办公室或系统管理员可以导入组织",
                               "only process owners and administrators may import the organisation")
    problems: list[SheetProblem] = []
    tables, names = [], []
    for source in sources:  # read before the transaction: the write lock is held only to check and write
        name, content = source if isinstance(source, tuple) else (Path(source).name, Path(source))
        names.append(name)
        refused = limits.workbook_problem(rt.settings, name, content)  # too large, or a zip bomb: not opened
        if refused is not None:
            problems.append(SheetProblem(name, None, None, None, refused.zh, refused.en))
            continue
        tables.extend(read_tables(name, content, problems, progress, max_rows=rt.settings.max_sheet_rows))
    step(progress, "正在核对并写入", "checking and writing")
    try:
        with rt.db.unit_of_work() as session:
            connection = session.connection()
            plan = _Plan(connection, SheetContents(tables, problems), problems,
                         may_grant_access=actor.has_role(*USER_ADMINS))
            if problems:
                raise OrgImportRejected(_in_reading_order(problems, names, tables))
            now = rt.clock.now()
            report = plan.write(connection, now, tuple(names))
            all_periods_changed(session)  # units, branches and people's units feed every period's results
            counts = {"units": {"created": report.units_created, "updated": report.units_updated},
                      "people": {"created": report.people_created, "updated": report.people_updated}}
            audit.record(session, at=now, actor=actor, action="org_import",
                         subject=", ".join(names), detail=counts)
    except IntegrityError as exc:  # another import added the same code or username a moment earlier
        raise Conflict("组织数据已被他人同时修改，请重新导入",
                       "someone else changed the organisation at the same time; import again") from exc
    return report


def _in_reading_order(problems: list[SheetProblem], names: list[str],
                      tables: list[Table]) -> list[SheetProblem]:
    """By file, sheet and row, as a person works through them (checks across rows find theirs late)."""
    sheets = {(t.file, t.sheet): i for i, t in enumerate(tables)}
    return sorted(problems,
                  key=lambda p: (names.index(p.file), sheets.get((p.file, p.sheet), -1), p.row or 0))


class _Plan:
    """The files' units and people checked against each other and the database; `write` applies them."""

    def __init__(self, connection, contents: SheetContents, problems: list[SheetProblem], *,
                 may_grant_access: bool = True):
        self.problems = problems
        self.may_grant_access = may_grant_access
        # Everything stored, loaded once: checks and comparisons then cost dict look-ups, not queries.
        self.units = {row.code: row for row in connection.execute(select(
            UNITS.c.id, UNITS.c.code, UNITS.c.name, UNITS.c.category, UNITS.c.parent_id,
            UNITS.c.branch_id)).all()}
        self.code_of = {row.id: row.code for row in self.units.values()}
        self.people = {row.username: row for row in connection.execute(select(
            PEOPLE.c.id, PEOPLE.c.username, PEOPLE.c.display_name, PEOPLE.c.unit_id, PEOPLE.c.position,
            PEOPLE.c.party_status)).all()}
        self.roles = _roles_by_person(connection)
        self.unit_rows, self.person_rows = contents.units, contents.people
        self._check_units()
        self._check_people()

    def _flag(self, table: Table, number: int, key: str | None, zh: str, en: str) -> None:
        self.problems.append(table.problem(number, key, zh, en))

    def _final_unit(self, code: str) -> dict:
        """A unit as it will be after the import: the file's values over the database's."""
        row = self.units.get(code)
        final = {"name": row.name, "category": row.category, "parent_code": self.code_of.get(row.parent_id),
                 "branch_code": self.code_of.get(row.branch_id)} if row else \
            {"name": None, "category": None, "parent_code": None, "branch_code": None}
        if code in self.unit_rows:
            final.update(self.unit_rows[code][2])
        return final

    def _check_units(self) -> None:
        self.final_units = {code: self._final_unit(code)
                            for code in self.units.keys() | self.unit_rows.keys()}
        for table, number, wanted in self.unit_rows.values():
            parent = wanted.get("parent_code")
            if parent and parent not in self.final_units:
                self._flag(table, number, "parent_code",
                           f"上级单位 {parent} 不存在（文件和系统中都没有这个编码）",
                           f"parent unit {parent} does not exist (neither in the file nor in the system)")
            branch = wanted.get("branch_code")
            if branch:
                self._check_branch(table, number, branch)
        self._check_branches_kept()
        self._check_cycles()

    def _check_branch(self, table: Table, number: int, branch: str) -> None:
        if branch not in self.final_units:
            self._flag(table, number, "branch_code", f"党支部 {branch} 不存在（文件和系统中都没有这个编码）",
                       f"party branch {branch} does not exist (neither in the file nor in the system)")
            return
        category = self.final_units[branch]["category"]
        if category not in (None, "party_branch"):  # None: its own row already reported a bad category
            zh, en = UNIT_CATEGORIES[category]
            self._flag(table, number, "branch_code", f"单位 {branch} 的类别是{zh}，不是党支部",
                       f"unit {branch} is not a party branch (its category is {en})")

    def _check_branches_kept(self) -> None:
        """A branch the file turns into another category must not leave the system's units pointing at it."""
        for code, (table, number, wanted) in self.unit_rows.items():
            row = self.units.get(code)
            if row is None or row.category != "party_branch" or wanted["category"] in (None, "party_branch"):
                continue
            members = sorted(c for c, final in self.final_units.items() if final["branch_code"] == code)
            if members:
                self._flag(table, number, "category", f"{code} 仍是这些单位的党支部：{'、'.join(members)}，"
                           f"不能改为其他类别", f"{code} is still the party branch of {', '.join(members)}; "
                           f"it must stay a party branch")

    def _check_cycles(self) -> None:
        done: set[str] = set()
        for start in self.unit_rows:
            path, on_path, code = [], set(), start
            while code and code not in done and code not in on_path and code in self.final_units:
                path.append(code)
                on_path.add(code)
                code = self.final_units[code]["parent_code"]
            if code in on_path:
                # The database holds no cycle, so every cycle runs through a unit of the file.
                cycle = path[path.index(code):]
                first = min((c for c in cycle if c in self.unit_rows), key=lambda c: self.unit_rows[c][1])
                table, number, _ = self.unit_rows[first]
                chain = " → ".join(cycle[cycle.index(first):] + cycle[:cycle.index(first)] + [first])
                self._flag(table, number, "parent_code", f"上级单位形成循环：{chain}",
                           f"the parent units form a cycle: {chain}")
            done.update(path)

    def _check_people(self) -> None:
        for username, (table, number, wanted) in self.person_rows.items():
            if not self.may_grant_access and "roles" in wanted:
                self._check_access_roles(table, number, username, wanted["roles"])
            unit = wanted.get("unit_code")
            if unit and unit not in self.final_units:
                self._flag(table, number, "unit_code", f"单位 {unit} 不存在（文件和系统中都没有这个编码）",
                           f"unit {unit} does not exist (neither in the file nor in the system)")

    def _check_access_roles(self, table: Table, number: int, username: str, roles: set[str]) -> None:
        """Roles that open the administration (admin, office, auditor) are granted by administrators only,
        so a process owner's spreadsheet cannot make anyone, themselves included, an administrator."""
        row = self.people.get(username)
        held = self.roles.get(row.id, set()) if row else set()
        changed = sorted((roles ^ held) & set(ACCESS_ROLES), key=list(ROLES).index)
        if changed:
            names_zh, names_en = "、".join(ROLES[r][0] for r in changed), ", ".join(ROLES[r][1] for r in changed)
            self._flag(table, number, "roles", f"只有系统管理员可以授予或撤销这些角色：{names_zh}",
                       f"only administrators grant or withdraw these roles: {names_en}")

    def write(self, connection, now, names: tuple[str, ...]) -> ImportReport:
        id_of, units_created, units_updated = self._write_units(connection)
        people_created, people_updated = self._write_people(connection, id_of, now)
        units_unchanged = len(self.unit_rows) - units_created - units_updated
        people_unchanged = len(self.person_rows) - people_created - people_updated
        return ImportReport(names, units_created, units_updated, units_unchanged, people_created,
                            people_updated, people_unchanged)

    def _write_units(self, connection) -> tuple[dict[str, int], int, int]:
        """Insert the new units bare, then set every name, category, parent and branch that differs:
        a parent may be a unit of the same file that has no id until it is inserted."""
        new = [{"code": code, "name": wanted["name"], "category": wanted["category"], "active": True}
               for code, (_, _, wanted) in self.unit_rows.items() if code not in self.units]
        id_of = {row.code: row.id for row in self.units.values()}
        id_of.update(_insert_returning_ids(connection, UNITS, new, "code"))
        changes, updated = [], 0
        for code in self.unit_rows:
            final, row = self.final_units[code], self.units.get(code)
            values = {"b_id": id_of[code], "name": final["name"], "category": final["category"],
                      "parent_id": id_of.get(final["parent_code"]),
                      "branch_id": id_of.get(final["branch_code"])}
            before = {"b_id": row.id, "name": row.name, "category": row.category, "parent_id": row.parent_id,
                      "branch_id": row.branch_id} if row else {**values, "parent_id": None, "branch_id": None}
            if values != before:
                changes.append(values)
                updated += row is not None
        _update_by_id(connection, UNITS, changes)
        return id_of, len(new), updated

    def _write_people(self, connection, id_of: dict[str, int], now) -> tuple[int, int]:
        new, changes, role_adds, role_removals, updated = [], [], [], [], 0
        for username, (_, _, wanted) in self.person_rows.items():
            row = self.people.get(username)
            # A column left out of the file keeps the stored value (or the default for a new person).
            unit_id = id_of.get(wanted["unit_code"]) if "unit_code" in wanted else row and row.unit_id
            values = {"display_name": wanted["display_name"], "unit_id": unit_id,
                      "position": wanted.get("position", row.position if row else "staff"),
                      "party_status": wanted.get("party_status", row.party_status if row else "none")}
            if row is None:
                new.append({"username": username, "active": True, "created_at": now, **values})
                continue
            held = self.roles.get(row.id, set())
            roles = wanted.get("roles", held)
            role_adds += [{"person_id": row.id, "role": r} for r in sorted(roles - held)]
            role_removals += [{"b_person_id": row.id, "b_role": r} for r in sorted(held - roles)]
            before = {"display_name": row.display_name, "unit_id": row.unit_id, "position": row.position,
                      "party_status": row.party_status}
            if values != before:
                changes.append({"b_id": row.id, **values})
            updated += values != before or roles != held
        for username, person_id in _insert_returning_ids(connection, PEOPLE, new, "username").items():
            role_adds += [{"person_id": person_id, "role": r}
                          for r in sorted(self.person_rows[username][2].get("roles", ()))]
        _update_by_id(connection, PEOPLE, changes)
        if role_removals:
            connection.execute(delete(ROLES_TABLE).where(ROLES_TABLE.c.person_id == bindparam("b_person_id"),
                                                         ROLES_TABLE.c.role == bindparam("b_role")),
                               role_removals)
        _bulk_insert(connection, ROLES_TABLE, role_adds)
        return len(new), updated


def _insert_returning_ids(connection, table, rows: list[dict], key: str) -> dict[str, int]:
    """Insert many rows; key value -> new id. Ids only grow, so the new rows are above the old maximum;
    rows another session added meanwhile are filtered out by key. (INSERT .. RETURNING of 100,000 rows
    cost 6 s on PostgreSQL; this costs one more query.)"""
    if not rows:
        return {}
    highest = connection.execute(select(func.max(table.c.id))).scalar() or 0
    _bulk_insert(connection, table, rows)
    wanted = {row[key] for row in rows}
    added = connection.execute(select(table.c[key], table.c.id).where(table.c.id > highest)).all()
    return {value: row_id for value, row_id in added if value in wanted}


def _bulk_insert(connection, table, rows: list[dict]) -> None:
    """executemany; on PostgreSQL, COPY: 100,000 people in 0.4 s instead of 4 s."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    from psycopg import sql
    columns = list(rows[0])
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table.name),
                                                          sql.SQL(", ").join(map(sql.Identifier, columns)))
    # The session's own connection, so the rows are part of the import's transaction.
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _update_by_id(connection, table, rows: list[dict]) -> None:
    if rows:
        columns = [name for name in rows[0] if name != "b_id"]
        connection.execute(update(table).where(table.c.id == bindparam("b_id"))
                           .values(**{name: bindparam(name) for name in columns}), rows)


def export_org(rt: Runtime, path: Path | str, *, language: str = "zh",
               progress: Report | None = None) -> list[Path]:
    """Write every unit and person, sorted by code and username; returns the files written.

    .xlsx: one workbook with a units and a people sheet. .csv: a CSV file holds one table, so
    NAME.csv becomes NAME-units.csv and NAME-people.csv side by side."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ValidationFailed("只能导出为 .xlsx 或 .csv 文件", "can only export to .xlsx or .csv files")
    step(progress, "正在读取组织数据", "reading the organisation")
    with rt.db.reading() as session:
        connection = session.connection()
        units = connection.execute(select(UNITS.c.id, UNITS.c.code, UNITS.c.name, UNITS.c.category,
                                          UNITS.c.parent_id, UNITS.c.branch_id).order_by(UNITS.c.code)).all()
        people = connection.execute(select(PEOPLE.c.id, PEOPLE.c.username, PEOPLE.c.display_name,
                                           PEOPLE.c.unit_id, PEOPLE.c.position, PEOPLE.c.party_status)
                                    .order_by(PEOPLE.c.username)).all()
        roles = _roles_by_person(connection)
    code_of = {u.id: u.code for u in units}
    tables = {
        "units": [[u.code, u.name, label(UNIT_CATEGORIES, u.category, language), code_of.get(u.parent_id, ""),
                   code_of.get(u.branch_id, "")] for u in units],
        "people": [[p.username, p.display_name, code_of.get(p.unit_id, ""),
                    label(POSITIONS, p.position, language), label(PARTY_STATUSES, p.party_status, language),
                    roles_text(roles.get(p.id, ()), language)] for p in people]}
    if suffix == ".csv":
        written = [path.with_name(f"{path.stem}-{kind}.csv") for kind in tables]
        for target, (kind, rows) in zip(written, tables.items(), strict=True):
            write_csv(target, header_texts(kind, language), rows, progress)
        return written
    english = language.startswith("en")
    write_xlsx(path, [(TABLE_NAMES[kind][english], header_texts(kind, language), rows)
                      for kind, rows in tables.items()], explanation=False, progress=progress)
    return [path]


def label(vocabulary: dict[str, tuple[str, str]], code: str, language: str) -> str:
    """How a sheet shows a code: its Chinese name, or the code itself in English sheets."""
    return code if language.startswith("en") or code not in vocabulary else vocabulary[code][0]


def roles_text(codes, language: str) -> str:
    """Roles in the order ROLES lists them, so an export is stable and reads from most to least powerful."""
    ordered = sorted(codes, key=lambda code: list(ROLES).index(code) if code in ROLES else len(ROLES))
    separator = ", " if language.startswith("en") else "、"
    return separator.join(label(ROLES, code, language) for code in ordered)


def _roles_by_person(connection) -> dict[int, set[str]]:
    roles: dict[int, set[str]] = {}
    for person_id, role in connection.execute(select(ROLES_TABLE.c.person_id, ROLES_TABLE.c.role)).all():
        roles.setdefault(person_id, set()).add(role)
    return roles


def write_template(path: Path | str, *, language: str = "zh") -> Path:
    """An empty workbook: the units and people sheets with their headers, and the explanation sheet."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise ValidationFailed("模板只能是 .xlsx 文件（CSV 文件放不下说明页）",
                               "the template must be an .xlsx file (a CSV file cannot hold the explanation "
                               "sheet)")
    english = language.startswith("en")
    write_xlsx(path, [(TABLE_NAMES[kind][english], header_texts(kind, language), []) for kind in COLUMNS],
               explanation=True)
    return path
