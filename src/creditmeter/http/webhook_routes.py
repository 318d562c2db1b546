"""The webhook admin API: endpoints registered, listed, removed; their deliveries; a failed
event sent again. Platform keys of scope admin."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from .. import jsonbody
from ..errors import InvalidInput
from ..store.webhooks import DeliveryRow, EndpointRow
from ..webhooks import endpoints
from .auth import AdminKey, ServicesDep, StoreDep
from .credit_json import dumps
from .schemas import Error
from .webhook_schemas import DeliveryOut, NewWebhookOut, RedeliveryOut, WebhookIn, WebhookOut

router = APIRouter(prefix="/v1/admin", tags=["webhooks"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "A bad field, named; nothing changed."},
    401: {"model": Error, "description": "Missing or bad key."},
    403: {"model": Error, "description": "The key lacks scope admin."},
    404: {"model": Error, "description": "No such endpoint or event."},
    429: {"model": Error, "description": "Rate limit hit."},
    503: {"model": Error, "description": "The store is unavailable."},
}


def _json(value: Any, status: int = 200) -> Response:
    return Response(dumps(value), status, media_type="application/json")


def endpoint_fields(row: EndpointRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "events": list(row.events),
        "status": row.status,
        "created_at": row.created_at,
    }


def delivery_fields(row: DeliveryRow) -> dict[str, Any]:
    return {
        "event_id": row.event_id,
        "type": row.type,
        "created_at": row.created_at,
        "state": row.state,
        "attempts": row.attempts,
        "last_status": row.last_status,
        "last_excerpt": row.last_excerpt,
        "last_attempt_at": row.last_attempt_at,
        "next_attempt_at": row.next_attempt_at,
    }


@router.post(
    "/webhooks",
    summary="Register a webhook endpoint",
    status_code=201,
    response_model=NewWebhookOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": WebhookIn.model_json_schema()}},
        }
    },
    responses=_ERRORS,
)
async def post_webhook(request: Request, store: StoreDep, _key: AdminKey) -> Response:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise InvalidInput("Content-Type: must be application/json")
    parsed = endpoints.EndpointRequest.parse(jsonbody.decode(await request.body()))
    row = await run_in_threadpool(endpoints.create_endpoint, store=store, request=parsed)
    return _json({**endpoint_fields(row), "secret": row.secret}, 201)


@router.get(
    "/webhooks",
    summary="List webhook endpoints",
    response_model=list[WebhookOut],
    responses=_ERRORS,
)
async def get_webhooks(store: StoreDep, _key: AdminKey) -> Response:
    rows = await run_in_threadpool(endpoints.list_endpoints, store=store)
    return _json([endpoint_fields(row) for row in rows])


@router.delete(
    "/webhooks/{webhook_id}",
    summary="Remove a webhook endpoint (nothing more is sent to it)",
    response_model=WebhookOut,
    responses=_ERRORS,
)
async def delete_webhook(webhook_id: str, store: StoreDep, _key: AdminKey) -> Response:
    row = await run_in_threadpool(endpoints.remove_endpoint, store=store, endpoint_id=webhook_id)
    return _json(endpoint_fields(row))


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    summary="An endpoint's deliveries, newest first (the last 100)",
    response_model=list[DeliveryOut],
    responses=_ERRORS,
)
async def get_deliveries(webhook_id: str, store: StoreDep, _key: AdminKey) -> Response:
    rows = await run_in_threadpool(endpoints.list_deliveries, store=store, endpoint_id=webhook_id)
    return _json([delivery_fields(row) for row in rows])


@router.post(
    "/webhooks/events/{event_id}/redeliver",
    summary="Send a failed event again to the enabled endpoints it failed at",
    response_model=RedeliveryOut,
    responses=_ERRORS,
)
async def post_redeliver(event_id: str, services: ServicesDep, _key: AdminKey) -> Response:
    queued = await run_in_threadpool(endpoints.redeliver, store=services.store, event_id=event_id)
    return _json({"event_id": event_id, "queued": queued})
