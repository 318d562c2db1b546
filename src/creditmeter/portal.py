"""Portal links: a short-lived read key that opens the dashboard already signed in."""

from __future__ import annotations

from urllib.parse import urlencode

from . import keys
from .errors import InvalidInput
from .keys import NewKey
from .store import Store

MAX_SECONDS = 86_400
DEFAULT_SECONDS = 3_600
NAME = "portal link"


def create_portal_token(
    *, store: Store, account_id: str, bot_id: str | None = None, expires_in: int = DEFAULT_SECONDS
) -> NewKey:
    """A read key of `account_id` (bound to `bot_id` if given) that dies `expires_in` seconds
    from now; it is an ordinary read key in every other respect, so it can be revoked too."""
    if not 1 <= expires_in <= MAX_SECONDS:
        raise InvalidInput(f"expires_in: must be an integer from 1 to {MAX_SECONDS} seconds")
    return keys.create_key(
        store=store,
        scope="read",
        account_id=account_id,
        bot_id=bot_id,
        name=NAME,
        expires_in_ms=expires_in * 1000,
    )


def dashboard_url(public_url: str, token: str, **view: str) -> str:
    """The dashboard with `token` in the fragment, which browsers never send to a server, so
    no access log or proxy sees it. `view` may preset the page (`range="last90"`)."""
    fragment = urlencode({"token": token, **view})
    return f"{public_url.rstrip('/')}/dashboard#{fragment}"
