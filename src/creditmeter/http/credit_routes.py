"""Credit balances over HTTP: grants (admin), balance and entries (the account's readers),
holds (ingest keys)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from .. import jsonbody, looks
from ..clock import now_ms
from ..credits import balances, inputs
from ..credits.grants import GrantRequest, create_grant, list_grants, void_grant
from ..credits.holds import HoldAsk, HoldRequest, Release, get_hold
from ..errors import CreditmeterError, Forbidden, InvalidInput, NotFound
from ..ids import check_slug, is_digits
from ..keys import Key
from ..looks import Look
from ..services import Services
from ..store import Store, directory
from . import credit_json
from .accept import wants_csv
from .auth import (
    AdminKey,
    AnyKey,
    BearerDoc,
    IngestKey,
    RequestNotes,
    ServicesDep,
    StoreDep,
    admit,
    run_read,
)
from .credit_schemas import BalanceOut, EntryOut, GrantIn, GrantOut, HoldIn, HoldOut, VoidIn
from .schemas import Error

router = APIRouter(tags=["credits"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "A bad field or parameter, named; nothing changed."},
    401: {"model": Error, "description": "Missing or bad key."},
    403: {"model": Error, "description": "The key lacks the scope."},
    404: {"model": Error, "description": "No such account, grant or hold."},
    429: {"model": Error, "description": "Rate limit hit."},
    503: {"model": Error, "description": "The store is unavailable."},
}
# What the readers' query parameters accept; the route checks them itself (a 400 naming
# the parameter), so OpenAPI only describes them.
AccountParam = Annotated[
    str | None,
    Query(
        description="Required with an ingest or admin key; with a read key absent or the "
        "key's own account."
    ),
]
AtParam = Annotated[
    str | None,
    Query(
        description="The balance as it stood at this instant: milliseconds since the Unix "
        "epoch as decimal digits, or an RFC 3339 date-time with an offset and at most "
        "millisecond precision (percent-encode '+' as %2B). Absent: now."
    ),
]
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": Error, "description": "The id is taken by a request with other content."}
}


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(credit_json.dumps(value), status, headers, media_type="application/json")


def _body(model: type[Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


async def _document(request: Request) -> Any:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise InvalidInput("Content-Type: must be application/json")
    return jsonbody.decode(await request.body())  # capped by bodies.BodyGate


@router.post(
    "/v1/admin/accounts/{account_id}/grants",
    summary="Grant credits to an account",
    status_code=201,
    response_model=GrantOut,
    openapi_extra=_body(GrantIn),
    responses={**_ERRORS, **_CONFLICT, 200: {"model": GrantOut, "description": "Granted before."}},
)
async def post_grant(
    account_id: str, request: Request, store: StoreDep, _key: AdminKey
) -> Response:
    check_slug("account_id", account_id)
    grant_request = GrantRequest.parse(await _document(request))
    grant, new = await run_in_threadpool(
        create_grant, store=store, account_id=account_id, request=grant_request
    )
    return _json(credit_json.grant(grant), 201 if new else 200)


@router.get(
    "/v1/admin/accounts/{account_id}/grants",
    summary="List an account's grants",
    response_model=list[GrantOut],
    responses=_ERRORS,
)
async def get_grants(account_id: str, store: StoreDep, _key: AdminKey) -> Response:
    check_slug("account_id", account_id)
    grants = await run_in_threadpool(list_grants, store=store, account_id=account_id)
    return _json([credit_json.grant(g) for g in grants])


@router.post(
    "/v1/admin/accounts/{account_id}/grants/{grant_id}/void",
    summary="Void what remains of a grant",
    response_model=GrantOut,
    openapi_extra=_body(VoidIn),
    responses=_ERRORS,
)
async def post_void(
    account_id: str, grant_id: str, request: Request, store: StoreDep, _key: AdminKey
) -> Response:
    check_slug("account_id", account_id)
    body = inputs.body_object(await _document(request), frozenset({"reason"}))
    reason = body.get("reason")  # checked by void_grant, as for the CLI
    grant = await run_in_threadpool(
        void_grant, store=store, account_id=account_id, grant_id=grant_id, reason=reason
    )
    return _json(credit_json.grant(grant))


def _account(store: Store, key: Key, account_id: str | None) -> str:
    """The account whose credits `key` reads: its own (a read key, bot-bound or not), or
    the one named by account_id (an ingest or admin key)."""
    if account_id is not None:
        check_slug("account_id", account_id)
    if key.scope == "read":
        assert key.account_id is not None
        if account_id is not None and account_id != key.account_id:
            raise NotFound(f"account {account_id!r} does not exist")
        account_id = key.account_id
    elif account_id is None:
        raise InvalidInput(f"account_id: is required with an {key.scope} key")
    with store.read() as conn:
        if directory.get_account(conn, account_id) is None:
            raise NotFound(f"account {account_id!r} does not exist")
    return account_id


BALANCE_PATH = "/v1/account/credits/balance"


@router.get(
    BALANCE_PATH,
    summary="The account's credit balance, now or at an instant",
    response_model=BalanceOut,
    responses=_ERRORS,
)
async def get_balance(
    request: Request,
    services: ServicesDep,
    _credentials: BearerDoc,
    account_id: AccountParam = None,
    at: AtParam = None,
) -> Response:
    # Answered by the fast path (http/bill/fast_path.py) in a served app; this route
    # describes it in OpenAPI and answers the same without the fast path.
    look = await looks.look_async(
        services.store, request.headers.get("authorization", ""), account_id, services.look_cache
    )
    admit(services, look.key, request.scope.setdefault("state", {}))
    body = await balance_body(services, look, account_id, at)
    return Response(body, media_type="application/json")


async def balance_body(
    services: Services, look: Look, account_id: str | None, at: str | None
) -> bytes:
    """The balance's JSON for a request whose key its look (looks.py) checked: a balance now
    is cached at the account's revision until its first grant or hold expiry."""
    store = services.store
    account = looked_account(look, account_id)
    now = now_ms()
    instant = None if at is None else inputs.past_instant("at", at, now)
    if instant is not None and instant < now:
        found = await run_read(store, balances.balance, store=store, account_id=account, at=instant)
        return credit_json.dumps(credit_json.balance(found))
    seen = services.balance_cache.get(account, look.revision)
    if seen is not None and (seen[0] is None or now < seen[0]):
        return seen[1]
    found, good_until = await run_read(
        store, balances.balance_now, store=store, account_id=account, now=now
    )
    body = credit_json.dumps(credit_json.balance(found))
    services.balance_cache.put(account, look.revision, (good_until, body))
    return body


