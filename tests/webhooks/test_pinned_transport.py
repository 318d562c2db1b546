"""The deliverer's transport connects to the address it checked: a name that resolves to a
public address for the check and to a private one for the connection (DNS rebinding) is
refused, and a name that passes is connected to at the checked address with its own Host."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from creditmeter.errors import InvalidInput
from creditmeter.webhooks import addresses
from creditmeter.webhooks.addresses import PinnedTransport
from tests.support.receiver import Receiver, receiving

NAME = "hooks.example.test"
PUBLIC = "93.184.216.34"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as listening:
        yield listening


def _resolving(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> list[str]:
    """The loop's resolver answers NAME with the next of `answers` each time it is asked."""
    asked: list[str] = []

    async def getaddrinfo(
        self: asyncio.AbstractEventLoop, host: str, port: int, **_: object
    ) -> list[tuple[object, ...]]:
        assert host == NAME
        address = answers[min(len(asked), len(answers) - 1)]
        asked.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", getaddrinfo)
    return asked


async def _post(url: str) -> httpx.Response:
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=0)
    async with httpx.AsyncClient(transport=PinnedTransport(limits), timeout=5) as client:
        return await client.post(url, content=b"{}")


def test_a_name_that_rebinds_to_loopback_after_the_check_is_never_sent_to(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    port = urlsplit(receiver.url).port
    asked = _resolving(monkeypatch, [PUBLIC, "127.0.0.1"])
    url = f"http://{NAME}:{port}/hooks"

    async def registered_then_sent() -> None:
        assert await addresses.public_addresses(NAME, port or 80)  # the registration's look
        with pytest.raises(InvalidInput, match=r"127\.0\.0\.1 is a loopback address"):
            await _post(url)

    asyncio.run(registered_then_sent())
    assert asked == [PUBLIC, "127.0.0.1"]
    assert receiver.requests() == []


def test_the_connection_goes_to_the_checked_address_with_the_names_host(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    port = urlsplit(receiver.url).port
    asked = _resolving(monkeypatch, ["127.0.0.1"])
    # here loopback counts as public, so that the checked address can be listened on
    monkeypatch.setattr(
        addresses, "refusal", lambda a: None if a == ipaddress.ip_address("127.0.0.1") else "no"
    )
    answer = asyncio.run(_post(f"http://{NAME}:{port}/hooks"))
    assert answer.status_code == 200
    assert asked == ["127.0.0.1"]  # resolved once, by the transport itself
    (received,) = receiver.requests()
    assert received.headers["host"] == f"{NAME}:{port}"
