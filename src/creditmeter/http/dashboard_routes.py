"""The dashboard's side of the API: the page, who a key is (`GET /v1/account`), portal links."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import HTMLResponse

from .. import accounts, dashboard, portal
from .auth import AdminKey, AnyKey, ServicesDep, resolve_reader
from .media import JsonContent
from .schemas import AccountView, Error, PortalTokenIn, PortalTokenOut

router = APIRouter()

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "A parameter or the body is malformed."},
    401: {
        "model": Error,
        "description": "No key, or a malformed, unknown, expired or revoked key.",
    },
    403: {"model": Error, "description": "The key lacks the scope this needs."},
    404: {"model": Error, "description": "No such account (or another account's)."},
    429: {"model": Error, "description": "Rate limit hit; see Retry-After."},
    503: {"model": Error, "description": "The store is unavailable; see Retry-After."},
}


@router.get("/dashboard", include_in_schema=False)
def dashboard_page() -> HTMLResponse:
    return HTMLResponse(dashboard.page(), headers={"Cache-Control": "no-cache"})


@router.get(
    "/v1/account",
    tags=["account"],
    summary="The account this key reads",
    description="The key's account (name, time zone), the bot it is bound to, the bots it may "
    "read and when it expires: what the dashboard shows before its first bill request.",
    response_model=AccountView,
    responses=_ERRORS,
)
def get_account_view(
    services: ServicesDep,
    key: AnyKey,
    account_id: Annotated[
        str | None,
        Query(description="Required with an admin key; with a read key absent or its own."),
    ] = None,
) -> AccountView:
    store = services.store
    reader = resolve_reader(
        store, key, account_id, None, services.account_cache, store.generation()
    )
    account = reader.account
    bots = (
        [reader.bot_id]
        if reader.bot_id is not None
        else accounts.list_bots(store=store, account_id=account.id)
    )
    return AccountView(
        account_id=account.id,
        name=account.name,
        timezone=account.timezone,
        bot_id=reader.bot_id,
        bots=bots,
        expires_at=key.expires_at,
    )


@router.post(
    "/v1/admin/accounts/{account_id}/portal-tokens",
    tags=["admin"],
    status_code=201,
    summary="Create a portal link",
    description="A read key that expires within 24 hours and a dashboard URL that opens "
    "signed in with it. It is an ordinary read key otherwise: revoke it with "
    "`DELETE /v1/admin/keys/{key_id}`.",
    response_model=PortalTokenOut,
    responses=_ERRORS,
)
def create_portal_token(
    account_id: str,
    services: ServicesDep,
    _key: AdminKey,
    _json: JsonContent,
    body: Annotated[PortalTokenIn | None, Body()] = None,
) -> PortalTokenOut:
    body = body or PortalTokenIn()
    new = portal.create_portal_token(
        store=services.store, account_id=account_id, bot_id=body.bot_id, expires_in=body.expires_in
    )
    assert new.record.expires_at is not None
    return PortalTokenOut(
        token=new.token,
        url=portal.dashboard_url(services.settings.public_url, new.token),
        expires_at=new.record.expires_at,
        key_id=new.record.key_id,
    )
