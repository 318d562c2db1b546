"""Who is calling: the Bearer key, its scope, and the account and bot it may read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from .. import keys
from ..accounts import check_slug
from ..errors import Forbidden, InvalidInput, NotFound, Unauthorized
from ..store import Store, directory
from ..store.directory import Account, KeyRecord

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(get_store)]


async def current_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> KeyRecord:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    store: Store = request.app.state.store
    record = await run_in_threadpool(keys.authenticate, store=store, token=credentials.credentials)
    request.state.key_id = record.key_id
    limiter = (
        request.app.state.read_limiter
        if record.scope == "read"
        else request.app.state.platform_limiter
    )
    limiter.check(record.key_id)
    return record


AnyKey = Annotated[KeyRecord, Depends(current_key)]


def _require(scope: str) -> object:
    def dependency(key: AnyKey) -> KeyRecord:
        if key.scope != scope:
            raise Forbidden(
                f"this key has scope {key.scope!r}; this operation needs scope {scope!r}"
            )
        return key

    return dependency


IngestKey = Annotated[KeyRecord, Depends(_require("ingest"))]
AdminKey = Annotated[KeyRecord, Depends(_require("admin"))]


@dataclass(frozen=True, slots=True)
class Reader:
    """What a bill request may see: one account, and possibly one bot of it."""

    account: Account
    bot_id: str | None


def resolve_reader(
    store: Store, key: KeyRecord, account_id: str | None, bot_id: str | None
) -> Reader:
    """The account and bot a bill request reads, after every access rule."""
    if bot_id is not None:
        check_slug("bot_id", bot_id)
    if key.scope == "read":
        assert key.account_id is not None
        if account_id is not None and account_id != key.account_id:
            raise NotFound(f"account {account_id!r} does not exist")
        account_id = key.account_id
        if key.bot_id is not None:
            if bot_id is not None and bot_id != key.bot_id:
                raise Forbidden(
                    f"this key is bound to bot {key.bot_id!r} and cannot read bot {bot_id!r}"
                )
            bot_id = key.bot_id
    elif key.scope == "admin":
        if account_id is None:
            raise InvalidInput("account_id: is required with an admin key")
    else:
        raise Forbidden(
            f"this key has scope {key.scope!r}; reading bills needs a read or admin key"
        )
    with store.read() as conn:
        account = directory.get_account(conn, account_id)
    if account is None:
        raise NotFound(f"account {account_id!r} does not exist")
    return Reader(account, bot_id)
