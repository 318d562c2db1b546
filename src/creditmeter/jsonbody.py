"""Strict JSON decoding for request bodies: exact numbers, no NaN, no duplicate keys."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import jiter

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


def decode_fast(body: bytes) -> Any:
    """decode(body), by a compiled parser, but with each number an int or a jiter.LosslessFloat
    (whose str() is the text sent, see number_text) rather than a JsonNumber.

    jiter refuses all that decode refuses (bad UTF-8, lone surrogates, duplicate keys, NaN),
    and nesting past 200 besides; it keeps each number's text but that of -0, which it reads
    as the int 0, so a body that may hold one goes to decode. So does every body jiter
    refuses: decode words the error, or reads the deep body.
    """
    if not _may_hold_minus_zero(body):
        try:
            return jiter.from_json(
                body,
                allow_inf_nan=False,
                catch_duplicate_keys=True,
                float_mode="lossless-float",
                cache_mode="keys",
            )
        except ValueError:
            pass
    return decode(body)


_MINUS_ZERO = re.compile(rb"-0(?![.eE0-9])")


def _may_hold_minus_zero(body: bytes) -> bool:
    """Whether a -0 number may be in the body: a "-0" (not "-0.5", "-01") that starts it or
    follows a ':', a '[' or a ',' after optional whitespace, as a JSON value does. Text
    inside a string can pass too ("x, -0"), which costs only time; an id such as "bot-0"
    does not."""
    for match in _MINUS_ZERO.finditer(body):
        before = match.start() - 1
        while before >= 0 and body[before] in b" \t\n\r":
            before -= 1
        if before < 0 or body[before] in b":[,":
            return True
    return False


# type() of a JSON number from decode or decode_fast (true and false are bools, not ints)
NUMBER_TYPES = frozenset({JsonNumber, int, jiter.LosslessFloat})


def number_text(value: Any) -> str | None:
    """The text sent for a JSON number, whether decode or decode_fast read it; else None."""
    return str(value) if type(value) in NUMBER_TYPES else None


MAX_DEPTH = 64


def canonical(value: Any, *, max_depth: int = MAX_DEPTH) -> str:
    """The compact JSON text of a decoded value, one text for one JSON value: keys sorted,
    strings as json.dumps writes them (control characters escaped, the rest as UTF-8),
    numbers exact in one decimal form (canonical_number), never through a binary float.

    ValueError past `max_depth` nested objects and arrays (the value itself is at depth 1),
    checked before each level is entered: the recursion never goes deeper than that."""
    out: list[str] = []
    _write(value, 1, max_depth, out)
    return "".join(out)


_SMALL_INT = 10**21  # an int below this in magnitude is written as canonical_number does


def _write(value: Any, depth: int, max_depth: int, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(_string(value))
    elif kind is int and -_SMALL_INT < value < _SMALL_INT:
        out.append(str(value))
    elif kind in NUMBER_TYPES:
        out.append(canonical_number(str(value)))
    elif kind is dict or kind is list:
        if depth > max_depth:
            raise ValueError(f"must not nest objects and arrays more than {max_depth} deep")
        out.append("{" if kind is dict else "[")
        for index, key in enumerate(sorted(value) if kind is dict else value):
            if index:
                out.append(",")
            if kind is dict:
                out.append(_string(key) + ":")
                _write(value[key], depth + 1, max_depth, out)
            else:
                _write(key, depth + 1, max_depth, out)
        out.append("}" if kind is dict else "]")
    elif value is None or kind is bool:
        out.append(_CONSTANTS[value])
    else:
        raise ValueError(f"{kind.__name__} is not a JSON value")


_CONSTANTS = {None: "null", True: "true", False: "false"}


def _string(text: str) -> str:
    return json.encoder.encode_basestring(text)


_CANONICAL_NUMBER = re.compile(
    r"-?(?:[1-9][0-9]{0,20}(?:\.[0-9]*[1-9])?|0\.0{0,5}[1-9](?:[0-9]*[1-9])?)"
)


def canonical_number(text: str) -> str:
    """A JSON number's exact value in one form, as JavaScript writes a number (digits, then
    zeros or a point, up to 21 digits; else an exponent), but with every digit sent:
    `1.50` and `15e-1` are `1.5`, `1e3` is `1000`, `12345678901234567.5` stays itself."""
    if _CANONICAL_NUMBER.fullmatch(text):
        return text  # most numbers are sent in this form already
    try:
        sign, digit_tuple, exponent = Decimal(text).as_tuple()
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    assert isinstance(exponent, int)  # a JSON number is finite
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    if not digits:
        return "0"  # -0 and 0.0 too: one value
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    digits, minus = stripped, "-" if sign else ""
    point = len(digits) + exponent  # where the decimal point falls, from the first digit
    if len(digits) <= point <= 21:
        return minus + digits + "0" * exponent
    if 0 < point <= 21:
        return f"{minus}{digits[:point]}.{digits[point:]}"
    if -6 < point <= 0:
        return f"{minus}0.{'0' * -point}{digits}"
    mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
    return f"{minus}{mantissa}e{point - 1:+d}"
