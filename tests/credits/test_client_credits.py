"""The typed client's credit verbs against a served process: grant (idempotent), balance,
entries iterated across pages, and hold() releasing on error; the same verbs awaited on
the AsyncClient."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from creditmeter import accounts, keys
from creditmeter.client import AsyncClient, Client, PaymentRequired
from tests.support.server import EXECUTABLE, Server
from tests.support.stores import opened_store


def test_client_credit_verbs(tmp_path: Path) -> None:
    if not EXECUTABLE.exists():
        pytest.skip(f"{EXECUTABLE} is not installed")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with opened_store(url) as store:
        accounts.create_account(store=store, account_id="acme")
        admin = keys.create_key(store=store, scope="admin").token
        ingest = keys.create_key(store=store, scope="ingest").token
        read = keys.create_key(store=store, scope="read", account_id="acme").token
    with Server(url, tmp_path / "server.log") as server:
        with Client(server.base_url, admin) as meter:
            for n in range(3):
                meter.grant("acme", f"g{n}", "10.5", kind="plan")
            assert meter.grant("acme", "g0", "10.5", kind="plan").remaining == Decimal("10.5")
        with Client(server.base_url, ingest) as platform:
            with platform.hold("h1", "acme", 30) as hold:
                assert hold.available == Decimal("1.5")
            assert platform.get_hold("h1").status == "active"
            platform.release_hold("h1")
            with pytest.raises(RuntimeError), platform.hold("h2", "acme", 5):
                raise RuntimeError("the work failed")
            assert platform.get_hold("h2").status == "released"
            with pytest.raises(PaymentRequired):
                platform.hold("h3", "acme", 40).__enter__()
        with Client(server.base_url, read) as reader:
            assert reader.balance().balance == Decimal("31.5")
            found = list(reader.entries(page_size=2))
            assert [e.seq for e in found] == [1, 2, 3]
            assert found[0].allocations == [("g0", Decimal("10.5"))]
        asyncio.run(_async_verbs(server.base_url, admin, ingest, read))


async def _async_verbs(base_url: str, admin: str, ingest: str, read: str) -> None:
    async with AsyncClient(base_url, admin) as meter:
        assert (await meter.grant("acme", "g3", "2", kind="promotion")).remaining == Decimal(2)
    async with AsyncClient(base_url, ingest) as platform:
        async with platform.hold("h4", "acme", 1) as hold:
            assert hold.available == Decimal("32.5")
        assert (await platform.release_hold("h4")).status == "released"
        with pytest.raises(RuntimeError):
            async with platform.hold("h5", "acme", 1):
                raise RuntimeError("the work failed")
        assert (await platform.get_hold("h5")).status == "released"
        with pytest.raises(PaymentRequired):
            async with platform.hold("h6", "acme", 40):
                pass
    async with AsyncClient(base_url, read) as reader:
        assert (await reader.balance()).balance == Decimal("33.5")
        found = [entry async for entry in reader.entries(page_size=3)]
        assert [e.seq for e in found] == [1, 2, 3, 4]
