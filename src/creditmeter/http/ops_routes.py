"""Operations: health, readiness, metrics, and the API docs served from our own assets."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from ..clock import now_ms
from ..store import webhooks as webhook_sql
from ..store.engine import schema_is_current
from .auth import ServicesDep, StoreDep

router = APIRouter(tags=["operations"])
STATIC = Path(__file__).parent / "static"

_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>creditmeter API</title>
<link rel="icon" href="/static/swagger-ui/favicon-32x32.png">
<link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script></body></html>"""


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The store answers and its schema is current",
    responses={503: {"description": "Not ready"}},
)
async def readyz(store: StoreDep) -> JSONResponse:
    def check() -> bool:
        try:
            return store.ping() and schema_is_current(store)
        except Exception:  # any failure to answer means not ready
            return False

    if await run_in_threadpool(check):
        return JSONResponse({"status": "ready"})
    return JSONResponse(
        {"code": 50300, "message": "the store is unavailable or its schema is not current"},
        status_code=503,
        headers={"Retry-After": str(store.settings.retry_after_seconds)},
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(services: ServicesDep) -> Response:
    try:
        with services.store.read() as conn:
            depth, oldest = webhook_sql.queue(conn)
        queue = (depth, 0.0 if oldest is None else max(0.0, (now_ms() - oldest) / 1000))
    except Exception:  # the store is down: the process's own samples still answer
        queue = None
    return Response(services.metrics.render(queue), media_type=CONTENT_TYPE_LATEST)


@router.get("/docs", include_in_schema=False)
def docs() -> HTMLResponse:
    return HTMLResponse(_DOCS_PAGE)