def looked_account(look: Look, account_id: str | None) -> str:
    """_account, with the account the request's look found."""
    if account_id is not None:
        check_slug("account_id", account_id)
    key = look.key
    if key.scope == "read":
        assert key.account_id is not None
        if account_id is not None and account_id != key.account_id:
            raise NotFound(f"account {account_id!r} does not exist")
        account_id = key.account_id
    elif account_id is None:
        raise InvalidInput(f"account_id: is required with an {key.scope} key")
    if look.account is None:
        raise NotFound(f"account {account_id!r} does not exist")
    return look.account.id


@router.get(
    "/v1/account/credits/entries",
    summary="The account's journal, ascending by seq",
    response_model=list[EntryOut],
    responses={
        **_ERRORS,
        200: {
            "description": 'Entries; `Link: rel="next"` while more follow.',
            "content": {"application/json": {}, "text/csv": {}},
        },
    },
)
async def get_entries(
    request: Request,
    store: StoreDep,
    key: AnyKey,
    account_id: AccountParam = None,
    after_seq: str = "0",
    limit: str = "100",
) -> Response:
    after = _int_param("after_seq", after_seq, 0, 1 << 62)
    most = _int_param("limit", limit, 1, 1000)
    # One more than the page, to know whether more follow.
    account, rows = await run_read(store, _entries, store, key, account_id, after, most + 1)
    headers = {}
    if len(rows) > most:
        rows = rows[:most]
        query = f"after_seq={rows[-1].row.seq}&limit={most}"
        if account_id is not None:
            query = f"account_id={account}&" + query
        headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
    if wants_csv(", ".join(request.headers.getlist("accept"))):
        return Response(credit_json.entries_csv(rows), 200, headers, media_type="text/csv")
    return _json([credit_json.entry(e) for e in rows], 200, headers)


