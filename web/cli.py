"""The `kaohe` command: set up, deploy, serve and check an installation."""
from __future__ import annotations

import sys
from datetime import datetime

import click

from engine.clock import FixedClock, as_utc
from engine.errors import DeploymentRejected, KaoheError
from engine.runtime import SYSTEM, Runtime
from engine.settings import Settings


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
    for r in results:
        click.echo(f"{r.process_id}: v{r.version} {'新版本 deployed' if r.created else '未变化 unchanged'}")
    click.echo("数据库已就绪 database ready")


@main.command()
def demo() -> None:
    """Load the demo organisation (safe to run again: it changes nothing the second time)."""
    from engine.services.demo import DEMO_LOGINS, DEMO_PASSWORD, load_demo
    counts = load_demo(_runtime())
    click.echo(f"示范组织 demo organisation: {counts['units']} 个单位 units, {counts['people']} 人 people")
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
    for r in results:
        click.echo(f"{r.process_id}: v{r.version} {'新版本 deployed' if r.created else '未变化 unchanged'}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the web app (and, unless KAOHE_SCHEDULER=external, the scheduler) on HOST:PORT."""
    from web import create_app
    app = create_app()
    click.echo(f"kaohe 正在运行 running on http://{host}:{port}")
    app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)


@main.command("run-due")
@click.option("--now", "now_text", help="Run what is due up to this moment (ISO 8601; default: now).")
def run_due(now_text: str | None) -> None:
    """Fire every timer that is due, once, and report how many."""
    from engine.services import instances
    clock = FixedClock(as_utc(datetime.fromisoformat(now_text))) if now_text else None
    rt = _runtime(clock)
    fired = sum(instances.wake(rt, instance_id) for instance_id in instances.due_instance_ids(rt))
    click.echo(f"已触发 fired: {fired}")


@main.group()
def audit() -> None:
    """Audit trail commands."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the hash chain of the audit trail; name the first broken link."""
    from engine.services import audit as audit_service
    rt = _runtime()
    with rt.db.reading() as session:
        report = audit_service.verify(session)
    if report.ok:
        click.echo(f"审计链完整 audit chain intact: {report.checked} 条事件 events")
        return
    click.echo(click.style(f"审计链在事件 #{report.first_broken_id} 处断开 audit chain broken at event "
                           f"#{report.first_broken_id}: {report.reason} ({report.checked} verified before it)",
                           fg="red"), err=True)
    sys.exit(1)


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


if __name__ == "__main__":
    main()
