"""jsonbody.py: strict JSON for request bodies, numbers kept as the exact text sent."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditmeter.errors import InvalidInput
from creditmeter.jsonbody import JsonNumber, decode, plain


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


def test_plain_turns_numbers_into_int_or_float() -> None:
    value = decode(b'{"model": "x", "tokens": 1200, "cost": 0.25, "big": 1e3, "nested": [2.5]}')
    assert plain(value) == {
        "model": "x",
        "tokens": 1200,
        "cost": 0.25,
        "big": 1000,
        "nested": [2.5],
    }
    assert type(plain(value)["tokens"]) is int


@pytest.mark.parametrize(
    "number",
    [
        "1e400",
        "1e-400",
        "2" + "0" * 308 + ".5",  # within the exponent test, yet beyond the largest float
    ],
)
def test_plain_rejects_numbers_a_float_cannot_hold(number: str) -> None:
    with pytest.raises(ValueError, match="out of the range"):
        plain(decode(f"[{number}]".encode()))


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
