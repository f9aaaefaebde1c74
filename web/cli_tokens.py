"""`kaohe token create|list|revoke`: API tokens from the command line, run as the system
(whoever can run this command on the server already holds the database)."""
from __future__ import annotations

import sys

import click
from tabulate import tabulate

from engine.errors import KaoheError, ValidationFailed
from engine.runtime import SYSTEM, Runtime
from engine.settings import Settings


def _run(call):
    settings = Settings.from_env()
    language = "en" if settings.language.startswith("en") else "zh"
    try:
        return call(Runtime(settings))
    except KaoheError as error:
        click.echo(click.style(error.text(language), fg="red"), err=True)
        if isinstance(error, ValidationFailed):
            for field, message in error.field_errors.items():
                click.echo(f"  - {field}: {message.text(language)}", err=True)
        sys.exit(1)


@click.group("token")
def token() -> None:
    """API tokens for integrations (OA, HR, payroll)."""


@token.command("create")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="Role code the token may use; repeat for several.")
@click.option("--account", default="", help="Act as this username (it must hold the roles). "
                                            "Default: a new service account api-NAME.")
@click.option("--days", type=int, default=None, help="Valid for this many days (default: until revoked).")
def create(name: str, roles: tuple[str, ...], account: str, days: int | None) -> None:
    """Issue a token and print its secret once."""
    from engine.services import api_tokens
    created = _run(lambda rt: api_tokens.create(rt, SYSTEM, name=name, scope=roles, account=account,
                                                valid_days=days))
    click.echo(f"令牌已创建 token created: {created.token.name} (#{created.token.id}, {created.token.account})")
    click.echo("请立即保存，密钥不会再次显示 / store it now, the secret is not shown again:")
    click.echo(created.secret)


@token.command("list")
def list_tokens() -> None:
    """Tokens issued, active first (never the secrets)."""
    from engine.services import api_tokens
    rows = _run(lambda rt: api_tokens.list_tokens(rt, SYSTEM))
    click.echo(tabulate([(t.id, t.name, t.account, " ".join(t.scope), t.prefix + "…",
                          "active" if t.active else f"revoked {t.revoked_at:%Y-%m-%d}",
                          f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "-") for t in rows],
                        headers=["#", "name", "account", "scope", "prefix", "state", "last used"]))


@token.command("revoke")
@click.argument("token_id", type=int)
def revoke(token_id: int) -> None:
    """Revoke a token by its number; calls with it are refused from now on."""
    from engine.services import api_tokens
    _run(lambda rt: api_tokens.revoke(rt, SYSTEM, token_id))
    click.echo(f"令牌已吊销 token revoked: #{token_id}")
