"""The `kaohe` command: set up, deploy, serve and check an installation."""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from engine.clock import SYSTEM_CLOCK, FixedClock, as_utc
from engine.errors import DeploymentRejected, KaoheError
from engine.runtime import SYSTEM, Runtime
from engine.settings import Settings
from web.cli_quarterly import interviews as interviews_command, publicity as publicity_command
from web.cli_audit import audit as audit_command
from web.cli_backup import backup as backup_command, restore as restore_command
from web.cli_check import check as check_command
from web.cli_tokens import token as token_command
from web.cli_launches import launches as launches_command
from web.cli_instances import instances as instances_command
from web.cli_results import results as results_command


def _runtime(clock=None) -> Runtime:
    settings = Settings.from_env()
    return Runtime(settings, clock=clock) if clock else Runtime(settings)


def _language() -> str:
    return Settings.from_env().language


def _fail(error: KaoheError) -> None:
    language = _language()
    click.echo(click.style(error.text(language), fg="red"), err=True)
    if isinstance(error, DeploymentRejected):
        for problem in error.problems:
            click.echo(f"  - {problem.text(language)}", err=True)
    for field, message in getattr(error, "field_errors", {}).items():
        click.echo(f"  - {field}: {message.text(language)}", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """kaohe 考核: BPMN performance-evaluation cycles. Settings come from KAOHE_* variables."""


@main.command()
def init() -> None:
    """Migrate the database (KAOHE_DATABASE_URL) and deploy the bundled workflows."""
    from engine.migrate import upgrade
    from engine.services import deploy
    settings = Settings.from_env()
    upgrade(settings.database_url)
    rt = _runtime()
    try:
        results = deploy.deploy(rt, deploy.read_files([settings.workflows_dir]), SYSTEM) \
            if any(settings.workflows_dir.glob("*.bpmn")) else []
    except KaoheError as error:
        _fail(error)
    _print_deployed(results)
    _import_schemes(rt, sorted((settings.workflows_dir / "schemes").glob("*.scheme.json")))
    from engine.services import tracking
    if tracked := tracking.backfill(rt):
        click.echo(f"整改台账补录 {tracked} 个问题 rectification tracker: {tracked} problems added")
    click.echo("数据库已就绪 database ready")


def _import_schemes(rt: Runtime, paths) -> None:
    from engine.services import schemes
    for path in paths:
        try:
            scheme, created = schemes.import_scheme(rt, Path(path).read_text(encoding="utf-8"), SYSTEM)
        except KaoheError as error:
            click.echo(f"{path}:", err=True)
            _fail(error)
        state = "新版本 imported" if created else "未变化 unchanged"
        click.echo(f"考核方案 scheme {scheme.code}: v{scheme.version} {state}")


@main.group()
def scheme() -> None:
    """Evaluation schemes (areas, indicators, weights)."""


@scheme.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def scheme_import(files: tuple[str, ...]) -> None:
    """Import scheme JSON FILES; an unchanged file creates no new version."""
    _import_schemes(_runtime(), files)


@main.command()
def demo() -> None:
    """Load the demo organisation (safe to run again: it changes nothing the second time)."""
    from engine.services.demo import DEMO_LOGINS, DEMO_PASSWORD, load_demo
    counts = load_demo(_runtime())
    click.echo(f"示范组织 demo organisation: {counts['units']} 个单位 units, {counts['people']} 人 people")
    if counts["scored"]:
        click.echo(f"示范评分 demo scores: {counts['scored']} (kaohe results --period {counts['scored']})")
    if counts["cases"]:
        click.echo("已发起示范案例 demo case started: 采油一队 月度任务书 (p01_head 的待办 in p01_head's inbox)")
    click.echo(f"演示账号 demo logins (密码 password: {DEMO_PASSWORD}):")
    for username, role in DEMO_LOGINS:
        click.echo(f"  {username:<16} {role}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True))
def deploy(files: tuple[str, ...]) -> None:
    """Validate BPMN, DMN and form FILES (or directories) together and store new versions."""
    from engine.services import deploy as deploy_service
    rt = _runtime()
    try:
        results = deploy_service.deploy(rt, deploy_service.read_files(list(files)), SYSTEM)
    except KaoheError as error:
        _fail(error)
    _print_deployed(results)


def _print_deployed(results) -> None:
    for r in results:
        prefix = "决策表 decision " if r.kind == "decision" else ""
        click.echo(f"{prefix}{r.process_id}: v{r.version} {'新版本 deployed' if r.created else '未变化 unchanged'}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Serve with gunicorn and this many worker processes (production). "
                   "Without it: one process, the development server.")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Threads per gunicorn worker (more than 1: gthread workers, with keep-alive).")
def serve(host: str, port: int, workers: int | None, threads: int) -> None:
    """Serve the web app (and, unless KAOHE_SCHEDULER=external, the scheduler) on HOST:PORT.

    With --workers, gunicorn's workers serve the pages and one separate scheduler process runs the
    timers (none with KAOHE_SCHEDULER=external: then run `kaohe scheduler` yourself)."""
    if threads > 1 and workers is None:
        raise click.UsageError("--threads needs --workers (the development server has no worker threads to set)")
    if workers is not None:
        from web import wsgi
        wsgi.serve(host, port, workers, threads)
        return
    from web import create_app
    app = create_app()
    click.echo(f"kaohe 正在运行 running on http://{host}:{port}")
    app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)


@main.group()
def holidays() -> None:
    """Non-working days (weekends are never working days)."""


@holidays.command("add")
@click.argument("day")
@click.argument("name")
def holidays_add(day: str, name: str) -> None:
    """Mark DAY (YYYY-MM-DD) as a non-working day called NAME."""
    from datetime import date

    from engine.services.working_days import add_non_working_day
    try:
        add_non_working_day(_runtime(), date.fromisoformat(day), name, SYSTEM)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="DAY") from error
    except KaoheError as error:
        _fail(error)
    click.echo(f"{day} {name}")


