"""The operator's commands: `creditmeter serve|accounts|keys|demo|import|report|db`
(grants and balance in credits_cli, webhooks in webhooks_cli)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.table import Table

from . import accounts, credits_cli, demo, keys, portal, webhooks_cli
from .bills import Window, bill_page
from .categories import CATEGORIES
from .cli_support import (
    EXIT_USAGE,
    Days,
    cell,
    err,
    fail,
    friendly,
    print_table,
    services_of,
    store_of,
)
from .clock import now_ms
from .credits import inputs
from .days import dates_ms, day_start_ms, local_date, zone
from .demo_load import load_demo
from .http import credit_json
from .ids import check_slug
from .money import format_credits
from .rebuilds import resume_rebuilds
from .settings import Settings
from .store import open_store


def _settings() -> Settings:
    """The settings from CREDITMETER_* variables; a bad value is a usage error naming it."""
    try:
        return Settings()
    except ValidationError as error:
        problems = [
            f"CREDITMETER_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
            for e in error.errors()
        ]
        fail(f"invalid setting: {'; '.join(problems)}", EXIT_USAGE)


@click.group()
@click.option(
    "--database-url",
    envvar="CREDITMETER_DATABASE_URL",
    help="The store; default sqlite:///creditmeter.db (or CREDITMETER_DATABASE_URL).",
)
@click.version_option(package_name="creditmeter")
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """creditmeter: an exactly-once credit-consumption ledger."""
    if database_url:
        os.environ["CREDITMETER_DATABASE_URL"] = database_url  # seen by serve's workers too
    ctx.ensure_object(dict)
    ctx.obj["settings"] = _settings()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.pass_context
@friendly
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Run the API, the dashboard, /docs, /openapi.json, /healthz, /readyz and /metrics.

    With --workers N, N processes share the port. SIGTERM stops accepting connections at
    once and answers every request in flight before exiting."""
    from .logs import configure_logging
    from .serving import serve as run_server

    settings: Settings = ctx.obj["settings"]
    configure_logging(settings)
    store = open_store(settings)  # migrate once, before any worker starts
    try:  # zone changes a stopped process left half rebuilt (reports are exact meanwhile)
        resume_rebuilds(store=store)
    finally:
        store.dispose()
    status = run_server(
        host=host,
        port=port,
        workers=workers,
        settings=settings,
    )
    sys.exit(status)


@main.group()
def db() -> None:
    """The store's schema."""


@db.command("upgrade")
@click.pass_context
@friendly
def db_upgrade(ctx: click.Context) -> None:
    """Bring the store to the current schema (every command does this first)."""
    resume_rebuilds(store=store_of(ctx))
    click.echo("the store is at the current schema")


@main.group("accounts")
def accounts_group() -> None:
    """Customer accounts."""


@accounts_group.command("create")
@click.argument("account_id")
@click.option("--name", help="Display name; default the id.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone its days are in.")
@click.option(
    "--low-balance-threshold",
    "threshold",
    help="Credits: credits.balance_low fires when the balance goes below it.",
)
@click.pass_context
@friendly
def accounts_create(
    ctx: click.Context, account_id: str, name: str | None, timezone: str, threshold: str | None
) -> None:
    """Create account ACCOUNT_ID."""
    micro = None
    if threshold is not None:
        micro = inputs.credits(
            "--low-balance-threshold", threshold, inputs.MAX_GRANT_MICRO, positive=False
        )
    account = accounts.create_account(
        store=store_of(ctx),
        account_id=account_id,
        name=name,
        timezone=timezone,
        low_balance_threshold=micro,
    )
    below = "" if micro is None else f", alerts below {format_credits(micro)} credits"
    click.echo(f"created account {account.id} ({account.name}, {account.timezone}{below})")


@accounts_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@click.pass_context
@friendly
def accounts_list(ctx: click.Context, as_json: bool) -> None:
    """List accounts."""
    found = accounts.list_accounts(store=store_of(ctx))
    if as_json:  # as the admin API writes accounts: the threshold in credits
        click.echo(credit_json.dumps([credit_json.account(a) for a in found]).decode())
        return
    table = Table("id", "name", "timezone", "low-balance threshold")
    for account in found:
        threshold = account.low_balance_threshold
        table.add_row(
            cell(account.id),
            cell(account.name),
            cell(account.timezone),
            "" if threshold is None else format_credits(threshold),
        )
    print_table(table)


