"""money.py: credits as integer micro-credits inside, exact decimal text at the edges."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditmeter.money import (
    MAX_CREDITS_MICRO,
    MICRO,
    format_credits,
    parse_credits,
)

CANONICAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]{0,5}[1-9])?")
micros = st.integers(0, MAX_CREDITS_MICRO)


@pytest.mark.parametrize(
    ("text", "micro"),
    [
        ("0", 0),
        ("12", 12 * MICRO),
        ("0.5", 500_000),
        ("1.250000", 1_250_000),
        ("0.000001", 1),
        ("999999.999999", MAX_CREDITS_MICRO - 1),
        ("1000000", MAX_CREDITS_MICRO),
        ("1000000.000000", MAX_CREDITS_MICRO),
        ("0.30000", 300_000),
    ],
)
def test_parse_credits(text: str, micro: int) -> None:
    assert parse_credits(text) == micro


@pytest.mark.parametrize(
    "text",
    [
        "1.0000001",  # seven decimals, even when the seventh is a zero
        "0.0000000",
        "0.1234567",
    ],
)
def test_at_most_six_decimals(text: str) -> None:
    with pytest.raises(ValueError, match="at most 6 decimal places"):
        parse_credits(text)


@pytest.mark.parametrize(
    "text", ["1000000.000001", "1000001", "99999999", "1" * 200, "1" * 5000, "1" * 5000 + ".5"]
)
def test_more_than_a_million_is_out_of_range(text: str) -> None:
    # The 5000 digits used to reach int() and fail with a message about Python's limits.
    with pytest.raises(ValueError, match=r"^credits must be between 0 and 1000000$"):
        parse_credits(text)


@pytest.mark.parametrize(
    "text",
    [
        "1e3",
        "1E3",
        "1.5e-3",
        "-1",
        "-0",
        "+1",
        ".5",
        "5.",
        "01",
        "00.5",
        " 1",
        "1 ",
        "",
        "abc",
        "1,5",
        "1_000",
        "0x10",
        "NaN",
        "Infinity",
        "\uff11",  # full-width one
        "\u0661",  # Arabic-Indic one
        "1.\u0665",
    ],
)
def test_only_plain_decimal_notation(text: str) -> None:
    with pytest.raises(ValueError, match="plain decimal number"):
        parse_credits(text)


@pytest.mark.parametrize(
    ("micro", "text"),
    [
        (0, "0"),
        (1, "0.000001"),
        (300_000, "0.3"),
        (100 * MICRO, "100"),
        (1_500_000, "1.5"),
        (1_250_000, "1.25"),
        (MAX_CREDITS_MICRO, "1000000"),
        (123_456_789_012, "123456.789012"),
        (1_000, "0.001"),
        (10, "0.00001"),
        (1_000_001, "1.000001"),
        (1_010_000, "1.01"),
        (7_000_100, "7.0001"),
        (-1_500_000, "-1.5"),
    ],
)
def test_format_credits(micro: int, text: str) -> None:
    assert format_credits(micro) == text


def test_sums_have_no_float_artefacts() -> None:
    assert format_credits(parse_credits("0.1") + parse_credits("0.2")) == "0.3"
    assert format_credits(sum(parse_credits("0.1") for _ in range(10))) == "1"
    # Sums beyond one event's limit (a month of an account) stay exact too.
    assert format_credits(3 * MAX_CREDITS_MICRO + 7) == "3000000.000007"


@given(micros)
def test_format_then_parse_is_the_identity(micro: int) -> None:
    text = format_credits(micro)
    assert CANONICAL.fullmatch(text), text  # shortest form: no exponent, no trailing zeros
    assert parse_credits(text) == micro
    assert Decimal(text) == Decimal(micro) / MICRO
    # What a client reading the JSON number as a decimal gets.
    assert json.loads(text, parse_float=Decimal, parse_int=Decimal) == Decimal(micro).scaleb(-6)


@given(micros, st.integers(0, 6))
def test_parse_accepts_any_padding_up_to_six_decimals(micro: int, decimals: int) -> None:
    whole, fraction = divmod(micro, MICRO)
    digits = f"{fraction:06d}"
    if digits[decimals:].strip("0"):
        decimals = 6  # fewer decimals cannot hold this value
    text = f"{whole}.{digits[:decimals]}" if decimals else str(whole)
    assert parse_credits(text) == micro


@given(st.decimals(min_value=0, max_value=10**6, places=6, allow_nan=False))
def test_parse_agrees_with_decimal(value: Decimal) -> None:
    text = format(value, "f")
    assert parse_credits(text) == int(value * MICRO)


@given(st.lists(micros, max_size=50))
def test_sums_are_exact(values: list[int]) -> None:
    total = sum(values)
    assert Decimal(format_credits(total)) == sum(
        (Decimal(format_credits(v)) for v in values), Decimal(0)
    )


@given(st.integers(min_value=0, max_value=10**19))
def test_formatting_is_the_exact_decimal_and_the_shortest(micro: int) -> None:
    text = format_credits(micro)
    assert Decimal(text) == Decimal(micro) / 1_000_000
    assert not text.endswith((".", "0")) or "." not in text
