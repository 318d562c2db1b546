"""The admin API: accounts and their keys, with a platform key of scope admin."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from .. import accounts, jsonbody, keys
from ..accounts import UNCHANGED, Account
from ..credits import inputs
from ..keys import Key
from . import credit_json
from .auth import AdminKey, StoreDep
from .credit_json import dumps
from .media import JsonContent
from .schemas import AccountIn, AccountOut, AccountPatch, Error, KeyIn, KeyOut, NewKeyOut

router = APIRouter(prefix="/v1/admin", tags=["admin"])

_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": Error, "description": "Malformed body or parameter."},
    401: {"model": Error, "description": "Missing or bad key."},
    403: {"model": Error, "description": "The key lacks scope admin."},
    404: {"model": Error, "description": "No such account or key."},
    429: {"model": Error, "description": "Rate limit hit."},
    503: {"model": Error, "description": "The store is unavailable."},
}
_CONFLICT: dict[int | str, dict[str, object]] = {
    409: {"model": Error, "description": "The account id is taken."}
}


def _key_out(record: Key) -> KeyOut:
    fields = asdict(record)
    fields.pop("secret_hash")
    return KeyOut(**fields)


def _account(account: Account, status: int = 200) -> Response:
    return Response(dumps(credit_json.account(account)), status, media_type="application/json")


async def _threshold(request: Request) -> int | None:
    """The body's low_balance_threshold, read exactly from the body as sent (a JSON number
    keeps every digit there); UNCHANGED when absent."""
    document = jsonbody.decode(await request.body())  # parsed already: the model checked it
    if not isinstance(document, dict) or "low_balance_threshold" not in document:
        return UNCHANGED
    value = document["low_balance_threshold"]
    if value is None:
        return None
    return inputs.credits("low_balance_threshold", value, inputs.MAX_GRANT_MICRO, positive=False)


@router.post(
    "/accounts", status_code=201, response_model=AccountOut, responses={**_ERRORS, **_CONFLICT}
)
async def create_account(
    body: AccountIn, request: Request, store: StoreDep, _key: AdminKey, _json: JsonContent
) -> Response:
    threshold = await _threshold(request)
    account = await run_in_threadpool(
        lambda: accounts.create_account(
            store=store,
            account_id=body.id,
            name=body.name,
            timezone=body.timezone,
            low_balance_threshold=None if threshold == UNCHANGED else threshold,
        )
    )
    return _account(account, 201)


@router.get("/accounts", response_model=list[AccountOut], responses=_ERRORS)
def list_accounts(store: StoreDep, _key: AdminKey) -> Response:
    found = [credit_json.account(a) for a in accounts.list_accounts(store=store)]
    return Response(dumps(found), media_type="application/json")


@router.get("/accounts/{account_id}", response_model=AccountOut, responses=_ERRORS)
def get_account(account_id: str, store: StoreDep, _key: AdminKey) -> Response:
    return _account(accounts.get_account(store=store, account_id=account_id))


@router.patch("/accounts/{account_id}", response_model=AccountOut, responses=_ERRORS)
async def patch_account(
    account_id: str,
    body: AccountPatch,
    request: Request,
    store: StoreDep,
    _key: AdminKey,
    _json: JsonContent,
) -> Response:
    threshold = await _threshold(request)
    account = await run_in_threadpool(
        lambda: accounts.update_account(
            store=store,
            account_id=account_id,
            name=body.name,
            timezone=body.timezone,
            low_balance_threshold=threshold,
        )
    )
    return _account(account)


@router.post(
    "/accounts/{account_id}/keys", status_code=201, response_model=NewKeyOut, responses=_ERRORS
)
def create_key(
    account_id: str, body: KeyIn, store: StoreDep, _key: AdminKey, _json: JsonContent
) -> NewKeyOut:
    new = keys.create_key(
        store=store,
        scope="read",
        account_id=account_id,
        bot_id=body.bot_id,
        name=body.name,
        expires_in_days=body.expires_in_days,
    )
    return NewKeyOut(**_key_out(new.record).model_dump(), key=new.token)


@router.get("/accounts/{account_id}/keys", response_model=list[KeyOut], responses=_ERRORS)
def list_keys(account_id: str, store: StoreDep, _key: AdminKey) -> list[KeyOut]:
    accounts.get_account(store=store, account_id=account_id)  # 404 for an unknown account
    return [_key_out(k) for k in keys.list_keys(store=store, account_id=account_id)]


@router.delete("/keys/{key_id}", response_model=KeyOut, responses=_ERRORS)
def revoke_key(key_id: str, store: StoreDep, _key: AdminKey) -> KeyOut:
    return _key_out(keys.revoke_key(store=store, key_id=key_id))
