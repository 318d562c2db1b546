"""Local calendar days and their UTC bounds, in milliseconds. Pure: no I/O.

Every question about "which day is this instant in" or "where does this day begin"
is answered here, so that DST, half-hour and quarter-hour zones are handled once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from importlib.resources import files
from itertools import pairwise
from pathlib import Path
from typing import cast
from zoneinfo import TZPATH, ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidInput

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
# Instants we accept anywhere: 0001-01-02 .. 9999-12-30 keeps every local date representable.
MIN_MS = -62135510400000
MAX_MS = 253402041599999

_NOT_A_ZONE = "timezone: {!r} is not an IANA time zone name such as Asia/Shanghai"


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """The names accepted as zones: IANA's canonical zones and backward-compatible links
    (`Asia/Calcutta`, `US/Eastern`), as listed by the tzdata package and by the host's
    compiled `tzdata.zi`. Files that only sit beside them in a zoneinfo directory are not
    zones: `localtime` (whatever each host's clock is), `posixrules`, `posix/...` and
    `right/...` (copies with other leap-second rules)."""
    names = set(files("tzdata").joinpath("zones").read_text(encoding="utf-8").split())
    for directory in TZPATH:
        with suppress(OSError, UnicodeDecodeError):
            for line in (Path(directory) / "tzdata.zi").read_text(encoding="utf-8").splitlines():
                words = line.split()
                if len(words) >= 2 and words[0] == "Z":
                    names.add(words[1])
                elif len(words) >= 3 and words[0] == "L":
                    names.add(words[2])
    return frozenset(names)


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`; InvalidInput naming the rule when there is none. The
    one check of a zone name for the API, the CLI, the dashboard and the client."""
    if name not in zone_names():
        message = _NOT_A_ZONE.format(name)
        if " " in name:  # no zone name has one: a '+' sent unencoded, as in Etc/GMT+12
            message += "; in a query string a '+' must be percent-encoded as %2B"
        raise InvalidInput(message)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(_NOT_A_ZONE.format(name)) from None


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


def _offset_ms(ms: int, tz: ZoneInfo) -> int:
    return (from_ms(ms).astimezone(tz).utcoffset() or timedelta()) // MS


@lru_cache(maxsize=1 << 16)  # dates and zones repeat from one report to the next
def _date_changes(day: date, tz: ZoneInfo) -> tuple[int, ...]:
    """The instants around the local midnight that begins `day` where the local date may
    change: the midnight itself and, where a transition skips it or makes it happen twice,
    both readings of it and the transition between them."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
    first, second = to_ms(midnight), to_ms(midnight.replace(fold=1))
    if first == second:
        return (first,)
    lo, hi = min(first, second), max(first, second)
    before = _offset_ms(lo, tz)
    while hi - lo > 1:  # the transition is the first instant in (lo, hi] with another offset
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _offset_ms(mid, tz) == before else (lo, mid)
    return (first, second, hi)


def day_start_ms(day: date, tz: ZoneInfo) -> int:
    """The first instant whose local date is `day`; for a date a clock skips entirely
    (Pacific/Apia's 2011-12-30), the instant it is skipped.

    Where a DST gap swallows midnight that is the transition, not midnight read with
    either offset; where midnight happens twice, the first time.
    """
    candidates = _date_changes(day, tz)
    later = [c for c in candidates if local_date(c, tz) >= day]
    return min(later, default=candidates[0])


def dates_ms(first: date, last: date, tz: ZoneInfo) -> tuple[int, int]:
    """The first and last instant (ms) of the local dates `first` to `last`; InvalidInput
    when either lies outside the instants accepted anywhere (MIN_MS to MAX_MS)."""
    try:
        start, end = day_start_ms(first, tz), day_start_ms(last + timedelta(days=1), tz) - 1
    except OverflowError:
        start, end = MIN_MS - 1, MAX_MS + 1
    if not MIN_MS <= start <= end <= MAX_MS:
        raise InvalidInput(
            f"dates: {first} to {last} is out of range; a date must lie wholly between "
            f"{from_ms(MIN_MS):%Y-%m-%d %H:%M} and {from_ms(MAX_MS):%Y-%m-%d %H:%M} UTC"
        )
    return start, end


@dataclass(frozen=True, slots=True)
class Day:
    """One local day of a range, clipped to it: the instants `lo <= t < hi` of its pieces.

    A day is one piece, except where a clock set back across midnight repeats the end of
    the day before (America/St_Johns at 00:01 until 2011, Antarctica/Casey in 2010): the
    repeated stretch is a piece of the earlier date, so every instant is counted in the
    day its wall clock shows. A date a clock skips entirely has no pieces.
    """

    date: date
    pieces: tuple[tuple[int, int], ...]


def _shift(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:  # date.min and date.max have no neighbour; nothing lies past them
        return day


@lru_cache(maxsize=1 << 16)
def _plain_day(day: date, tz: ZoneInfo) -> Day | None:
    """The whole of `day` when it is plain: its midnight and the next happen once each, so
    the day is the one piece between them. None for a day next to a clock change at
    midnight (and for date.max)."""
    if day == date.max:
        return None
    starts, ends = _date_changes(day, tz), _date_changes(day + timedelta(days=1), tz)
    if len(starts) != 1 or len(ends) != 1:
        return None
    return Day(day, ((starts[0], ends[0]),))


def _plain_stretch(first: date, last: date, tz: ZoneInfo) -> tuple[Day, ...] | None:
    """Every day from `first` to `last` whole, when all of them are plain; else None."""
    days = [_plain_day(first + timedelta(days=n), tz) for n in range((last - first).days + 1)]
    return None if not days or None in days else cast(tuple[Day, ...], tuple(days))


# Reports ask about the same stretches of dates again and again. Those as long as a page (90
# days and a day either side that a clock may add) are cached: at most 1024 x 92 references
# to the days _plain_day holds.
_cached_plain_stretch = lru_cache(maxsize=1 << 10)(_plain_stretch)


def _plain_days(first: date, last: date, tz: ZoneInfo) -> tuple[Day, ...] | None:
    if (last - first).days < 92:
        return _cached_plain_stretch(first, last, tz)
    return _plain_stretch(first, last, tz)


def days_between(start_ms: int, end_ms: int, tz: ZoneInfo) -> list[Day]:
    """Every local day that `[start_ms, end_ms]` (both inclusive) touches, clipped to it,
    ascending and without holes: each instant of the range is in exactly one day's pieces."""
    if end_ms < start_ms:
        return []
    ends = local_date(start_ms, tz), local_date(end_ms, tz)
    # Where every day touched is plain (nearly always), the days are read from a cache and
    # only the two ends are clipped; otherwise every date change is worked out below.
    plain = _plain_days(ends[0], ends[1], tz)
    if plain is not None:
        days = list(plain)
        days[0] = Day(days[0].date, ((start_ms, days[0].pieces[0][1]),))
        days[-1] = Day(days[-1].date, ((days[-1].pieces[0][0], end_ms + 1),))
        return days
    # A clock set back across midnight reaches at most one day past either end's date.
    first, last = _shift(min(ends), -1), _shift(max(ends), 1)
    # Each instant where the date may change, with the date it starts when that is plain:
    # a midnight that happens once begins its own date (None: ask the zone).
    cuts: dict[int, date | None] = {}
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        changes = _date_changes(day, tz)
        for instant in changes:
            if start_ms < instant <= end_ms:
                cuts[instant] = day if len(changes) == 1 else None
    bounds = [start_ms, *sorted(cuts), end_ms + 1]
    pieces: dict[date, list[tuple[int, int]]] = {}
    for lo, hi in pairwise(bounds):
        own = pieces.setdefault(cuts.get(lo) or local_date(lo, tz), [])
        if own and own[-1][1] == lo:
            own[-1] = (own[-1][0], hi)
        else:
            own.append((lo, hi))
    first, last = min(pieces), max(pieces)
    dates = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [Day(d, tuple(pieces.get(d, ()))) for d in dates]


@lru_cache(maxsize=1 << 16)
def whole_day(day: date, tz: ZoneInfo) -> Day:
    """All of local date `day`, unclipped: every piece of it, as days_between lists them
    for a range that covers it and its neighbours."""
    plain = _plain_day(day, tz)
    if plain is not None:
        return plain
    around = days_between(
        max(MIN_MS, day_start_ms(_shift(day, -1), tz)),
        min(MAX_MS, day_start_ms(_shift(day, 2), tz)),
        tz,
    )
    return next((d for d in around if d.date == day), Day(day, ()))


def count_days(start_ms: int, end_ms: int, tz: ZoneInfo) -> int:
    """len(days_between(...)), without listing the days of a very long range."""
    naive = naive_day_count(start_ms, end_ms, tz)
    if naive > 1000:  # far past any limit; a clock set back moves either end by a day at most
        return naive
    return len(days_between(start_ms, end_ms, tz))


def naive_day_count(start_ms: int, end_ms: int, tz: ZoneInfo) -> int:
    """Days from the local date of start to that of end; off by at most one at either end
    where a clock is set back across midnight."""
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


def instant_params(params: Mapping[str, str]) -> tuple[int, int]:
    """A request's start_time and end_time, both required (their order is not checked)."""
    ends = []
    for name in ("start_time", "end_time"):
        text = params.get(name)
        if text is None:
            raise InvalidInput(f"{name}: is required (milliseconds since the Unix epoch)")
        ends.append(parse_instant_param(name, text))
    return ends[0], ends[1]


def range_params(params: Mapping[str, str]) -> tuple[int, int]:
    """instant_params, end not before start."""
    start, end = instant_params(params)
    if end < start:
        raise InvalidInput("end_time: must not be before start_time")
    return start, end


def parse_instant_param(name: str, text: str) -> int:
    """A query parameter holding ms since the epoch as digits, or an RFC 3339 date-time."""
    if text.isascii() and text.isdigit():
        value = text.lstrip("0") or "0"
        if len(value) > 15 or int(value) > MAX_MS:  # the length first: int() of any length
            raise InvalidInput(
                f"{name}: {text!r} is out of range: after the last instant accepted, "
                f"{MAX_MS} ({_iso(MAX_MS)}); send milliseconds since the Unix epoch "
                "(13 digits for today's dates)"
            )
        if len(text) > 15:  # in range, but the rule is on the digits sent
            raise InvalidInput(
                f"{name}: {text!r} has {len(text)} digits; send milliseconds since the Unix "
                "epoch in at most 15 (13 for today's dates; leading zeros count)"
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
        raise InvalidInput(
            f"{name}: {text!r} is out of range; an instant must lie from {_iso(MIN_MS)} "
            f"to {_iso(MAX_MS)}"
        )
    return ms


def _iso(ms: int) -> str:
    """An instant as RFC 3339 in UTC, to the millisecond, for messages."""
    return from_ms(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


BUCKET_MS = 15 * 60 * 1000  # the rollup bucket; every zone's offset since 2000 is a multiple


_DAY_MS = 86_400_000
_Piece = tuple[int, int, int]  # lo, hi, date ordinal: the instants lo <= t < hi are that date
# The pieces of local dates that each UTC day touches, per zone: a backfill's buckets are
# nearly all new, but a UTC day's are read from one entry (cleared when it grows large).
_UTC_DAY_PIECES: dict[tuple[str, int], tuple[_Piece, ...]] = {}
_UTC_DAY_PIECES_MAX = 1 << 16


def bucket_day(bucket: int, tz_name: str) -> int:
    """The local date ordinal of every instant of the 15-minute bucket starting at `bucket`,
    or -1 when a clock change inside the bucket makes them differ: the bucket lies within
    one piece of a whole_day, or it does not."""
    key = (tz_name, bucket // _DAY_MS)
    pieces = _UTC_DAY_PIECES.get(key)
    if pieces is None:
        if not MIN_MS + 3 * _DAY_MS <= bucket <= MAX_MS - 3 * _DAY_MS:
            return _bucket_day_at_the_ends(bucket, tz_name)
        if len(_UTC_DAY_PIECES) >= _UTC_DAY_PIECES_MAX:
            _UTC_DAY_PIECES.clear()
        pieces = _UTC_DAY_PIECES[key] = _utc_day_pieces(key[1], zone(tz_name))
    end = bucket + BUCKET_MS
    for lo, hi, day in pieces:
        if lo <= bucket and end <= hi:
            return day
    return -1


def _utc_day_pieces(utc_day: int, tz: ZoneInfo) -> tuple[_Piece, ...]:
    """Every piece of a local date (whole_day) that meets UTC day `utc_day`. A clock set
    back across midnight reaches at most one date past either end's."""
    start, end = utc_day * _DAY_MS, (utc_day + 1) * _DAY_MS
    first, last = _shift(local_date(start, tz), -1), _shift(local_date(end - 1, tz), 1)
    return tuple(
        (lo, hi, day.toordinal())
        for day in (first + timedelta(days=n) for n in range((last - first).days + 1))
        for lo, hi in whole_day(day, tz).pieces
        if lo < end and start < hi
    )


def _bucket_day_at_the_ends(bucket: int, tz_name: str) -> int:
    """bucket_day within days of the first and last instant accepted, read from the zone."""
    tz = zone(tz_name)
    first, last = from_ms(bucket).astimezone(tz), from_ms(bucket + BUCKET_MS - 1).astimezone(tz)
    if first.date() != last.date() or first.utcoffset() != last.utcoffset():
        return -1
    return first.date().toordinal()


def day_number(ms: int, tz_name: str) -> int:
    """`local_date(ms, zone(tz_name)).toordinal()`, cached per 15-minute bucket."""
    day = bucket_day(ms - ms % BUCKET_MS, tz_name)
    return day if day >= 0 else local_date(ms, zone(tz_name)).toordinal()
