"""Which of JSON and CSV a request's Accept header prefers (RFC 9110, section 12.5.1)."""

from __future__ import annotations

import re
from functools import lru_cache

# The media ranges that match each type, most specific first: the first one sent says
# how acceptable the type is.
_CSV = ("text/csv", "text/*", "*/*")
_JSON = ("application/json", "application/*", "*/*")
_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")


def wants_csv(accept: str) -> bool:
    """True when text/csv is acceptable (q > 0) and preferred to application/json: a tie,
    `*/*` and no header at all answer JSON, the default."""
    return bool(accept) and _wants_csv(accept)


@lru_cache(maxsize=256)
def _wants_csv(accept: str) -> bool:
    # Cached: a bill page asks on every request, and clients send few distinct headers.
    ranges = _ranges(accept)
    csv = _quality(ranges, _CSV)
    return csv > 0 and csv > _quality(ranges, _JSON)


def _ranges(accept: str) -> dict[str, float]:
    """Each media range sent, lower-cased, with its q; a range that does not parse is left
    out, as if it had not been sent. A range sent twice counts at its higher q."""
    found: dict[str, float] = {}
    for element in accept.split(","):
        media_range, *parameters = element.split(";")
        media_range = media_range.strip().lower()
        quality: float | None = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                quality = float(value) if _QVALUE.fullmatch(value) else None
        if quality is not None and media_range.count("/") == 1:
            found[media_range] = max(quality, found.get(media_range, 0.0))
    return found


def _quality(ranges: dict[str, float], matching: tuple[str, ...]) -> float:
    for media_range in matching:
        if media_range in ranges:
            return ranges[media_range]
    return 0.0
