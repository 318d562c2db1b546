"""CORS, with the contract's JSON for a refused preflight."""

from __future__ import annotations

from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers
from starlette.responses import Response

from ..errors import InvalidInput
from .errors import error_response


class JsonCors(CORSMiddleware):
    """Starlette's CORSMiddleware, whose refused preflight is a 40000 `{code, message}`
    naming what was refused, as every error is; Starlette's own is plain text ("Disallowed
    CORS origin"). Its checks are Starlette's, untouched."""

    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        if answer.status_code != 400:
            return answer
        # Starlette words its refusals "Disallowed CORS origin, method, headers".
        refused = bytes(answer.body).decode().removeprefix("Disallowed CORS ").split(", ")
        reasons = [self._reason(what, request_headers) for what in refused]
        refusal = InvalidInput("CORS preflight refused: " + "; ".join(reasons))
        response = error_response(refusal)
        for name, value in answer.headers.items():  # Starlette's Access-Control-*, Vary
            if name not in ("content-type", "content-length"):
                response.headers[name] = value
        return response

    def _reason(self, what: str, request_headers: Headers) -> str:
        if what == "origin":
            return f"origin {request_headers['origin']!r} is not allowed"
        if what == "method":
            method = request_headers["access-control-request-method"]
            return f"method {method!r} is not allowed; allowed: {', '.join(self.allow_methods)}"
        if what == "headers":
            asked = request_headers.get("access-control-request-headers", "")
            allowed = ", ".join(sorted(self.allow_headers))
            return f"headers {asked!r} are not all allowed; allowed: {allowed}"
        if what == "private-network":
            return "private network access is not allowed"
        return f"{what} is not allowed"