def _entries(
    store: Store, key: Key, account_id: str | None, after: int, limit: int
) -> tuple[str, list[balances.Entry]]:
    account = _account(store, key, account_id)
    return account, balances.entries(store=store, account_id=account, after_seq=after, limit=limit)


def _int_param(name: str, text: str, low: int, high: int) -> int:
    if not is_digits(text) or len(text) > 19 or not low <= int(text) <= high:
        raise InvalidInput(f"{name}: must be an integer from {low} to {high}")
    return int(text)


@router.post(
    "/v1/credits/holds",
    summary="Reserve credits before costly work",
    status_code=201,
    response_model=HoldOut,
    openapi_extra=_body(HoldIn),
    responses={
        **_ERRORS,
        **_CONFLICT,
        200: {"model": HoldOut, "description": "The same hold, taken before."},
        402: {"model": Error, "description": "Not enough available credits (named)."},
    },
)
async def post_hold(request: Request, services: ServicesDep, _key: IngestKey) -> Response:
    # Answered by the fast path (http/hold_path.py) in a served app, as the balance is.
    notes = request.scope.setdefault("state", {})
    body = await request.body()
    status, answer = await hold_answer(services, None, body, _media_type(request), notes)
    return Response(answer, status, media_type="application/json")


async def hold_answer(
    services: Services, release: str | None, body: bytes, media_type: str, notes: RequestNotes
) -> tuple[int, bytes]:
    """The status and JSON of a hold's create (`release` None: `body` asks for it) or of
    the release of hold `release`, decided with the other requests of this process waiting
    then (credits.hold_desk); raises what refused it. The hold's account is noted in
    `notes` for the access log: the body's, or the released hold's."""
    if release is None:
        if media_type != "application/json":
            raise InvalidInput("Content-Type: must be application/json")
        asked = HoldRequest.parse(jsonbody.decode(body))
        notes["account_id"] = asked.account_id  # noted also when it is refused (a 402)
        ask: HoldAsk = asked
    else:
        _known_form(release)
        ask = Release(release)
    outcome = await services.hold_desk.ask(ask)
    if isinstance(outcome, CreditmeterError):
        raise outcome
    hold, new = outcome
    notes["account_id"] = hold.row.account_id
    return 201 if new else 200, credit_json.dumps(credit_json.hold(hold))


def _known_form(hold_id: str) -> None:
    """NotFound for an id no hold can have (holds are made with ids of inputs.CLIENT_ID),
    before the store or a group of holds is asked: PostgreSQL text cannot even hold a NUL."""
    if not inputs.CLIENT_ID.fullmatch(hold_id):
        raise NotFound(f"hold {inputs.shown_id(hold_id)} does not exist")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _platform(key: Key) -> None:
    if key.scope not in ("ingest", "admin"):
        raise Forbidden(f"this key has scope {key.scope!r}; holds need an ingest or admin key")


@router.get(
    "/v1/credits/holds/{hold_id}",
    summary="A hold as it is now",
    response_model=HoldOut,
    responses=_ERRORS,
)
async def get_one_hold(hold_id: str, store: StoreDep, key: AnyKey) -> Response:
    _platform(key)
    _known_form(hold_id)
    hold = await run_read(store, lambda: get_hold(store=store, hold_id=hold_id))
    return _json(credit_json.hold(hold))


@router.post(
    "/v1/credits/holds/{hold_id}/release",
    summary="Release a hold: its credits are free at once",
    response_model=HoldOut,
    responses=_ERRORS,
)
async def post_release(
    hold_id: str, request: Request, services: ServicesDep, _key: IngestKey
) -> Response:
    notes = request.scope.setdefault("state", {})
    status, body = await hold_answer(services, hold_id, b"", "", notes)
    return Response(body, status, media_type="application/json")