@main.group("keys")
def keys_group() -> None:
    """API keys."""


def _key_dict(record: keys.Key) -> dict[str, Any]:
    fields = asdict(record)
    fields.pop("secret_hash")
    return fields


@keys_group.command("create")
@click.option("--account", "account_id", help="The account a read key belongs to.")
@click.option("--bot", "bot_id", help="Bind the read key to this bot alone.")
@click.option("--platform", is_flag=True, help="A platform key (scope ingest or admin).")
@click.option("--scope", type=click.Choice(keys.SCOPES), help="read (default), ingest or admin.")
@click.option(
    "--expires-in",
    "expires_in",
    type=Days(),
    help="Days until it expires.",
)
@click.option("--name", help="A label to recognise the key by.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with key_id and key.")
@click.pass_context
@friendly
def keys_create(
    ctx: click.Context,
    account_id: str | None,
    bot_id: str | None,
    platform: bool,
    scope: str | None,
    expires_in: float | None,
    name: str | None,
    as_json: bool,
) -> None:
    """Create a key; its secret is printed once and never stored."""
    if platform == (account_id is not None):
        raise click.UsageError("give either --account ID or --platform")
    if platform and scope not in ("ingest", "admin"):
        raise click.UsageError("a platform key needs --scope ingest or --scope admin")
    if not platform and scope not in (None, "read"):
        raise click.UsageError("an account key has scope read")
    if platform and bot_id:
        raise click.UsageError("--bot binds account keys only")
    new = keys.create_key(
        store=store_of(ctx),
        scope=scope or "read",
        account_id=account_id,
        bot_id=bot_id,
        name=name,
        expires_in_days=expires_in,
    )
    if as_json:
        click.echo(json.dumps({**_key_dict(new.record), "key": new.token}))
        return
    click.echo(f"key_id: {new.record.key_id}\nkey:    {new.token}")
    err.print("The key is shown only now; keep it somewhere safe.", style="yellow")


@keys_group.command("list")
@click.option("--account", "account_id", help="Only this account's keys.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@friendly
def keys_list(ctx: click.Context, account_id: str | None, as_json: bool) -> None:
    """List keys (never their secrets)."""
    found = keys.list_keys(store=store_of(ctx), account_id=account_id)
    if as_json:
        click.echo(json.dumps([_key_dict(k) for k in found]))
        return
    table = Table("key_id", "scope", "account", "bot", "state", "name")
    now = now_ms()
    for key in found:
        state = (
            "revoked" if key.revoked_at else ("expired" if not keys.is_live(key, now) else "live")
        )
        table.add_row(
            key.key_id,
            key.scope,
            cell(key.account_id or "-"),
            cell(key.bot_id or "-"),
            state,
            cell(key.name or ""),
        )
    print_table(table)


@keys_group.command("revoke")
@click.argument("key_id")
@click.pass_context
@friendly
def keys_revoke(ctx: click.Context, key_id: str) -> None:
    """Revoke KEY_ID; it fails on its next request."""
    keys.revoke_key(store=store_of(ctx), key_id=key_id)
    click.echo(f"revoked {key_id}")


@main.command("demo")
@click.pass_context
@friendly
def demo_command(ctx: click.Context) -> None:
    """Load the demo account and print a read key and a ready-to-paste curl command."""
    services, settings = services_of(ctx), ctx.obj["settings"]
    store = services.store
    loaded = load_demo(store=store, settings=settings)
    new = keys.create_key(store=store, scope="read", account_id=demo.ACCOUNT_ID, name="demo")
    today = local_date(now_ms(), zone(demo.TIMEZONE))
    click.echo(
        f"demo account '{demo.ACCOUNT_ID}' ({demo.TIMEZONE}): {loaded.accepted} events added, "
        f"{loaded.duplicates} already there"
    )
    click.echo(
        f"credits: a plan of {format_credits(loaded.plan)} each month (spent first, expiring "
        f"at the month's end) and a purchase of {format_credits(loaded.purchase)} (valid 3 "
        f"years); {len(loaded.granted)} grants added; balance now "
        f"{format_credits(loaded.balance)}"
    )
    if loaded.late:
        click.echo(
            f"note: {', '.join(loaded.late)} not given: the account's journal is already past "
            "their month (entries dated later by an earlier demo, or by a `creditmeter serve` "
            "sweeping expiries while this one loaded); on a new store, run `creditmeter demo` "
            "before `serve` for the history as it happened"
        )
    click.echo(f"read key: {new.token}\n")
    click.echo("Start the service (creditmeter serve), then:\n")
    click.echo(demo.curl_command(settings.public_url.rstrip("/"), new.token, today))
    link = portal.dashboard_url(settings.public_url, new.token, range="last90")
    click.echo(f"\nOr open the dashboard, signed in on the last 90 days:\n{link}")


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), help="Default: by the file's ending."
)
@click.pass_context
@friendly
def import_command(ctx: click.Context, file: Path, fmt: str | None) -> None:
    """Import events from JSON Lines or CSV; safe to run again (duplicates are skipped)."""
    from .importer import import_file

    import_file(
        ingestion=services_of(ctx).ingestion,
        path=file,
        fmt=fmt or ("csv" if file.suffix.lower() == ".csv" else "jsonl"),
    )


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@click.pass_context
@friendly
def backup_command(ctx: click.Context, path: Path, force: bool) -> None:
    """Copy the SQLite store to PATH, consistent even while it serves (restore: docs/deploy.md)."""
    from .store.backup import backup_sqlite

    size = backup_sqlite(settings=ctx.obj["settings"], destination=path, overwrite=force)
    click.echo(f"backed up the store to {path} ({size} bytes)")