@holidays.command("list")
@click.option("--year", type=int, default=None, help="Default: this year.")
def holidays_list(year: int | None) -> None:
    """The non-working days of a year."""
    from engine.services.working_days import non_working_days
    for row in non_working_days(_runtime(), year or SYSTEM_CLOCK.now().year):
        click.echo(f"{row.day.isoformat()}  {row.name}")


@main.command("scheduler")
@click.option("--poll", default=2.0, show_default=True, type=float,
              help="Seconds between looks for timers set by web workers.")
def scheduler(poll: float) -> None:
    """Run the timers and the calendar alone (with KAOHE_SCHEDULER=external on the web workers)."""
    import signal
    import threading

    from engine.scheduling import TimerScheduler
    rt = _runtime()
    timers = TimerScheduler(rt)
    timers.start()
    timers.watch_database(poll)
    click.echo(f"kaohe 调度器运行中 scheduler running ({len(timers.scheduler.get_jobs())} jobs)")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    timers.shutdown()


@main.command("run-due")
@click.option("--now", "now_text", help="Run what is due up to this moment (ISO 8601; default: now).")
def run_due(now_text: str | None) -> None:
    """Fire every timer and calendar meeting that is due, each exactly once."""
    from engine.services import instances
    from engine.services.calendar_jobs import run_calendar
    clock = FixedClock(as_utc(datetime.fromisoformat(now_text))) if now_text else None
    rt = _runtime(clock)
    outcomes = run_calendar(rt)
    for outcome in outcomes:
        click.echo(f"{outcome.firing.scheduled_for.isoformat()} {outcome.firing.job}: {outcome.status}")
    fired = sum(instances.wake(rt, instance_id) for instance_id in instances.due_instance_ids(rt))
    click.echo(f"已触发 fired: {fired}")
    from engine.services.reminders import send_due_reminders
    click.echo(f"到期提醒 reminders: {send_due_reminders(rt)}")


@main.group()
def schedule() -> None:
    """The evaluation calendar (the 30th, the 15th, 旬 checks, quarter ends)."""


@schedule.command("list")
@click.option("--count", default=12, show_default=True, type=int)
@click.option("--from", "from_text", help="List firings after this moment (ISO 8601; default: now).")
def schedule_list(count: int, from_text: str | None) -> None:
    """The next firings in KAOHE_TIMEZONE, at KAOHE_CALENDAR_TIME."""
    from zoneinfo import ZoneInfo

    from engine.calendar import JOBS, next_firings, parse_time_of_day
    settings = Settings.from_env()
    start = as_utc(datetime.fromisoformat(from_text)) if from_text else SYSTEM_CLOCK.now()
    zone = ZoneInfo(settings.timezone)
    for firing in next_firings(start, settings.timezone, count, parse_time_of_day(settings.calendar_time)):
        zh, en = JOBS[firing.job]
        click.echo(f"{firing.scheduled_for.astimezone(zone):%Y-%m-%d %H:%M}  {zh}  {en}")


@main.command("create-user")
@click.argument("username")
@click.option("--name", "display_name", required=True)
@click.option("--role", "roles", multiple=True, help="Role code; repeat for several.")
@click.password_option()
def create_user(username: str, display_name: str, roles: tuple[str, ...], password: str) -> None:
    """Create a person who can log in (or add roles to an existing one)."""
    from engine.services.people import ensure_person
    rt = _runtime()
    try:
        with rt.db.unit_of_work() as session:
            ensure_person(session, username, display_name, password=password, roles=roles)
    except KaoheError as error:
        _fail(error)
    click.echo(f"用户已保存 user saved: {username}")


@main.group()
def org() -> None:
    """Organisation spreadsheets: units and people as .xlsx or .csv (template, import, export)."""


