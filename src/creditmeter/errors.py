"""The error family: every failure a client can see, with its stable code and HTTP status."""

from __future__ import annotations

from typing import Any


class CreditmeterError(Exception):
    """A failure with a stable `{code, message}` shape; one handler turns it into JSON."""

    status = 500
    code = 50000

    def __init__(self, message: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


class InvalidInput(CreditmeterError):
    status, code = 400, 40000


class Unauthorized(CreditmeterError):
    status, code = 401, 40127

    def __init__(self) -> None:
        # One message for every reason, so a caller learns nothing about which keys exist.
        super().__init__(
            "missing, malformed, unknown, expired or revoked API key; "
            "send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


class PaymentRequired(CreditmeterError):
    status, code = 402, 40200


class Forbidden(CreditmeterError):
    status, code = 403, 40300


class NotFound(CreditmeterError):
    status, code = 404, 40400


class MethodNotAllowed(CreditmeterError):
    status, code = 405, 40500


class Conflict(CreditmeterError):
    status, code = 409, 40900


class RequestTimeout(CreditmeterError):
    status, code = 408, 40800


class PayloadTooLarge(CreditmeterError):
    status, code = 413, 41300


class HeadersTooLarge(CreditmeterError):
    status, code = 431, 43100


class RateLimited(CreditmeterError):
    status, code = 429, 42900


class StoreUnavailable(CreditmeterError):
    status, code = 503, 50300
