"""jsonbody.py: strict JSON for request bodies, numbers kept as the exact text sent."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditmeter.errors import InvalidInput
from creditmeter.jsonbody import JsonNumber, canonical, canonical_number, decode, decode_fast


@dataclass(frozen=True)
class Number:
    """A JSON number to write as this exact text."""

    text: str


def rejected(body: bytes) -> str:
    with pytest.raises(InvalidInput) as caught:
        decode(body)
    assert caught.value.code == 40000
    assert caught.value.message.startswith("body: ")
    return caught.value.message


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "a": 1}',
        b'{"a": 1, "b": 2, "a": 3}',
        b'{"events": [{"id": "e1", "credits": 1, "credits": 2}]}',
        b'[{"x": {"y": null, "y": null}}]',
    ],
)
def test_duplicate_keys_are_rejected(body: bytes) -> None:
    assert "duplicate key" in rejected(body)


@pytest.mark.parametrize(
    "body", [b"NaN", b"[Infinity]", b'{"credits": -Infinity}', b'{"a": [1, NaN]}']
)
def test_nan_and_infinity_are_rejected(body: bytes) -> None:
    assert "not allowed" in rejected(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "\xff"}',
        b'{"name": "caf\xe9"}',  # Latin-1
        '{"a": 1}'.encode("utf-16"),
        b'"\xed\xa0\x80"',  # a surrogate encoded as UTF-8 (CESU), not UTF-8
    ],
)
def test_non_utf8_is_rejected(body: bytes) -> None:
    assert "UTF-8" in rejected(body)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b" ",
        b"{",
        b'{"a": 1} x',
        b"{'a': 1}",
        b'{"a": 01}',
        b'{"a": .5}',
        b'{"a": +1}',
        b"[1,]",
        b'{"a" 1}',
        b"\xef\xbb\xbf{}",  # a byte order mark
    ],
)
def test_malformed_json_is_rejected(body: bytes) -> None:
    assert "not valid JSON" in rejected(body)


def test_deep_nesting_is_a_400_not_a_crash() -> None:
    # Used to escape as RecursionError: a 500 for a malformed body.
    assert "nested too deeply" in rejected(b"[" * 100_000 + b"]" * 100_000)
    assert "nested too deeply" in rejected(b'{"a":' * 50_000 + b"1" + b"}" * 50_000)


@pytest.mark.parametrize(
    "body", [b'"\\ud800"', b'{"metadata": {"k": "x\\udc00"}}', b'{"\\uDBFF": 1}', b'["\\ud83d"]']
)
def test_lone_surrogates_are_rejected(body: bytes) -> None:
    # Used to pass, then fail as UnicodeEncodeError when stored: a 500.
    assert "surrogate" in rejected(body)


def test_surrogate_pairs_and_escaped_backslashes_are_fine() -> None:
    assert decode(b'"\\ud83d\\ude00"') == "\U0001f600"
    assert decode(b'["\\\\ud800"]') == ["\\ud800"]  # a backslash, then the letters u d 8 0 0
    assert decode('{"k": "\u00e9\U0001f600"}'.encode()) == {"k": "\u00e9\U0001f600"}


@pytest.mark.parametrize(
    "number",
    [
        "0",
        "-0",
        "12",
        "0.5",
        "1.250000",
        "0.30000000000000004",
        "0.1",
        "1e3",
        "1E-7",
        "-2.5e+10",
        "123456789012345678901234567890",
        "1e400",
        "9007199254740993",  # 2**53 + 1: a float would round it
    ],
)
def test_numbers_keep_the_exact_text_sent(number: str) -> None:
    value = decode(f'{{"credits": {number}, "list": [{number}]}}'.encode())
    assert value == {"credits": number, "list": [number]}
    assert isinstance(value["credits"], JsonNumber)
    assert isinstance(value["list"][0], JsonNumber)


def test_strings_are_not_numbers() -> None:
    value = decode(b'{"credits": "1.5", "n": 1.5}')
    assert type(value["credits"]) is str
    assert type(value["n"]) is JsonNumber


def test_canonical_sorts_keys_and_writes_numbers_exactly() -> None:
    value = decode(b'{"model": "x", "tokens": 1200, "cost": 0.25, "big": 1e3, "n": [2.50, -0]}')
    assert canonical(value) == '{"big":1000,"cost":0.25,"model":"x","n":[2.5,0],"tokens":1200}'


@pytest.mark.parametrize(
    ("sent", "written"),
    [
        ("12345678901234567.5", "12345678901234567.5"),  # beyond a float's 17 digits
        ("1.2345678901234568e+16", "12345678901234568"),
        ("0.30000000000000004", "0.30000000000000004"),
        ("1.50", "1.5"),
        ("15e-1", "1.5"),
        ("-0.0", "0"),
        ("1e20", "100000000000000000000"),
        ("1e21", "1e+21"),
        ("0.000001", "0.000001"),
        ("0.0000001", "1e-7"),
        ("-2.5E-9", "-2.5e-9"),
        ("1e400", "1e+400"),  # exact, though no float can hold it
        ("9" * 30, "9." + "9" * 29 + "e+29"),
    ],
)
def test_canonical_numbers_keep_every_digit_sent(sent: str, written: str) -> None:
    assert canonical_number(sent) == written
    assert Decimal(canonical_number(sent)) == Decimal(sent)
    assert canonical_number(written) == written
    assert canonical(decode(f"[{sent}]".encode())) == f"[{written}]"
    assert canonical(decode_fast(f"[{sent}]".encode())) == f"[{written}]"


def test_two_decimals_a_float_confuses_are_two_texts() -> None:
    one, other = (decode(f'{{"n": {n}}}'.encode()) for n in ("0.1", "0.10000000000000001"))
    assert canonical(one) != canonical(other)


def test_canonical_escapes_control_characters() -> None:
    body = rb'{"k\u0000": "\u001b[31m\u00e9"}'
    assert canonical(decode(body)) == r'{"k\u0000":"\u001b[31m' + "\u00e9" + '"}'


@pytest.mark.parametrize("kind", ["{", "["])
def test_canonical_refuses_depth_past_the_limit_without_recursing_deeper(kind: str) -> None:
    closing = "}" if kind == "{" else "]"
    opening = '{"a":' if kind == "{" else "["
    at_limit = decode((opening * 64 + "1" + closing * 64).encode())
    assert canonical(at_limit).count(kind) == 64
    too_deep = decode((opening * 65 + "1" + closing * 65).encode())
    with pytest.raises(ValueError, match="more than 64 deep"):
        canonical(too_deep)
    very_deep = decode((opening * 900 + "1" + closing * 900).encode())
    with pytest.raises(ValueError, match="more than 3 deep"):
        canonical(very_deep, max_depth=3)


# Hypothesis: any JSON document we can write decodes to itself, numbers as their text.

JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
json_numbers = st.one_of(
    st.integers().map(str),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: format(d, "f")),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
).filter(JSON_NUMBER.fullmatch)
json_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.text(), json_numbers.map(Number)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


def _write(value: Any, ascii_only: bool) -> str:
    if isinstance(value, Number):
        return value.text
    if isinstance(value, list):
        return "[" + ",".join(_write(v, ascii_only) for v in value) + "]"
    if isinstance(value, dict):
        items = (
            f"{json.dumps(k, ensure_ascii=ascii_only)}:{_write(v, ascii_only)}"
            for k, v in value.items()
        )
        return "{" + ",".join(items) + "}"
    return json.dumps(value, ensure_ascii=ascii_only)


def _expected(value: Any) -> Any:
    if isinstance(value, Number):
        return value.text
    if isinstance(value, list):
        return [_expected(v) for v in value]
    if isinstance(value, dict):
        return {k: _expected(v) for k, v in value.items()}
    return value


@given(json_values, st.booleans())
def test_decode_round_trips(value: Any, ascii_only: bool) -> None:
    assert decode(_write(value, ascii_only).encode()) == _expected(value)
