"""The SSRF guard: a webhook URL is http(s), and every address its host resolves to is
public (not loopback, private, link-local, unspecified, multicast or reserved), unless the
operator allows private addresses. Checked at registration and again at every connection,
as DNS can change: `PinnedTransport` connects to the very address it checked, so a name that
answers a public address to the check and a private one a moment later (DNS rebinding) is
never followed."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

from ..errors import InvalidInput

MAX_URL = 2000
# What this Python's ipaddress does not know yet is not global: documentation (RFC 9637)
_NOT_GLOBAL = (ipaddress.ip_network("3fff::/20"),)
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_url(url: object) -> str:
    """The URL if well formed (http or https, a host, no user info); else InvalidInput."""
    if not isinstance(url, str) or not 1 <= len(url) <= MAX_URL or not url.isprintable():
        raise InvalidInput(f"url: must be an http or https URL of at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[::1": an IPv6 literal not closed
        raise InvalidInput("url: must be an http or https URL with a well-formed host") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("url: must be an http or https URL")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise InvalidInput("url: has a malformed port") from None
    if port == 0:
        raise InvalidInput("url: port 0 cannot be sent to")
    if not host or " " in url:
        raise InvalidInput("url: must name a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("url: must not carry a user name or password")
    if parts.fragment:
        raise InvalidInput("url: must not have a fragment")
    return url


def refusal(address: Address) -> str | None:
    """Why an address may not be sent to, or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        # an IPv4 address carried inside an IPv6 one (mapped, 6to4, Teredo's client) is judged
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None:
            why = refusal(embedded)
            if why is not None:
                return f"{address} carries {embedded}: {why}"
            address = embedded
    for name in ("loopback", "private", "link_local", "unspecified", "multicast", "reserved"):
        if getattr(address, f"is_{name}"):
            return f"{address} is a {name.replace('_', '-')} address"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return f"{address} is a site-local address"
    if not address.is_global or any(address in net for net in _NOT_GLOBAL):
        return f"{address} is not a public address"
    return None


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def _check(host: str, infos: list[tuple[object, ...]]) -> list[Address]:
    """The addresses `host` resolved to, in the resolver's order, if every one is public."""
    addresses: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])  # type: ignore[index]
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise InvalidInput(f"url: {host} resolves to no address")
    for address in sorted(addresses, key=str):
        why = refusal(address)
        if why is not None:
            raise InvalidInput(
                f"url: {why}; webhooks go to public addresses only "
                "(CREDITMETER_WEBHOOK_ALLOW_PRIVATE=true allows others)"
            )
    return addresses


def check_public(url: str) -> None:
    """InvalidInput unless every address the URL's host resolves to is public."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, _port(url), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise InvalidInput(f"url: {host} does not resolve ({error})") from None
    _check(host, list(infos))


async def public_addresses(host: str, port: int) -> list[Address]:
    """What `host` resolves to, on the running loop, if every address is public."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise InvalidInput(f"url: {host} does not resolve ({error})") from None
    return _check(host, list(infos))


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks the host of each new connection itself, then connects to a checked
    address: the look-up that was checked is the one connected to. TLS still verifies the
    certificate against the host name (httpcore passes the URL's host as server_hostname)."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await public_addresses(host, port)
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as error:
                failure = error
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are sent over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, its connections made by _PinnedBackend: every connection goes to
    a public address checked for it (InvalidInput otherwise)."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        # httpx builds its httpcore pool without a way to name the network backend
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedBackend(),
        )
