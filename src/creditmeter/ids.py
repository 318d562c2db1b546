"""The slug rule: what an account, bot or key-owner id may look like, wherever one is checked."""

from __future__ import annotations

import re
from typing import Final

from .errors import InvalidInput

SLUG_PATTERN: Final = r"[a-z0-9][a-z0-9_-]{0,63}"
SLUG: Final = re.compile(SLUG_PATTERN)
SLUG_JSON_PATTERN: Final = f"^{SLUG_PATTERN}$"  # as JSON Schema writes it: anchored
SLUG_RULE: Final = "1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit"


def is_digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes "²" (which int() refuses) and "١٢"
    (which int() reads as 12)."""
    return text.isascii() and text.isdigit()


def is_slug(value: str) -> bool:
    return SLUG.fullmatch(value) is not None


def check_slug(field: str, value: str) -> str:
    """`value` itself, or InvalidInput naming `field` when it is not a slug."""
    if not is_slug(value):
        raise InvalidInput(f"{field}: {value!r} is not a valid id ({SLUG_RULE})")
    return value
