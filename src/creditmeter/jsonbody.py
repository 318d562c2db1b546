"""Strict JSON decoding for request bodies: exact numbers, no NaN, no duplicate keys."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import InvalidInput


class JsonNumber(str):
    """A JSON number kept as the text the client sent, so credits stay exact."""

    __slots__ = ()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"duplicate key {duplicate!r} in a JSON object")
    return result


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object,
    parse_float=JsonNumber,
    parse_int=JsonNumber,
    parse_constant=_reject_constant,
)


def decode(body: bytes) -> Any:
    """The JSON value of a UTF-8 body; InvalidInput saying where it is broken."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"body: not valid UTF-8 at byte {exc.start}") from None
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"body: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise InvalidInput(f"body: not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidInput("body: not valid JSON: nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        # Such a string cannot be stored or sent back as UTF-8 (RFC 7493 forbids it too).
        raise InvalidInput(
            "body: not valid JSON: a \\u escape stands for half a surrogate pair, not a character"
        )
    return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: Any) -> bool:
    pending = [value]
    while pending:  # a loop, not recursion: the body may nest as deep as the decoder allows
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def plain(value: Any) -> Any:
    """A decoded value with its numbers turned into int or float (for metadata)."""
    if isinstance(value, JsonNumber):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if abs(number.adjusted()) > 308:
            raise ValueError(f"{value} is out of the range of a JSON number")
        if number == number.to_integral_value():
            return int(number)
        if not math.isfinite(result := float(number)):  # 2e308 + 0.5 passes the test above
            raise ValueError(f"{value} is out of the range of a JSON number")
        return result
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
