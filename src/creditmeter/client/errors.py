"""The API's errors as exceptions: one class per contract code, all sharing `ApiError`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from .models import IngestResult


class ApiError(Exception):
    """An answer of the service that is not a success: the API's `code` and `message`.

    `status` is the HTTP status, `details` the body's other fields (`errors`, `ids`),
    `request_id` the id the service logged the request under, `retry_after` the seconds
    the service asked to wait (429 and 503)."""

    code: int = 0

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        status: int = 0,
        details: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.status = status
        self.details: dict[str, Any] = dict(details or {})
        self.request_id = request_id
        self.retry_after = retry_after
        # Set by `ingest` when earlier batches of the same call were stored before this error.
        self.ingested: IngestResult | None = None

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    @property
    def errors(self) -> list[dict[str, Any]]:
        """A 400's `{index, field, message}` items; `index` counts from the first event
        given to `ingest`, across batches."""
        found = self.details.get("errors")
        return list(found) if isinstance(found, list) else []

    @property
    def ids(self) -> list[str]:
        """A 409's event ids reused with other content."""
        found = self.details.get("ids")
        return list(found) if isinstance(found, list) else []


class InvalidInput(ApiError):
    code = 40000


class Unauthorized(ApiError):
    code = 40127


class Forbidden(ApiError):
    code = 40300


class NotFound(ApiError):
    code = 40400


class MethodNotAllowed(ApiError):
    code = 40500


class Conflict(ApiError):
    code = 40900


class PaymentRequired(ApiError):
    """A hold asks for more credits than are available (the message says how many are)."""

    code = 40200


class PayloadTooLarge(ApiError):
    code = 41300


class RateLimited(ApiError):
    code = 42900


class ServerError(ApiError):
    code = 50000


class StoreUnavailable(ApiError):
    code = 50300


_BY_CODE: dict[int, type[ApiError]] = {
    cls.code: cls
    for cls in (
        InvalidInput,
        PaymentRequired,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        RateLimited,
        ServerError,
        StoreUnavailable,
    )
}


def retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds, from either of its forms (seconds or an HTTP date)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    date_header = response.headers.get("date")
    try:
        now = parsedate_to_datetime(date_header) if date_header else None
    except (TypeError, ValueError):
        now = None
    if now is None:
        now = datetime.now(UTC)
    return max(0.0, (moment - now).total_seconds())


def error_from(response: httpx.Response) -> ApiError:
    """The typed exception for an answer that is not a success."""
    request_id = response.headers.get("x-request-id")
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), int) and "message" in body:
        code: int = body["code"]
        details = {k: v for k, v in body.items() if k not in ("code", "message")}
        message = str(body["message"])
    else:  # not the service's own answer (a proxy's error page, say)
        code = response.status_code * 100
        details = {}
        message = f"HTTP {response.status_code}: {response.text[:200]}"
    cls = _BY_CODE.get(code, ApiError)
    return cls(
        message,
        code=code,
        status=response.status_code,
        details=details,
        request_id=request_id,
        retry_after=retry_after(response),
    )
