"""A request's one look at the store before anything is computed: its key as stored now,
the account it reads and that account's revision, in one statement (store/revisions.py).
Caches of the account's answers (bill pages, whole days, balances) are keyed by that
revision, so nothing cached is served once anything it depends on has been committed."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from .accounts import Account
from .cache import GenerationCache
from .errors import Unauthorized
from .ids import is_slug
from .keys import Key, live, parse_token
from .store import Store
from .store.revisions import ACCOUNT_WIDTH, KEY_WIDTH


@dataclass(frozen=True, slots=True)
class Look:
    key: Key  # live, its secret checked
    account: Account | None  # the key's own account, or the one a platform key names
    revision: int  # of that account (0 when none)
    digest: bytes  # SHA-256 of the token


def _bearer(authorization: str) -> str:
    """The token of a Bearer header; Unauthorized without one."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized()
    return token


def _key_id(token: str) -> str:
    """The key_id of a token; Unauthorized if it cannot be a key."""
    key_id = parse_token(token)
    if key_id is None:
        raise Unauthorized()
    return key_id


def _named(account_id: str | None) -> str | None:
    """The account a request names, as the store is asked for it: no account has an id that
    is not a slug (the caller's rules answer 400 for one), so it is not sent."""
    return account_id if account_id is not None and is_slug(account_id) else None


def _checked(row: tuple[object, ...] | None, token: str) -> Look:
    if row is None:
        raise Unauthorized()
    digest = hashlib.sha256(token.encode())
    key = Key(*row[:KEY_WIDTH])  # type: ignore[arg-type]
    if not hmac.compare_digest(key.secret_hash, digest.hexdigest()):
        raise Unauthorized()
    account_row = row[KEY_WIDTH : KEY_WIDTH + ACCOUNT_WIDTH]
    account = None if account_row[0] is None else Account(*account_row)  # type: ignore[arg-type]
    return Look(live(key), account, int(row[-1]), digest.digest())  # type: ignore[call-overload]


def look(store: Store, authorization: str, account_id: str | None) -> Look:
    """The live key of an Authorization header (Unauthorized, one message for every reason,
    otherwise), the account it reads and its revision. `account_id` is the one a request
    names; only a platform key (which has no account of its own) reads it."""
    token = _bearer(authorization)
    return _checked(store.look(_key_id(token), _named(account_id)), token)


# Looks by (token, account named), each at SQLite's data_version as read before it was made.
LookCache = GenerationCache[tuple[str, str | None], Look]


async def look_async(
    store: Store, authorization: str, account_id: str | None, cache: LookCache | None = None
) -> Look:
    """look(), with PostgreSQL's round trip awaited on the event loop. On a SQLite file a
    look is reused while `PRAGMA data_version` is unchanged (nothing was committed anywhere
    since, so its key, account and revision are as stored); the key's expiry is checked
    again each time."""
    token = _bearer(authorization)
    generation = store.generation() if cache is not None else None
    if generation is not None:
        assert cache is not None
        # Only a token whose key was found and whose secret matched is ever cached.
        seen = cache.get((token, account_id), generation)
        if seen is not None:
            live(seen.key)
            return seen
    found = _checked(await store.look_async(_key_id(token), _named(account_id)), token)
    if cache is not None:
        cache.put((token, account_id), generation, found)
    return found