@main.command("report")
@click.option("--account", "account_id", required=True)
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First local day.")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last local day.")
@click.option("--timezone", help="Default: the account's zone.")
@click.option("--bot", "bot_id", help="Only this bot.")
@click.option(
    "--conversations",
    is_flag=True,
    help="The most expensive conversations created in the range, not days.",
)
@click.option("--runs", is_flag=True, help="The most expensive workflow runs, not days.")
@click.option(
    "--limit",
    type=click.IntRange(min=1, max=1000),
    default=20,
    show_default=True,
    help="Rows of --conversations/--runs.",
)
@click.pass_context
@friendly
def report(
    ctx: click.Context,
    account_id: str,
    start: Any,
    end: Any,
    timezone: str | None,
    bot_id: str | None,
    conversations: bool,
    runs: bool,
    limit: int,
) -> None:
    """Credits per day and category, as a table (or per conversation or run)."""
    if conversations and runs:
        raise click.UsageError("give --conversations or --runs, not both")
    threads = "conversations" if conversations else "runs" if runs else None
    store = store_of(ctx)
    account = accounts.get_account(store=store, account_id=account_id)
    tz = zone(timezone or account.timezone)
    first: date = start.date()
    last: date = end.date()
    if last < first:
        raise click.UsageError("--end is before --start")
    if bot_id is not None:
        check_slug("--bot", bot_id)
    dates_ms(first, last, tz)  # refuses dates past what an instant can be, before any work
    if threads is not None:
        from .conversation_report import thread_table

        start_ms = day_start_ms(first, tz)
        end_ms = day_start_ms(last + timedelta(days=1), tz) - 1
        print_table(thread_table(store, account.id, bot_id, threads, start_ms, end_ms, limit))
        return
    table = Table("date", "total", *CATEGORIES, title=f"{account.id} ({tz.key})")
    totals = [0] * len(CATEGORIES)
    chunk_start = first
    while chunk_start <= last:
        chunk_end = last if (last - chunk_start).days < 90 else chunk_start + timedelta(days=89)
        start_ms, end_ms = dates_ms(chunk_start, chunk_end, tz)
        window = Window(
            account_id=account.id,
            bot_id=bot_id,
            start_ms=start_ms,
            end_ms=end_ms,
            tz=tz,
            account_tz=account.timezone,
        )
        rows, _ = bill_page(store=store, window=window, page=1, page_size=90)
        for row in rows:
            totals = [a + b for a, b in zip(totals, row.credits, strict=True)]
            table.add_row(
                row.date.isoformat(), format_credits(row.total), *map(format_credits, row.credits)
            )
        if chunk_end == last:
            break
        chunk_start = chunk_end + timedelta(days=1)
    table.add_section()
    table.add_row("total", format_credits(sum(totals)), *map(format_credits, totals), style="bold")
    print_table(table)


main.add_command(credits_cli.grants_group)
main.add_command(credits_cli.balance_command)
main.add_command(webhooks_cli.webhooks_group)
