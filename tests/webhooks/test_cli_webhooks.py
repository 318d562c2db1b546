"""`creditmeter webhooks add|list|remove|redeliver|deliveries` and `accounts create
--low-balance-threshold`, on a SQLite file; redeliver tried against `serve` and a real
receiver."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from creditmeter import accounts
from creditmeter.money import MICRO
from creditmeter.settings import Settings
from creditmeter.store import open_store
from tests.e2e.test_cli import Cli
from tests.support.receiver import Receiver, receiving
from tests.support.server import wait_until

from .support import WEBHOOK_ENV, serve, world


def test_add_list_remove_refuse(tmp_path: Path) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'ledger.db'}")
    refused = cli("webhooks", "add", "http://127.0.0.1:9/hook", code=1)
    assert "loopback" in refused.stderr
    assert "http or https" in cli("webhooks", "add", "ftp://93.184.216.34/x", code=1).stderr
    made = json.loads(
        cli(
            "webhooks",
            "add",
            "http://93.184.216.34/hook",
            "--events",
            "credits.balance_low,credits.grant_expired",
            "--json",
        ).stdout
    )
    assert made["secret"].startswith("whsec_")
    assert made["events"] == ["credits.balance_low", "credits.grant_expired"]
    shown = cli("webhooks", "add", "https://93.184.216.34/other").stdout
    assert "secret (shown only now): whsec_" in shown
    listed = json.loads(cli("webhooks", "list", "--json").stdout)
    assert listed[0]["id"] == made["id"]
    assert all("secret" not in w for w in listed)
    table = cli("webhooks", "list").stdout
    assert made["id"] in table
    assert "whsec_" not in table
    assert made["id"] in cli("webhooks", "remove", made["id"]).stdout
    assert "does not exist" in cli("webhooks", "remove", made["id"], code=1).stderr
    bad = cli("webhooks", "add", "http://93.184.216.34/x", "--events", "credits.nope", code=1)
    assert "credits.nope" in bad.stderr
    assert "does not exist" in cli("webhooks", "redeliver", "evt_nope", code=1).stderr


def test_accounts_create_with_a_threshold(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    cli = Cli(url)
    out = cli("accounts", "create", "acme", "--low-balance-threshold", "12.5").stdout
    assert "alerts below 12.5 credits" in out
    refused = cli("accounts", "create", "bad", "--low-balance-threshold", "-1", code=1)
    assert "--low-balance-threshold: must be a plain decimal" in refused.stderr
    store = open_store(Settings(database_url=url))
    try:
        account = accounts.get_account(store=store, account_id="acme")
    finally:
        store.dispose()
    assert account.low_balance_threshold == 12 * MICRO + 500_000


def test_redeliver_a_failed_event(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    cli = Cli(url)
    cli.env.update(WEBHOOK_ENV)
    receiver = Receiver(status=500)
    with receiving(receiver), world(url, receiver) as w, serve(url, tmp_path / "log") as s:
        w.grant(s, "g", 11)
        w.ingest_events(s, [("e1", Decimal(2))])
        wait_until(lambda: w.deliveries(s)[0]["state"] == "failed", timeout=30, what="failed")
        (failed,) = json.loads(cli("webhooks", "deliveries", w.endpoint_id, "--json").stdout)
        assert failed["state"] == "failed"
        assert failed["event_id"] in cli("webhooks", "deliveries", w.endpoint_id).stdout
        receiver.status = 200
        queued = json.loads(cli("webhooks", "redeliver", failed["event_id"], "--json").stdout)
        assert queued == {"event_id": failed["event_id"], "queued": 1}
        wait_until(
            lambda: w.deliveries(s)[0]["state"] == "delivered", timeout=30, what="redelivered"
        )
        again = cli("webhooks", "redeliver", failed["event_id"]).stdout
        assert "nothing queued" in again
