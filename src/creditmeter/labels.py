"""Text that people give and read back (account and key names): printable, so that no
control character (NUL, an ANSI escape, a bidi override) reaches the store or a terminal."""

from __future__ import annotations

from .errors import InvalidInput

ACCOUNT_NAME_MAX = 200
KEY_NAME_MAX = 100


def check_label(field: str, value: str, *, max_length: int) -> str:
    """`value` when it is 1 to `max_length` printable characters (str.isprintable: no
    control, format, separator other than space, private-use or unassigned character)."""
    if not 1 <= len(value) <= max_length or not value.isprintable():
        raise InvalidInput(f"{field}: must be 1-{max_length} printable characters")
    return value


def visible(text: str) -> str:
    """`text` for a terminal: each character that is not printable written as its escape
    (ESC as \\x1b), so a label stored before the rule above cannot drive the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
