"""The SSRF guard: a webhook URL is http(s), and every address its host resolves to is
public (not loopback, private, link-local, unspecified, multicast or reserved), unless the
operator allows private addresses. Checked at registration and again at every attempt, as
DNS can change."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import InvalidInput

MAX_URL = 2000
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_url(url: object) -> str:
    """The URL if well formed (http or https, a host, no user info); else InvalidInput."""
    if not isinstance(url, str) or not 1 <= len(url) <= MAX_URL or not url.isprintable():
        raise InvalidInput(f"url: must be an http or https URL of at most {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("url: must be an http or https URL")
    try:
        host, _port = parts.hostname, parts.port
    except ValueError:
        raise InvalidInput("url: has a malformed port") from None
    if not host or " " in url:
        raise InvalidInput("url: must name a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("url: must not carry a user name or password")
    if parts.fragment:
        raise InvalidInput("url: must not have a fragment")
    return url


def refusal(address: Address) -> str | None:
    """Why an address may not be sent to, or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for name in ("loopback", "private", "link_local", "unspecified", "multicast", "reserved"):
        if getattr(address, f"is_{name}"):
            return f"{address} is a {name.replace('_', '-')} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def _check(url: str, infos: list[tuple[object, ...]]) -> None:
    addresses = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}  # type: ignore[index]
    if not addresses:
        raise InvalidInput(f"url: {urlsplit(url).hostname} resolves to no address")
    for address in sorted(addresses, key=str):
        why = refusal(address)
        if why is not None:
            raise InvalidInput(
                f"url: {why}; webhooks go to public addresses only "
                "(CREDITMETER_WEBHOOK_ALLOW_PRIVATE=true allows others)"
            )


def check_public(url: str) -> None:
    """InvalidInput unless every address the URL's host resolves to is public."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, _port(url), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise InvalidInput(f"url: {host} does not resolve ({error})") from None
    _check(url, list(infos))


async def check_public_async(url: str) -> None:
    """check_public(), resolving on the running loop."""
    host = urlsplit(url).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, _port(url), type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError) as error:
        raise InvalidInput(f"url: {host} does not resolve ({error})") from None
    _check(url, list(infos))
