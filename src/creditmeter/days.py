"""Local calendar days and their UTC bounds, in milliseconds. Pure: no I/O.

Every question about "which day is this instant in" or "where does this day begin"
is answered here, so that DST, half-hour and quarter-hour zones are handled once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidInput

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
# Instants we accept anywhere: 0001-01-02 .. 9999-12-30 keeps every local date representable.
MIN_MS = -62135510400000
MAX_MS = 253402041599999

_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`; InvalidInput naming the rule when there is none."""
    if not _ZONE_NAME.fullmatch(name):
        raise InvalidInput(
            f"timezone: {name!r} is not an IANA time zone name such as Asia/Shanghai"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            f"timezone: {name!r} is not an IANA time zone name such as Asia/Shanghai"
        ) from None


def is_zone(name: str) -> bool:
    try:
        zone(name)
    except InvalidInput:
        return False
    return True


def to_ms(moment: datetime) -> int:
    return (moment - EPOCH) // MS


def from_ms(ms: int) -> datetime:
    return EPOCH + ms * MS


def local_date(ms: int, tz: ZoneInfo) -> date:
    return from_ms(ms).astimezone(tz).date()


def day_start_ms(day: date, tz: ZoneInfo) -> int:
    """The first instant whose local date is `day`.

    fold=0 picks the earlier of two local midnights, and for a midnight that a DST gap
    skips, the offset before the gap, which lands exactly on the transition: in both
    cases the first instant of the day.
    """
    return to_ms(datetime(day.year, day.month, day.day, tzinfo=tz))


@dataclass(frozen=True, slots=True)
class Day:
    """One local day of a range, clipped to it: instants `lo <= t < hi` belong to it."""

    date: date
    lo: int
    hi: int


def days_between(start_ms: int, end_ms: int, tz: ZoneInfo) -> list[Day]:
    """Every local day that `[start_ms, end_ms]` (both inclusive) touches, clipped to it."""
    first, last = local_date(start_ms, tz), local_date(end_ms, tz)
    count = (last - first).days + 1
    dates = [first + timedelta(days=i) for i in range(count)]
    bounds = [start_ms] + [day_start_ms(d, tz) for d in dates[1:]] + [end_ms + 1]
    return [Day(d, bounds[i], bounds[i + 1]) for i, d in enumerate(dates)]


def count_days(start_ms: int, end_ms: int, tz: ZoneInfo) -> int:
    return (local_date(end_ms, tz) - local_date(start_ms, tz)).days + 1


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?([Zz]|[+-]\d{2}:\d{2})"
)


def parse_rfc3339_ms(text: str) -> int:
    """RFC 3339 date-time with an offset and at most millisecond precision -> ms."""
    if not _RFC3339.fullmatch(text):
        raise ValueError(
            "expected an RFC 3339 date-time with an offset and at most millisecond "
            "precision, such as 2024-12-01T00:00:00+08:00"
        )
    try:
        moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not a valid date-time: {exc}") from None
    return to_ms(moment)


def parse_instant_param(name: str, text: str) -> int:
    """A query parameter holding ms since the epoch as digits, or an RFC 3339 date-time."""
    if text.isascii() and text.isdigit():
        if len(text) > 15 or int(text) > MAX_MS:
            raise InvalidInput(
                f"{name}: {text!r} is out of range; send milliseconds since the Unix epoch "
                "(13 digits for today's dates)"
            )
        return int(text)
    if " " in text and "T" in text.upper():
        raise InvalidInput(
            f"{name}: {text!r} has a space; a '+' in an offset must be percent-encoded as %2B"
        )
    try:
        ms = parse_rfc3339_ms(text)
    except ValueError as exc:
        raise InvalidInput(
            f"{name}: {text!r} is neither milliseconds since the Unix epoch (decimal digits, "
            f"such as 1732982400000) nor an RFC 3339 date-time; {exc}"
        ) from None
    if not MIN_MS <= ms <= MAX_MS:
        raise InvalidInput(f"{name}: {text!r} is out of range")
    return ms