def _fail_org_import(error: KaoheError) -> None:
    """Print the refusal and every problem on its own line (file, sheet, row, column), then exit 1."""
    language = _language()
    click.echo(click.style(error.text(language), fg="red"), err=True)
    for problem in getattr(error, "problems", ()):
        click.echo(f"  - {problem.text(language)}", err=True)
    sys.exit(1)


@org.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def org_import(files: tuple[str, ...]) -> None:
    """Import units and people from .xlsx and/or .csv FILES, all or nothing.

    An .xlsx workbook holds a units sheet and a people sheet; a .csv file holds one table, decided by its
    header row, so pass both: `kaohe org import units.csv people.csv`. CSV files must be UTF-8 (with or
    without a BOM). Units are matched by code and people by username: importing again updates them and
    never duplicates; units and people not in the files are left alone (import never deletes). Passwords
    are never in the sheet: new people cannot log in until an administrator sets one. If any row is wrong,
    every problem is listed with its file, sheet, row and column, nothing is written, and the exit code is 1.
    """
    from engine.services.org_io import import_org
    from web.cli_progress import progress_bar
    try:
        with progress_bar() as progress:
            report = import_org(_runtime(), files, SYSTEM, progress=progress)
    except KaoheError as error:
        _fail_org_import(error)
    for line in report.lines(_language()):
        click.echo(line)


_HEADERS_OPTION = click.option("--english-headers", is_flag=True,
                               help="Write English headers and codes instead of Chinese ones.")


@org.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
@_HEADERS_OPTION
def org_export(file: str, english_headers: bool) -> None:
    """Write every unit and person to FILE (.xlsx or .csv), in the layout `kaohe org import` reads.

    FILE.xlsx: one workbook with a units sheet and a people sheet. NAME.csv: a CSV file holds one
    table, so it writes NAME-units.csv and NAME-people.csv next to each other (UTF-8 with a BOM)."""
    from engine.services.org_io import export_org
    from web.cli_progress import progress_bar
    try:
        with progress_bar() as progress:
            written = export_org(_runtime(), file, language="en" if english_headers else "zh", progress=progress)
    except KaoheError as error:
        _fail(error)
    for path in written:
        click.echo(f"已导出 exported: {path}")


@org.command("template")
@click.argument("file", type=click.Path(dir_okay=False))
@_HEADERS_OPTION
def org_template(file: str, english_headers: bool) -> None:
    """Write an empty .xlsx FILE to fill in: the units and people sheets and a sheet explaining every column."""
    from engine.services.org_io import write_template
    try:
        path = write_template(file, language="en" if english_headers else "zh")
    except KaoheError as error:
        _fail(error)
    click.echo(f"已生成模板 template written: {path}")


@main.group()
def scores() -> None:
    """Score entry in bulk: the workbook evaluation groups fill in, and importing it back."""


@scores.command("template")
@click.option("--period", required=True, help="Period YYYY-MM, e.g. 2026-03.")
@click.option("--group", "group", help="Only this evaluation group (code such as party, or 党务).")
@click.argument("file", type=click.Path(dir_okay=False))
def scores_template(period: str, group: str | None, file: str) -> None:
    """Write the .xlsx FILE the evaluation groups fill in for PERIOD: one sheet per group (units in its
    scope x its indicators, scores already entered filled in), a 加减分 sheet for likes and error
    notices, and a 说明 sheet explaining it all."""
    from engine.services.score_sheets import write_template
    try:
        content = write_template(_runtime(), period, SYSTEM, group)
    except KaoheError as error:
        _fail(error)
    Path(file).write_bytes(content)
    click.echo(f"已生成成绩录入表 score workbook written: {file}")


@scores.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def scores_import(file: str) -> None:
    """Import a filled-in score workbook FILE, all or nothing.

    Scores are matched by period, unit and indicator: importing again updates them, never duplicates;
    empty score cells are skipped. Adjustments already imported (same period, unit, type, points and
    reason) are not added again. If anything is wrong, every problem is listed with its sheet, row and
    column, nothing is written, and the exit code is 1."""
    from engine.services.score_sheets import import_scores
    from web.cli_progress import progress_bar
    language = _language()
    try:
        with progress_bar() as progress:
            report = import_scores(_runtime(), Path(file).read_bytes(), Path(file).name, SYSTEM, progress)
    except KaoheError as error:
        problems = getattr(error, "problems", None)
        if not problems:
            _fail(error)
        click.echo(click.style(error.text(language), fg="red"), err=True)
        for problem in problems:  # each names its sheet, row and column
            click.echo(f"  - {problem.message.text(language)}", err=True)
        sys.exit(1)
    for line in report.lines(language):
        click.echo(line)


main.add_command(results_command)
main.add_command(publicity_command)
main.add_command(interviews_command)
main.add_command(token_command)
main.add_command(audit_command)
main.add_command(backup_command)
main.add_command(restore_command)
main.add_command(check_command)
main.add_command(launches_command)
main.add_command(instances_command)

if __name__ == "__main__":
    main()
