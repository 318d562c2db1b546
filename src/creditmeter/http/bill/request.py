"""What a bill request asks, read straight from the ASGI scope, and the window it may see."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import Scope

from ...bills import Window
from ...days import instant_params, zone
from ...errors import InvalidInput
from ...ids import SLUG_JSON_PATTERN, is_slug
from ...looks import Look
from ..auth import RequestNotes, looked_reader


class BillRequest:
    """A bill request's query parameters and the two headers that matter. Read from the
    scope (Starlette's Request would cost more than a cached report); the query string is
    parsed only when the answer is not cached."""

    __slots__ = ("_items", "accept", "authorization", "notes", "path", "query")

    def __init__(self, scope: Scope):
        self.path: str = scope["path"]
        self.query: bytes = scope["query_string"]
        self._items: list[tuple[str, str]] | None = None
        self.authorization = self.accept = ""
        for name, value in scope["headers"]:
            if name == b"authorization" and not self.authorization:
                self.authorization = value.decode("latin-1")
            elif name == b"accept":  # sent twice, the lists join (RFC 9110, 5.3)
                text = value.decode("latin-1")
                self.accept = f"{self.accept}, {text}" if self.accept else text
        self.notes: RequestNotes = scope.setdefault("state", {})

    @property
    def items(self) -> list[tuple[str, str]]:
        """Every query parameter in order, as Starlette's QueryParams reads them."""
        if self._items is None:
            self._items = parse_qsl(self.query.decode("latin-1"), keep_blank_values=True)
        return self._items

    @property
    def params(self) -> dict[str, str]:
        """The last value of each query parameter, as Starlette's QueryParams.get gives."""
        return dict(self.items)


# The last page a request may ask for: any page past a list's end is [], as the contract
# says; the bound only keeps page x page_size within a 64-bit OFFSET.
MAX_PAGE = 10**15 - 1


def integer_param(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 15) or not low <= int(text) <= high:
        raise InvalidInput(f"{name}: {text!r} must be an integer from {low} to {high}")
    return int(text)


def slug_param(params: dict[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not is_slug(value):
        raise InvalidInput(f"{name}: {value!r} must match {SLUG_JSON_PATTERN}")
    return value


def read_window(request: BillRequest, look: Look) -> Window:
    """Every parameter, then the access rules: the report this request, whose key its look
    has checked, may see."""
    params = request.params
    start_ms, end_ms = instant_params(params)  # ordered by the window's rules (bills.py)
    timezone = params.get("timezone")
    tz = zone(timezone) if timezone is not None else None
    reader = looked_reader(look, slug_param(params, "account_id"), slug_param(params, "bot_id"))
    request.notes["account_id"] = reader.account.id
    return Window(
        account_id=reader.account.id,
        bot_id=reader.bot_id,
        start_ms=start_ms,
        end_ms=end_ms,
        tz=tz or zone(reader.account.timezone),
        account_tz=reader.account.timezone,
    )
