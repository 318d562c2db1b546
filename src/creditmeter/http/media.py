"""The Content-Type a JSON body must be sent with, for the routes whose body FastAPI reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..errors import InvalidInput


async def require_json(request: Request) -> None:
    """InvalidInput for a body sent as anything but application/json, in the words of the
    routes that read their bodies themselves (events, grants, holds, webhooks). Without
    this FastAPI reads such a body as bytes, and its model answers "Input should be a
    valid dictionary". A dependency runs after the key's; an empty body is let through to
    the model (which says the body is required, or takes its defaults)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and await request.body():
        raise InvalidInput("Content-Type: must be application/json")


JsonContent = Annotated[None, Depends(require_json)]
