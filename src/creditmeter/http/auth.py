"""Who is calling: the Bearer key, its scope, and the account and bot it may read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from .. import keys, looks
from ..accounts import Account, stored_account
from ..cache import GenerationCache
from ..errors import Forbidden, InvalidInput, NotFound, Unauthorized
from ..ids import check_slug
from ..keys import Key
from ..looks import Look
from ..services import Services
from ..store import Store

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")


RequestNotes = dict[str, object]  # what the access log says of a request (scope["state"])


def services_of(request: Request) -> Services:
    """The app's Services (set once by create_app): the one typed way in from a request."""
    services = request.app.state.services
    assert isinstance(services, Services)
    return services


async def get_services(request: Request) -> Services:
    return services_of(request)


async def get_store(request: Request) -> Store:
    return services_of(request).store


ServicesDep = Annotated[Services, Depends(get_services)]
StoreDep = Annotated[Store, Depends(get_store)]

P = ParamSpec("P")
T = TypeVar("T")


async def run_read(
    store: Store, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """Runs a read: inline on SQLite, whose readers never wait in WAL mode (a thread hop
    costs more than the query), in the thread pool on PostgreSQL."""
    if store.is_sqlite:
        return function(*args, **kwargs)
    return await run_in_threadpool(function, *args, **kwargs)


def key_of(request: Request) -> Key:
    """The live key of the request's Bearer header, counted against its rate limit."""
    services = services_of(request)
    return bearer_key(
        services,
        request.headers.get("authorization", ""),
        request.scope.setdefault("state", {}),
        services.store.generation(),
    )


def bearer_key(
    services: Services, authorization: str, notes: RequestNotes, generation: int | None
) -> Key:
    """The live key of an Authorization header, counted against its rate limit; the key
    and its account are noted in `notes` for the access log."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized()
    record = keys.authenticate(
        store=services.store,
        token=token.strip(),
        cache=services.key_cache,
        generation=generation,
    )
    admit(services, record, notes)
    return record


async def looked_key(services: Services, authorization: str, notes: RequestNotes) -> Key:
    """bearer_key through the request's look (looks.py): one statement on the driver, on
    PostgreSQL one round trip awaited on the event loop, where bearer_key reads through
    SQLAlchemy (on PostgreSQL in the thread pool: a checkout, its ping, a transaction).
    For the hold routes; on a black-holed PostgreSQL it waits for the async pool's bound,
    as the balance and bill reads do (tests/reliability/test_black_hole.py)."""
    found = await looks.look_async(services.store, authorization, None, services.look_cache)
    admit(services, found.key, notes)
    return found.key


def admit(services: Services, record: Key, notes: RequestNotes) -> None:
    """Counts a live key's request against its rate limit; notes the key and its account in
    `notes` for the access log."""
    notes["key_id"] = record.key_id
    if record.account_id is not None:
        notes["account_id"] = record.account_id
    limiter = services.read_limiter if record.scope == "read" else services.platform_limiter
    limiter.check(record.key_id)


# The request state's name for the key bodies.BodyGate checked before it read the body.
GATE_KEY = "gate_key"


async def current_key(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Key:
    # _bearer only documents the scheme in OpenAPI; key_of reads the header itself.
    checked = request.scope.get("state", {}).get(GATE_KEY)
    if isinstance(checked, Key):  # checked (and counted) a moment ago, before the body was read
        return checked
    return await run_read(services_of(request).store, key_of, request)


AnyKey = Annotated[Key, Depends(current_key)]
# For a route that looks up its key itself (looks.py): documents the scheme in OpenAPI only.
BearerDoc = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _require(scope: str) -> object:
    # async, though it waits for nothing: FastAPI runs a plain def dependency in its thread
    # pool, a hop to a thread and back for every ingest and admin request.
    async def dependency(key: AnyKey) -> Key:
        if key.scope != scope:
            raise Forbidden(
                f"this key has scope {key.scope!r}; this operation needs scope {scope!r}"
            )
        return key

    return dependency


IngestKey = Annotated[Key, Depends(_require("ingest"))]
AdminKey = Annotated[Key, Depends(_require("admin"))]


@dataclass(frozen=True, slots=True)
class Reader:
    """What a bill request may see: one account, and possibly one bot of it."""

    account: Account
    bot_id: str | None


def resolve_reader(
    store: Store,
    key: Key,
    account_id: str | None,
    bot_id: str | None,
    cache: GenerationCache[str, Account] | None = None,
    generation: int | None = None,
) -> Reader:
    """The account and bot a bill request reads, after every access rule. Accounts are
    cached at `generation`, the store's as read at the start of the request."""
    account_id, bot_id = _reads(key, account_id, bot_id)
    account = cache.get(account_id, generation) if cache is not None else None
    if account is None:
        with store.read() as conn:
            account = stored_account(conn, account_id)
        if account is not None and cache is not None:
            cache.put(account_id, generation, account)
    if account is None:
        raise NotFound(f"account {account_id!r} does not exist")
    return Reader(account, bot_id)


def looked_reader(look: Look, account_id: str | None, bot_id: str | None) -> Reader:
    """resolve_reader, with the account the request's look (looks.py) found."""
    account_id, bot_id = _reads(look.key, account_id, bot_id)
    account = look.account
    if account is None:
        raise NotFound(f"account {account_id!r} does not exist")
    assert account.id == account_id  # the look read the account these rules allow
    return Reader(account, bot_id)


def _reads(key: Key, account_id: str | None, bot_id: str | None) -> tuple[str, str | None]:
    """The account and bot `key` may read when a request names these, after every rule."""
    if bot_id is not None:
        check_slug("bot_id", bot_id)
    if account_id is not None:
        check_slug("account_id", account_id)
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
    return account_id, bot_id
