"""The fields of credit request bodies and parameters, checked one by one: each bad one is
an InvalidInput (400) that names it and its rule."""

from __future__ import annotations

import re
from typing import Any

from ..days import parse_rfc3339_ms
from ..errors import InvalidInput
from ..ids import is_digits
from ..jsonbody import JsonNumber, number_text
from ..money import MICRO

CLIENT_ID = re.compile(r"[!-~]{1,128}")
_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")
MAX_GRANT_MICRO = 1_000_000_000 * MICRO
KINDS = ("purchase", "plan", "promotion")


def body_object(document: Any, fields: frozenset[str]) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidInput("body: must be a JSON object")
    unknown = sorted(set(document) - fields)
    if unknown:
        raise InvalidInput(
            f"{unknown[0]}: is not a field of this body ({', '.join(sorted(fields))})"
        )
    return document


def shown_id(value: str) -> str:
    """An id as an error message quotes it: at most 128 characters of it."""
    return repr(value if len(value) <= 128 else value[:128] + "…")


def client_id(field: str, value: Any) -> str:
    if (
        isinstance(value, JsonNumber)
        or not isinstance(value, str)
        or not CLIENT_ID.fullmatch(value)
    ):
        raise InvalidInput(f"{field}: must be 1-128 printable ASCII characters without space")
    return value


def credits(field: str, value: Any, maximum: int, *, positive: bool = True) -> int:
    """A JSON number or decimal string -> micro-credits, > 0 (or >= 0), at most `maximum`."""
    text = value if isinstance(value, str) else number_text(value)
    match = _DECIMAL.fullmatch(text) if text is not None else None
    if match is None:
        raise InvalidInput(
            f'{field}: must be a plain decimal number such as 12, 0.5 or "1.250000" '
            "(no sign, no exponent)"
        )
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > 6:
        raise InvalidInput(f"{field}: has at most 6 decimal places")
    if len(whole) > 16 or (micro := int(whole) * MICRO + int(fraction.ljust(6, "0"))) > maximum:
        raise InvalidInput(f"{field}: must be at most {maximum // MICRO}")
    if positive and micro == 0:
        raise InvalidInput(f"{field}: must be greater than 0")
    return micro


def integer(field: str, value: Any, low: int, high: int) -> int:
    text = number_text(value)
    if text is None or not re.fullmatch(r"-?[0-9]{1,12}", text) or not low <= int(text) <= high:
        raise InvalidInput(f"{field}: must be an integer from {low} to {high}")
    return int(text)


def instant(field: str, value: Any) -> int:
    """Milliseconds since the epoch (a JSON integer or digits) or an RFC 3339 string."""
    text = number_text(value)
    if text is None and isinstance(value, str) and is_digits(value):
        text = value
    if text is not None:
        if not is_digits(text) or len(text) > 15:
            raise InvalidInput(f"{field}: must be milliseconds since the Unix epoch or RFC 3339")
        return int(text)
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: must be milliseconds since the Unix epoch or RFC 3339")
    try:
        return parse_rfc3339_ms(value)
    except ValueError as exc:
        raise InvalidInput(
            f"{field}: is neither milliseconds since the Unix epoch (decimal digits, such as "
            f"1732982400000) nor an RFC 3339 date-time; {exc}"
        ) from None


def past_instant(field: str, value: Any, now: int) -> int:
    """instant(), no later than `now`: a balance as it stood at an instant still to come is
    not known (expiries and holds would end, usage is yet to come)."""
    at = instant(field, value)
    if at > now:
        raise InvalidInput(
            f"{field}: {at} is in the future (now is {now}); a balance as it stood then needs"
            " an instant that has passed; leave it out for the balance now"
        )
    return at


def text(field: str, value: Any, most: int) -> str:
    if isinstance(value, JsonNumber) or not isinstance(value, str) or not 1 <= len(value) <= most:
        raise InvalidInput(f"{field}: must be a string of 1-{most} characters")
    if not value.isprintable():
        raise InvalidInput(f"{field}: must hold printable characters only")
    return value
