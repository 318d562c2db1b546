"""The bill endpoints as FastAPI routes: they give OpenAPI its description, and answer
when the app is built without the fast path (create_app(bill_fast_path=False))."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..auth import services_of
from ..schemas import BillTotal, DayRow
from .answers import answer
from .parameters import ERRORS, PAGE_PARAMETERS, WINDOW_PARAMETERS, ZONE_HEADER
from .request import BillRequest

router = APIRouter(prefix="/v1/account/bill", tags=["bills"])


async def _respond(request: Request) -> Response:
    headers, body = await answer(services_of(request), BillRequest(request.scope))
    response = Response(body)
    response.raw_headers = list(headers)  # a copy: the headers may be a cached answer's
    return response


@router.get(
    "/page",
    summary="Get Detailed Credit Consumption",
    description="Credits per local calendar day and per category over at most 90 days, "
    "days without consumption included, cut into pages. `Accept: text/csv` gives CSV.",
    response_class=Response,
    openapi_extra={
        "parameters": PAGE_PARAMETERS + WINDOW_PARAMETERS,
        "security": [{"HTTPBearer": []}],
    },
    responses={
        200: {
            "description": "One object per day, ascending.",
            "model": list[DayRow],
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "headers": {
                "X-Total-Count": {
                    "description": "Days in the whole range.",
                    "schema": {"type": "integer"},
                },
                "Link": {
                    "description": "RFC 8288 first/prev/next/last pages.",
                    "schema": {"type": "string"},
                },
                "X-Timezone": ZONE_HEADER,
            },
        },
        **ERRORS,
    },
)
async def get_bill_page(request: Request) -> Response:
    return await _respond(request)


@router.get(
    "/total",
    summary="Get Total Credit Consumption",
    description="Credits per category summed over a range touching at most 365 local days.",
    response_class=Response,
    openapi_extra={"parameters": WINDOW_PARAMETERS, "security": [{"HTTPBearer": []}]},
    responses={
        200: {
            "model": BillTotal,
            "description": "The sums.",
            "headers": {"X-Timezone": ZONE_HEADER},
        },
        **ERRORS,
    },
)
async def get_bill_total(request: Request) -> Response:
    return await _respond(request)
