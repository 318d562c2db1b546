"""The app factory: nothing is built at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware import Middleware

from .. import __version__, gctuning
from .. import dashboard as dashboard_assets
from ..credits import expiry
from ..ingest import ResendFilter
from ..services import Services
from ..settings import Settings
from ..store import Store
from . import errors
from .admin_routes import router as admin_router
from .bill import BillFastPath
from .bill import router as bill_router
from .bodies import BodyGate
from .conversation_dashboard_routes import router as conversation_dashboard_router
from .conversation_routes import router as conversation_router
from .cors import JsonCors
from .credit_routes import router as credit_router
from .dashboard_routes import router as dashboard_router
from .edge import Edge
from .front import CreditmeterApp, stack_of
from .head import HeadAsGet
from .hold_path import HoldPath
from .ingest_routes import router as ingest_router
from .ops_routes import STATIC
from .ops_routes import router as ops_router
from .schemas import EventBatch
from .webhook_routes import router as webhook_router

DESCRIPTION = """creditmeter records every credit an AI-bot platform charges, exactly once, and
answers GPTBots' `GET /v1/account/bill/page`: credits per local day and per category.

Every error is `{"code": int, "message": str}`. Credits are exact decimals written as JSON
numbers; read them as decimals."""


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    writer_process: bool = False,
    resends: ResendFilter | None = None,
    bill_fast_path: bool = True,
    sweep_expiries: bool = False,
    deliver_webhooks: bool = False,
) -> CreditmeterApp:
    """The app over `store`, or over a store opened from `settings` and closed with the app;
    everything it holds is one Services, built here. With `writer_process` (`creditmeter
    serve`), the batches of a SQLite file it opened are written by a process of their own
    (ingest.writer_process). `resends`: the filter of resent events to use (a test's
    observer). Without `bill_fast_path`, FastAPI routes the bill, balance and hold
    endpoints like any other. With `sweep_expiries` (`creditmeter serve`), due credit
    expiries are written within a minute (credits.expiry), by a task of the app's
    lifespan; with `deliver_webhooks`, a task of the lifespan delivers alert webhooks
    (webhooks.deliverer)."""
    settings = settings or Settings()
    services = Services.build(settings, store=store, writer_process=writer_process, resends=resends)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # One line per worker process as it starts serving (its pid is in the line).
        log = logging.getLogger("creditmeter.serve")
        log.info("worker started")
        try:
            services.ingestion.start()
        except OSError:  # the first batch tries again, and is answered 503 if it fails
            log.exception("the writer did not start")
        sweeper = (
            asyncio.create_task(expiry.sweep_forever(services.store)) if sweep_expiries else None
        )
        deliverer = asyncio.create_task(services.deliverer.run()) if deliver_webhooks else None
        yield
        for task in (sweeper, deliverer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await services.store.close_async()
        services.close()

    app = CreditmeterApp(
        title="creditmeter",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # A path with a trailing slash is a 404 like any unknown path: a redirect would be
        # built from the client's Host header, and re-sent POSTs would be answered.
        redirect_slashes=False,
    )
    app.state.services = services  # read through http.auth.services_of only

    errors.install(app, settings.retry_after_seconds, services.metrics)
    routers = (
        bill_router,
        conversation_router,
        ingest_router,
        admin_router,
        credit_router,
        webhook_router,
        dashboard_router,
        conversation_dashboard_router,
        ops_router,
    )
    for router in routers:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount(
        "/dashboard/static",
        StaticFiles(directory=dashboard_assets.STATIC),
        name="dashboard-static",
    )
    # Outermost first. The fast paths sit inside CORS and the edge, like every route; their
    # requests take a stack of these layers alone (front.py).
    handlers = app.exception_handlers
    layers = [Middleware(Edge, metrics=services.metrics)]
    if settings.cors_origins:
        layers.append(
            Middleware(
                JsonCors,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
                expose_headers=[
                    "X-Total-Count",
                    "Link",
                    "X-Timezone",
                    "X-Request-Id",
                    "Retry-After",
                ],
            )
        )
    layers += [Middleware(HeadAsGet), Middleware(BodyGate, services=services, handlers=handlers)]
    if bill_fast_path:
        layers += [
            Middleware(HoldPath, services=services, handlers=handlers),
            Middleware(BillFastPath, services=services, handlers=handlers),
        ]
    app.user_middleware[:0] = layers
    if bill_fast_path:
        app.short_stack = stack_of(layers)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the event batch schema the ingest route's parser enforces."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        batch = EventBatch.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(batch.pop("$defs", {}))
        schemas["EventBatch"] = batch
        # FastAPI documents a 422 on every route with parameters; ours answer 400 instead.
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                operation.get("responses", {}).pop("422", None)
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = document
    return app.openapi_schema


def factory() -> CreditmeterApp:
    """Entry point for `uvicorn --factory` and `creditmeter serve` workers."""
    from ..logs import configure_logging

    settings = Settings()
    configure_logging(settings)
    app = create_app(
        settings,
        writer_process=settings.sqlite_writer_process,
        sweep_expiries=True,
        deliver_webhooks=settings.webhook_delivery,
    )
    gctuning.settle()
    return app
