"""`creditmeter webhooks add|list|remove|redeliver|deliveries`: the operator's webhook
endpoints, over the store directly (as the other commands are)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table

from .cli_support import cell, friendly, print_table, store_of
from .store.webhooks import DeliveryRow, EndpointRow
from .webhooks import endpoints


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _endpoint(row: EndpointRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "events": list(row.events),
        "status": row.status,
        "created_at": row.created_at,
    }


def _delivery(row: DeliveryRow) -> dict[str, Any]:
    return {
        "event_id": row.event_id,
        "type": row.type,
        "created_at": row.created_at,
        "state": row.state,
        "attempts": row.attempts,
        "last_status": row.last_status,
        "last_excerpt": row.last_excerpt,
        "last_attempt_at": row.last_attempt_at,
        "next_attempt_at": row.next_attempt_at,
    }


@click.group("webhooks")
def webhooks_group() -> None:
    """Balance alert webhooks (Standard Webhooks; see docs/webhooks.md)."""


@webhooks_group.command("add")
@click.argument("url")
@click.option(
    "--events",
    help="Comma-separated types to send (default all): credits.balance_low, "
    "credits.balance_depleted, credits.balance_recovered, credits.grant_expired.",
)
@click.option("--json", "as_json", is_flag=True, help="The endpoint and its secret as JSON.")
@click.pass_context
@friendly
def webhooks_add(ctx: click.Context, url: str, events: str | None, as_json: bool) -> None:
    """Register an endpoint at URL; prints its signing secret, once."""
    body: dict[str, Any] = {"url": url}
    if events is not None:
        body["events"] = [t.strip() for t in events.split(",") if t.strip()]
    row = endpoints.create_endpoint(
        store=store_of(ctx), request=endpoints.EndpointRequest.parse(body)
    )
    if as_json:
        click.echo(json.dumps({**_endpoint(row), "secret": row.secret}))
        return
    click.echo(f"added webhook {row.id} -> {row.url} ({', '.join(row.events)})")
    click.echo(f"secret (shown only now): {row.secret}")


@webhooks_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@click.pass_context
@friendly
def webhooks_list(ctx: click.Context, as_json: bool) -> None:
    """List endpoints (never their secrets)."""
    rows = endpoints.list_endpoints(store=store_of(ctx))
    if as_json:
        click.echo(json.dumps([_endpoint(row) for row in rows]))
        return
    table = Table("id", "url", "events", "status", "created")
    for row in rows:
        table.add_row(
            row.id, cell(row.url), "\n".join(row.events), row.status, _when(row.created_at)
        )
    print_table(table)


@webhooks_group.command("remove")
@click.argument("endpoint_id")
@click.option("--json", "as_json", is_flag=True, help="The endpoint removed, as JSON.")
@click.pass_context
@friendly
def webhooks_remove(ctx: click.Context, endpoint_id: str, as_json: bool) -> None:
    """Remove endpoint ENDPOINT_ID: nothing more is sent to it."""
    row = endpoints.remove_endpoint(store=store_of(ctx), endpoint_id=endpoint_id)
    if as_json:
        click.echo(json.dumps(_endpoint(row)))
        return
    click.echo(f"removed webhook {row.id} ({row.url})")


@webhooks_group.command("redeliver")
@click.argument("event_id")
@click.option("--json", "as_json", is_flag=True, help='{"event_id", "queued"} as JSON.')
@click.pass_context
@friendly
def webhooks_redeliver(ctx: click.Context, event_id: str, as_json: bool) -> None:
    """Send failed event EVENT_ID again (the whole retry schedule), by `serve`."""
    queued = endpoints.redeliver(store=store_of(ctx), event_id=event_id)
    if as_json:
        click.echo(json.dumps({"event_id": event_id, "queued": queued}))
        return
    if queued:
        click.echo(f"queued {queued} delivery(ies) of {event_id} again")
    else:
        click.echo(f"{event_id} has no failed delivery to an enabled endpoint; nothing queued")


@webhooks_group.command("deliveries")
@click.argument("endpoint_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@click.pass_context
@friendly
def webhooks_deliveries(ctx: click.Context, endpoint_id: str, as_json: bool) -> None:
    """The last 100 deliveries of endpoint ENDPOINT_ID, newest first."""
    rows = endpoints.list_deliveries(store=store_of(ctx), endpoint_id=endpoint_id)
    if as_json:
        click.echo(json.dumps([_delivery(row) for row in rows]))
        return
    table = Table("event", "type", "created", "state", "attempts", "last status", "answer")
    for row in rows:
        table.add_row(
            row.event_id,
            row.type,
            _when(row.created_at),
            row.state,
            str(row.attempts),
            "-" if row.last_status is None else str(row.last_status),
            cell(row.last_excerpt or ""),
        )
    print_table(table)
