"""The operator's credit commands: `creditmeter grants create|list|void` and `balance`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table

from .cli_support import Days, friendly, print_table, store_of
from .clock import now_ms
from .credits import balances, inputs
from .credits.grants import Grant, GrantRequest, create_grant, list_grants, void_grant
from .errors import NotFound
from .http import credit_json
from .money import format_credits
from .store import directory


def _when(ms: int | None) -> str:
    if ms is None:
        return "never"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _grants_table(grants: list[Grant]) -> Table:
    table = Table("id", "kind", "credits", "remaining", "priority", "expires", "status")
    for g in grants:
        table.add_row(
            g.grant_id,
            g.kind,
            format_credits(g.credits),
            format_credits(g.remaining),
            str(g.priority),
            _when(g.expires_at),
            g.status,
        )
    return table


def _plain_json(value: Any) -> str:
    return credit_json.dumps(value).decode()


@click.group("grants")
def grants_group() -> None:
    """Credits given to accounts (idempotent by id)."""


@grants_group.command("create")
@click.option("--account", "account_id", required=True)
@click.option("--credits", "amount", required=True, help="Credits, e.g. 1000 or 12.5.")
@click.option("--id", "grant_id", help="Idempotency key; default a new one each time.")
@click.option("--kind", default="purchase", show_default=True, type=click.Choice(inputs.KINDS))
@click.option("--priority", default=50, show_default=True, type=int, help="1-100, lower first.")
@click.option("--expires-in", "expires_in", type=Days(), help="Days until it expires.")
@click.option("--note")
@click.option("--json", "as_json", is_flag=True, help="The grant as one JSON object.")
@click.pass_context
@friendly
def grants_create(
    ctx: click.Context,
    account_id: str,
    amount: str,
    grant_id: str | None,
    kind: str,
    priority: int,
    expires_in: float | None,
    note: str | None,
    as_json: bool,
) -> None:
    """Grant credits to an account."""
    body: dict[str, Any] = {
        "id": grant_id or f"cli-{uuid.uuid4().hex[:16]}",
        "credits": amount,
        "kind": kind,
        "priority": priority,
        "note": note,
    }
    if expires_in is not None:
        body["expires_at"] = now_ms() + int(expires_in * 86_400_000)
    grant, new = create_grant(
        store=store_of(ctx), account_id=account_id, request=GrantRequest.parse(body)
    )
    if as_json:
        click.echo(_plain_json(credit_json.grant(grant)))
        return
    verb = "granted" if new else "already granted"
    click.echo(f"{verb}: {grant.grant_id}, {format_credits(grant.credits)} credits to {account_id}")


@grants_group.command("list")
@click.option("--account", "account_id", required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@click.pass_context
@friendly
def grants_list(ctx: click.Context, account_id: str, as_json: bool) -> None:
    """List an account's grants with what remains of each."""
    found = list_grants(store=store_of(ctx), account_id=account_id)
    if as_json:
        click.echo(_plain_json([credit_json.grant(g) for g in found]))
        return
    print_table(_grants_table(found))


@grants_group.command("void")
@click.option("--account", "account_id", required=True)
@click.argument("grant_id")
@click.option("--reason")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@friendly
def grants_void(
    ctx: click.Context, account_id: str, grant_id: str, reason: str | None, as_json: bool
) -> None:
    """Void what remains of GRANT_ID."""
    grant = void_grant(store=store_of(ctx), account_id=account_id, grant_id=grant_id, reason=reason)
    if as_json:
        click.echo(_plain_json(credit_json.grant(grant)))
        return
    click.echo(f"voided: {grant.grant_id} ({grant.status})")


@click.command("balance")
@click.option("--account", "account_id", required=True)
@click.option("--at", help="An instant (ms or RFC 3339): the balance as it stood then.")
@click.option(
    "--entries",
    "latest",
    default=10,
    show_default=True,
    type=click.IntRange(min=0, max=1000),
    help="Latest entries shown.",
)
@click.option("--json", "as_json", is_flag=True, help="The balance as one JSON object.")
@click.pass_context
@friendly
def balance_command(
    ctx: click.Context, account_id: str, at: str | None, latest: int, as_json: bool
) -> None:
    """An account's balance, its grants and the latest journal entries."""
    store = store_of(ctx)
    with store.read() as conn:
        if directory.get_account(conn, account_id) is None:
            raise NotFound(f"account {account_id!r} does not exist")
    instant = None if at is None else inputs.past_instant("--at", at, now_ms())
    found = balances.balance(store=store, account_id=account_id, at=instant)
    if as_json:
        click.echo(_plain_json(credit_json.balance(found)))
        return
    summary = Table("balance", "held", "available", "overage", "seq")
    summary.add_row(
        *map(format_credits, (found.balance, found.held, found.available, found.overage)),
        str(found.seq),
    )
    print_table(summary)
    print_table(_grants_table(found.grants))
    start = max(0, found.seq - max(latest, 0))
    rows = balances.entries(
        store=store, account_id=account_id, after_seq=start, limit=found.seq - start or 1
    )
    journal = Table("seq", "time", "type", "credits", "balance after", "detail")
    for entry in rows:
        if entry.row.seq > found.seq:
            break
        r = entry.row
        detail = r.grant_id or (f"{r.events_count} events" if r.events_count else "")
        journal.add_row(
            str(r.seq),
            _when(r.time),
            r.type,
            format_credits(r.credits),
            format_credits(r.balance_after),
            detail,
        )
    print_table(journal)
