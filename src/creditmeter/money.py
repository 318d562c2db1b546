"""Credits are integers of micro-credits inside; exact decimal text at the edges."""

from __future__ import annotations

import re

MICRO = 1_000_000
MAX_CREDITS_MICRO = 1_000_000 * MICRO

_OUT_OF_RANGE = "credits must be between 0 and 1000000"
_PLAIN_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]{1,6}))?")


def parse_credits(text: str) -> int:
    """Plain decimal text (`12`, `0.5`, `1.250000`) -> micro-credits; ValueError with the rule."""
    match = _PLAIN_DECIMAL.fullmatch(text)
    if match is None:
        if re.fullmatch(r"[0-9]+\.[0-9]{7,}", text):
            raise ValueError("credits have at most 6 decimal places")
        raise ValueError(
            'credits must be a plain decimal number such as 12, 0.5 or "1.250000" '
            "(no sign, no exponent, at most 6 decimal places)"
        )
    whole, fraction = match.group(1), match.group(2) or ""
    if len(whole) > 7:  # before int(), which fails on thousands of digits talking of Python
        raise ValueError(_OUT_OF_RANGE)
    micro = int(whole) * MICRO + int(fraction.ljust(6, "0"))
    if micro > MAX_CREDITS_MICRO:
        raise ValueError(_OUT_OF_RANGE)
    return micro


# The fraction's two halves as text, whole and with trailing zeros stripped: a page of a
# list writes ~1,100 figures, and formatting six digits and stripping them cost more.
_THREE = tuple(f"{i:03d}" for i in range(1000))
_THREE_STRIPPED = tuple(f"{i:03d}".rstrip("0") for i in range(1000))


def format_credits(micro: int) -> str:
    """Micro-credits -> the shortest exact decimal text (`0.3`, `100`, `1.5`), by integer
    arithmetic alone: no binary floating point touches money (PRODUCT.md)."""
    if micro < 0:  # never stored, but keep the function total
        return "-" + format_credits(-micro)
    whole, fraction = divmod(micro, MICRO)
    if not fraction:
        return str(whole)
    high, low = divmod(fraction, 1000)
    if low:
        return f"{whole}.{_THREE[high]}{_THREE_STRIPPED[low]}"
    return f"{whole}.{_THREE_STRIPPED[high]}"
