"""POST /v1/usage/events: batches of usage events, stored exactly once."""

from __future__ import annotations

from fastapi import APIRouter, Request

from .. import jsonbody
from ..credits import settlement
from ..credits.holds import UnknownHolds
from ..errors import Conflict, InvalidInput
from ..events import parse_batch
from ..ingest import IngestResult
from .auth import IngestKey, ServicesDep
from .schemas import BatchError, ConflictError, Error, EventBatch, IngestAnswer

router = APIRouter(tags=["ingestion"])


def _require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise InvalidInput("Content-Type: must be application/json")


@router.post(
    "/v1/usage/events",
    summary="Record usage events",
    description="Stores 1-1000 events exactly once. The batch is validated whole and stored "
    "all or nothing; the answer comes only after the events are durably committed.",
    response_model=IngestAnswer,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/EventBatch"}}
            },
        }
    },
    responses={
        400: {"model": BatchError, "description": "Invalid batch; nothing stored."},
        401: {"model": Error, "description": "Missing or bad key."},
        403: {"model": Error, "description": "The key lacks scope ingest."},
        409: {
            "model": ConflictError,
            "description": "An id reused with other content; nothing stored.",
        },
        413: {"model": Error, "description": "Body larger than 1 MiB."},
        429: {"model": Error, "description": "Rate limit hit."},
        503: {"model": Error, "description": "The store is unavailable; see Retry-After."},
    },
)
async def post_events(request: Request, services: ServicesDep, _key: IngestKey) -> IngestAnswer:
    _require_json(request)
    document = jsonbody.decode_fast(await request.body())  # capped by bodies.BodyGate
    metrics = services.metrics
    size = _batch_size(document)
    metrics.batch(size)
    try:
        batch = parse_batch(document)
        holds = settlement.named_holds(document, batch)  # the events that settle holds
        request.state.account_id = _accounts_label({event.account_id for event in batch})
        try:
            result: IngestResult = await services.ingestion.ingest_async(batch, holds)
        except UnknownHolds as unknown:
            raise settlement.worded(unknown, batch) from None
    except InvalidInput:
        metrics.rejected(size, "invalid")
        raise
    except Conflict:
        metrics.rejected(size, "conflict")
        raise
    metrics.events(result.accepted, result.duplicates)
    if result.alerts:  # written by a writer process too: this process's deliverer wakes
        services.deliverer.poke()
    return IngestAnswer(accepted=result.accepted, duplicates=result.duplicates)


def _batch_size(document: object) -> int:
    events = document.get("events") if isinstance(document, dict) else None
    return len(events) if isinstance(events, list) else 0


def _accounts_label(accounts: set[str]) -> str:
    """The batch's accounts for the access log: a few ids, then how many more."""
    names = sorted(accounts)
    more = f",+{len(names) - 5}" if len(names) > 5 else ""
    return ",".join(names[:5]) + more


# Registered so that the OpenAPI document describes the body the parser above enforces.
EVENT_BATCH_SCHEMA = EventBatch
