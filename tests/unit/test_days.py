"""days.py on its own: local days and their UTC bounds in DST, half- and quarter-hour zones,
zones far from UTC, midnights that a clock skips or repeats; and the instant parameters.

Expected instants are written out as UTC text, or computed here with zoneinfo directly,
never with days.py itself.
"""

from __future__ import annotations

import importlib.resources
import os
import struct
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from itertools import pairwise
from zoneinfo import TZPATH, ZoneInfo, available_timezones

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from creditmeter import days as days_module
from creditmeter.days import (
    MAX_MS,
    MIN_MS,
    Day,
    bucket_day,
    count_days,
    day_start_ms,
    days_between,
    parse_instant_param,
)
from creditmeter.errors import InvalidInput

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = 3_600_000
DAY = 24 * HOUR
QUARTER = 15 * 60_000
ZONES = sorted(available_timezones())


def utc_ms(text: str) -> int:
    """Milliseconds of an ISO date-time written with its offset."""
    return (datetime.fromisoformat(text) - EPOCH) // timedelta(milliseconds=1)


def wall_date(ms: int, tz: ZoneInfo) -> date:
    """The date a wall clock in `tz` shows at `ms`, straight from zoneinfo."""
    return (EPOCH + timedelta(milliseconds=ms)).astimezone(tz).date()


def lengths_in_hours(days: list[Day]) -> list[float]:
    return [sum(hi - lo for lo, hi in day.pieces) / HOUR for day in days]


def one_piece(day: Day) -> tuple[int, int]:
    (piece,) = day.pieces
    return piece


# --- Fixed cases -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_day", "hours"),
    [
        (date(2024, 3, 9), [24, 23, 24]),  # spring forward on 2024-03-10 at 02:00
        (date(2024, 11, 2), [24, 25, 24]),  # fall back on 2024-11-03 at 02:00
    ],
)
def test_new_york_dst_days_have_23_and_25_hours(first_day: date, hours: list[int]) -> None:
    tz = ZoneInfo("America/New_York")
    start = day_start_ms(first_day, tz)
    end = day_start_ms(first_day + timedelta(days=3), tz) - 1
    days = days_between(start, end, tz)
    assert [d.date for d in days] == [first_day + timedelta(days=n) for n in range(3)]
    assert lengths_in_hours(days) == hours
    assert count_days(start, end, tz) == 3


def test_new_york_dst_switch_days_start_at_local_midnight() -> None:
    tz = ZoneInfo("America/New_York")
    assert day_start_ms(date(2024, 3, 10), tz) == utc_ms("2024-03-10T05:00:00+00:00")
    assert day_start_ms(date(2024, 3, 11), tz) == utc_ms("2024-03-11T04:00:00+00:00")
    assert day_start_ms(date(2024, 11, 3), tz) == utc_ms("2024-11-03T04:00:00+00:00")
    assert day_start_ms(date(2024, 11, 4), tz) == utc_ms("2024-11-04T05:00:00+00:00")


@pytest.mark.parametrize(
    ("zone_name", "midnight_utc"),
    [
        ("UTC", "2024-12-01T00:00:00+00:00"),
        ("Asia/Shanghai", "2024-11-30T16:00:00+00:00"),
        ("Asia/Kolkata", "2024-11-30T18:30:00+00:00"),  # +05:30
        ("Asia/Kathmandu", "2024-11-30T18:15:00+00:00"),  # +05:45
        ("Pacific/Kiritimati", "2024-11-30T10:00:00+00:00"),  # +14
        ("Etc/GMT+12", "2024-12-01T12:00:00+00:00"),  # -12: POSIX signs are inverted
    ],
)
def test_fixed_offset_zones_start_their_days_at_local_midnight(
    zone_name: str, midnight_utc: str
) -> None:
    tz = ZoneInfo(zone_name)
    start = utc_ms(midnight_utc)
    assert day_start_ms(date(2024, 12, 1), tz) == start
    # A range from one millisecond before that midnight to one after touches two days.
    days = days_between(start - 1, start + 1, tz)
    assert [d.date for d in days] == [date(2024, 11, 30), date(2024, 12, 1)]
    assert [d.pieces for d in days] == [((start - 1, start),), ((start, start + 2),)]
    # A whole local day is one piece of 24 hours.
    (whole,) = days_between(start, start + DAY - 1, tz)
    assert whole == Day(date(2024, 12, 1), ((start, start + DAY),))


@pytest.mark.parametrize(
    ("zone_name", "day", "transition_utc"),
    [
        ("America/Santiago", date(2024, 9, 8), "2024-09-08T04:00:00+00:00"),
        ("America/Havana", date(2024, 3, 10), "2024-03-10T05:00:00+00:00"),
    ],
)
def test_a_day_whose_midnight_a_dst_gap_skips_starts_at_the_transition(
    zone_name: str, day: date, transition_utc: str
) -> None:
    tz = ZoneInfo(zone_name)
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
    # Check the premise with zoneinfo: 00:00 does not exist that day, 01:00 does.
    assert midnight.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != midnight.replace(
        tzinfo=None
    )
    transition = utc_ms(transition_utc)
    assert wall_date(transition - 1, tz) == day - timedelta(days=1)
    assert (EPOCH + timedelta(milliseconds=transition)).astimezone(tz).hour == 1

    assert day_start_ms(day, tz) == transition
    days = days_between(transition - HOUR, transition + DAY, tz)
    assert [d.date for d in days] == [day - timedelta(days=1), day, day + timedelta(days=1)]
    assert one_piece(days[0])[1] == one_piece(days[1])[0] == transition
    assert lengths_in_hours(days)[1] == 23


def test_a_clock_set_back_across_midnight_repeats_the_end_of_the_day_before() -> None:
    # Until 2011 Newfoundland fell back at 00:01: 2006-10-29 00:00:59.999 NDT was followed
    # by 2006-10-28 23:01 NST, so 23:01-24:00 of the 28th happened twice.
    tz = ZoneInfo("America/St_Johns")
    first_midnight = utc_ms("2006-10-29T00:00:00-02:30")
    transition = utc_ms("2006-10-29T00:01:00-02:30")
    second_midnight = utc_ms("2006-10-29T00:00:00-03:30")
    assert wall_date(transition - 1, tz) == date(2006, 10, 29)
    assert wall_date(transition, tz) == date(2006, 10, 28)
    assert transition % QUARTER != 0  # a day edge off the rollups' 15-minute grid

    start = utc_ms("2006-10-28T00:00:00-02:30")
    end = utc_ms("2006-10-30T00:00:00-03:30") - 1
    days = days_between(start, end, tz)
    assert days == [
        Day(date(2006, 10, 28), ((start, first_midnight), (transition, second_midnight))),
        Day(date(2006, 10, 29), ((first_midnight, transition), (second_midnight, end + 1))),
    ]
    assert day_start_ms(date(2006, 10, 29), tz) == first_midnight
    # From the one minute of the 29th into the repeated hour of the 28th: both days, in
    # date order, each with its own part; before the fix this range had no days at all.
    inside = days_between(first_midnight + 30_000, transition + 30 * 60_000, tz)
    assert inside == [
        Day(date(2006, 10, 28), ((transition, transition + 30 * 60_000 + 1),)),
        Day(date(2006, 10, 29), ((first_midnight + 30_000, transition),)),
    ]
    assert count_days(first_midnight + 30_000, transition + 30 * 60_000, tz) == 2


def test_a_date_a_clock_skips_is_a_day_without_instants() -> None:
    # Samoa crossed the date line: 2011-12-29 23:59:59.999 -10 was followed by
    # 2011-12-31 00:00 +14.
    tz = ZoneInfo("Pacific/Apia")
    jump = utc_ms("2011-12-31T00:00:00+14:00")
    days = days_between(jump - 1, jump, tz)
    assert [(d.date, d.pieces) for d in days] == [
        (date(2011, 12, 29), ((jump - 1, jump),)),
        (date(2011, 12, 30), ()),
        (date(2011, 12, 31), ((jump, jump + 1),)),
    ]
    assert day_start_ms(date(2011, 12, 30), tz) == day_start_ms(date(2011, 12, 31), tz) == jump


def test_a_range_is_never_empty_and_its_extremes_work() -> None:
    for zone_name in ("Pacific/Kiritimati", "Etc/GMT+12", "America/Sitka"):
        tz = ZoneInfo(zone_name)
        for start, end in ((MIN_MS, MIN_MS), (MAX_MS, MAX_MS), (MIN_MS, MIN_MS + 3 * DAY)):
            days = days_between(start, end, tz)
            assert days[0].pieces[0][0] == start
            assert days[-1].pieces[-1][1] == end + 1
    assert days_between(10, 9, ZoneInfo("UTC")) == []
    assert count_days(MIN_MS, MAX_MS, ZoneInfo("UTC")) > 3_000_000  # and quickly


# --- Properties --------------------------------------------------------------------------

Y1900, Y2000 = utc_ms("1900-01-01T00:00:00+00:00"), utc_ms("2000-01-01T00:00:00+00:00")
Y2040, Y2100 = utc_ms("2040-01-01T00:00:00+00:00"), utc_ms("2100-01-01T00:00:00+00:00")


@st.composite
def near_midnight(draw: st.DrawFn) -> tuple[str, int]:
    """A zone and an instant at, or a few ms or minutes around, one of its local midnights."""
    zone_name = draw(st.sampled_from(ZONES))
    day = draw(st.dates(date(1900, 1, 2), date(2100, 1, 1)))
    wall = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone_name))
    midnight = (wall.replace(fold=draw(st.sampled_from([0, 1]))) - EPOCH) // timedelta(
        milliseconds=1
    )
    jitter = draw(st.sampled_from([0, 1, -1, QUARTER, -QUARTER, HOUR, -HOUR, 60_000]))
    return zone_name, midnight + jitter


instants = st.one_of(
    st.integers(Y2000, Y2040), st.integers(Y1900, Y2100), st.integers(MIN_MS, MAX_MS)
)


@st.composite
def ranges(draw: st.DrawFn) -> tuple[str, int, int]:
    """A zone and an inclusive range of up to 100 days, often starting near a midnight."""
    zone_name, start = draw(st.one_of(near_midnight(), st.tuples(st.sampled_from(ZONES), instants)))
    start = min(max(start, MIN_MS), MAX_MS)
    length = draw(st.one_of(st.integers(0, 3 * DAY), st.integers(0, 100 * DAY)))
    return zone_name, start, min(start + length, MAX_MS)


ST_JOHNS_0001 = utc_ms("2006-10-29T00:00:30-02:30")


@given(ranges(), st.integers(0, 2**48))
# Clocks set back across midnight: Newfoundland at 00:01 until 2011, Casey by 3 hours in
# 2010, Sitka by a whole day when Alaska changed hands in 1867.
@example(("America/St_Johns", ST_JOHNS_0001, ST_JOHNS_0001 + HOUR), 0)
@example(("Antarctica/Casey", utc_ms("2010-03-04T12:00:00Z"), utc_ms("2010-03-06T00:00:00Z")), 7)
@example(("America/Sitka", utc_ms("1867-10-17T00:00:00Z"), utc_ms("1867-10-22T00:00:00Z")), 9)
def test_days_partition_the_range_and_match_the_wall_clock(
    case: tuple[str, int, int], where: int
) -> None:
    zone_name, start, end = case
    tz = ZoneInfo(zone_name)
    days = days_between(start, end, tz)

    # Dates ascend one by one, and count_days agrees.
    assert days, "a range always touches a day"
    assert [d.date for d in days] == [days[0].date + timedelta(days=n) for n in range(len(days))]
    assert count_days(start, end, tz) == len(days)
    assert days[0].date <= min(wall_date(start, tz), wall_date(end, tz))
    assert days[-1].date >= max(wall_date(start, tz), wall_date(end, tz))

    # The pieces, in time order, are contiguous and cover [start, end] exactly: each hi is
    # the next lo. (A day has one piece unless a clock was set back across midnight.)
    pieces = sorted((lo, hi, d.date) for d in days for lo, hi in d.pieces)
    assert pieces[0][0] == start
    assert pieces[-1][1] == end + 1
    for (_, hi, _), (lo, _, _) in pairwise(pieces):
        assert hi == lo
    for lo, hi, day in pieces:
        assert lo < hi
        assert wall_date(lo, tz) == day
        assert wall_date(hi - 1, tz) == day
        assert wall_date((lo + hi) // 2, tz) == day
    for (_, _, earlier), (_, _, later) in pairwise(pieces):
        assert earlier != later, "neighbouring pieces of one date would be one piece"

    # Any instant of the range is in the day its wall clock shows.
    t = start + where % (end - start + 1)
    (holder,) = [d for d in days if any(lo <= t < hi for lo, hi in d.pieces)]
    assert holder.date == wall_date(t, tz)


@given(
    st.sampled_from(sorted(days_module.zone_names())),
    st.integers(utc_ms("1900-01-01T00:00:00Z"), utc_ms("2100-01-01T00:00:00Z")),
)
@example("America/St_Johns", ST_JOHNS_0001)  # set back across midnight at 00:01
@example("America/St_Johns", ST_JOHNS_0001 + QUARTER)
@example("Antarctica/Casey", utc_ms("2010-03-04T16:00:00Z"))
@example("Pacific/Apia", utc_ms("2011-12-29T10:00:00Z"))  # skipped 2011-12-30 altogether
@example("Europe/Berlin", utc_ms("2024-03-31T01:00:00Z"))  # an offset change within a date
@example("Africa/Monrovia", utc_ms("1972-01-07T00:44:00Z"))  # -00:44:30 to UTC
@settings(deadline=None)  # a UTC day's 96 buckets, 31 instants each
def test_a_buckets_day_is_the_date_of_every_instant_in_it(zone_name: str, ms: int) -> None:
    # Every bucket of the UTC day around `ms`: its day is the date each of its instants shows
    # (checked every 30 s and at both ends), or -1 when they differ.
    tz = ZoneInfo(zone_name)
    first = ms - ms % DAY
    for bucket in range(first, first + DAY, QUARTER):
        day = bucket_day(bucket, zone_name)
        instants = [*range(bucket, bucket + QUARTER, 30_000), bucket + QUARTER - 1]
        dates = {wall_date(t, tz).toordinal() for t in instants}
        if day >= 0:
            assert dates == {day}, (bucket, day)
        else:
            assert len(dates) > 1, bucket


@given(st.sampled_from(ZONES), st.dates(date(1900, 1, 2), date(2100, 1, 1)))
@example("America/St_Johns", date(2006, 10, 29))
@example("America/Santiago", date(2024, 9, 8))
@example("Pacific/Apia", date(2011, 12, 30))
def test_day_start_is_where_the_date_begins(zone_name: str, day: date) -> None:
    tz = ZoneInfo(zone_name)
    start = day_start_ms(day, tz)
    assert wall_date(start, tz) >= day  # == unless the clock skips the date
    assert wall_date(start - 1, tz) < day
    # The same edge as the day list's.
    days = days_between(start - 1, start, tz)
    assert days[-1].pieces[0][0] == start or not days[-1].pieces


# --- Which zones keep day edges on the rollups' 15-minute grid ---------------------------


def _tzif(name: str) -> bytes:
    """The TZif file zoneinfo reads for `name` (TZPATH first, then the tzdata package)."""
    for root in TZPATH:
        path = os.path.join(root, name)
        if os.path.isfile(path):
            with open(path, "rb") as file:
                return file.read()
    return importlib.resources.files("tzdata.zoneinfo").joinpath(name).read_bytes()


def _explicit_transitions(name: str) -> list[int]:
    """The transition instants (s) of the 64-bit block of a TZif file (RFC 8536)."""
    data = _tzif(name)
    assert data[:4] == b"TZif", name
    assert data[4:5] >= b"2", name  # version 2+ has the 64-bit block

    def counts(at: int) -> tuple[int, ...]:
        return struct.unpack(">6l", data[at + 20 : at + 44])

    isut, isstd, leap, timecnt, typecnt, charcnt = counts(0)
    v2 = 44 + timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut
    timecnt = counts(v2)[3]
    return list(struct.unpack(f">{timecnt}q", data[v2 + 44 : v2 + 44 + 8 * timecnt]))


def _offset_s(seconds: int, tz: ZoneInfo) -> int:
    offset = (EPOCH + timedelta(seconds=seconds)).astimezone(tz).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


@cache
def _transitions_2000_2040(name: str) -> tuple[tuple[int, int, int], ...]:
    """(instant s, offset before, offset after) of each change between 2000 and 2040.

    The TZif file lists transitions up to some year; after it zoneinfo follows the file's
    POSIX rule, which repeats every year, so one year of it (sampled daily: no DST period
    is shorter than a day) shows every offset and time of day the rule has.
    """
    tz = ZoneInfo(name)
    lo, hi = Y2000 // 1000, Y2040 // 1000
    found = [t for t in _explicit_transitions(name) if lo < t <= hi]
    rule_from = max([lo, *_explicit_transitions(name)])
    for day in range(min(366, max(0, (hi - rule_from) // 86_400))):
        a, b = rule_from + day * 86_400, rule_from + (day + 1) * 86_400
        if _offset_s(a, tz) != _offset_s(b, tz):
            while b - a > 1:
                mid = (a + b) // 2
                a, b = (mid, b) if _offset_s(mid, tz) == _offset_s(a, tz) else (a, mid)
            found.append(b)
    return tuple((t, _offset_s(t - 1, tz), _offset_s(t, tz)) for t in sorted(found))


def test_offsets_since_2000_are_quarter_hours_and_which_day_edges_are_not() -> None:
    """Local midnights fall on 15-minute UTC edges when offsets are whole quarter hours;
    the rollups rely on it only for speed, since bills.py reads unaligned day edges from
    the raw events. This lists the exceptions so that the oracle test covers them."""
    off_grid_offsets: set[str] = set()
    off_grid_edges: set[str] = set()
    for name in ZONES:
        tz = ZoneInfo(name)
        start = Y2000 // 1000
        changes = _transitions_2000_2040(name)
        if any(o % 900 for o in [_offset_s(start, tz), *(after for _, _, after in changes)]):
            off_grid_offsets.add(name)
        for instant, before, after in changes:
            wall_before = datetime.fromtimestamp(instant - 1, UTC) + timedelta(seconds=before)
            wall_after = datetime.fromtimestamp(instant, UTC) + timedelta(seconds=after)
            if wall_before.date() != wall_after.date() and instant % 900:
                off_grid_edges.add(name)  # the transition itself begins a day
    assert off_grid_offsets == set()
    # Newfoundland and New Brunswick-area zones changed clocks at 00:01 local until 2011:
    # those day edges are one minute off the grid (tests/http/test_oracle.py uses St_Johns).
    assert off_grid_edges == {
        "America/Goose_Bay",
        "America/Moncton",
        "America/St_Johns",
        "Canada/Newfoundland",
    }


# --- parse_instant_param ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1732982400000", 1732982400000),
        ("0", 0),
        ("0000000000001", 1),
        (str(MAX_MS), MAX_MS),
        ("2024-12-01T00:00:00Z", 1733011200000),
        ("2024-12-01t00:00:00z", 1733011200000),
        ("2024-12-01T08:00:00+08:00", 1733011200000),
        ("2024-11-30T19:00:00-05:00", 1733011200000),
        ("2024-12-01T05:45:00+05:45", 1733011200000),
        ("2024-12-01T00:00:00.5Z", 1733011200500),
        ("2024-12-01T00:00:00.05Z", 1733011200050),
        ("2024-12-01T00:00:00.123+00:00", 1733011200123),
        ("2024-12-01T00:00:00-00:00", 1733011200000),
        ("1969-12-31T23:59:59.999Z", -1),
    ],
)
def test_parse_instant_param_accepts(text: str, expected: int) -> None:
    assert parse_instant_param("start_time", text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2024-12-01T00:00:00.1234Z",  # four fraction digits: finer than a millisecond
        "2024-12-01T00:00:00.000000Z",
        "2024-12-01T00:00:00 08:00",  # an unencoded '+' that became a space
        "2024-12-01 00:00:00Z",
        " 1732982400000",
        "1732982400000 ",
        "17329 82400000",
        "-1",
        "+1732982400000",
        "-1732982400000",
        "1" * 20,
        "1" * 16,
        str(MAX_MS + 1),
        "1732982400000.5",
        "1.7e12",
        "0x1F",
        "",
        "now",
        "2024-12-01",
        "2024-12-01T00:00:00",  # no offset
        "2024-12-01T00:00Z",  # no seconds
        "2024-02-30T00:00:00Z",
        "2024-12-01T24:00:00Z",
        "2024-12-01T00:00:00+24:00",
        "2024-12-01T00:00:00+0800",
        "\uff12\uff10\uff12\uff14-12-01T00:00:00Z",  # full-width digits
        "\u0661\u0667\u0663\u0662\u0669\u0668\u0662\u0664\u0660\u0660\u0660\u0660\u0660",
        "1732982400000\n",
    ],
)
@pytest.mark.parametrize("name", ["start_time", "end_time"])
def test_parse_instant_param_rejects_naming_the_parameter(name: str, text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_instant_param(name, text)
    assert caught.value.code == 40000
    assert caught.value.message.startswith(f"{name}: ")


def test_an_unencoded_plus_gets_a_hint() -> None:
    with pytest.raises(InvalidInput, match="%2B"):
        parse_instant_param("end_time", "2024-12-01T08:00:00 08:00")


@given(st.integers(0, MAX_MS))
def test_milliseconds_round_trip(ms: int) -> None:
    assert parse_instant_param("start_time", str(ms)) == ms


@given(
    st.integers(utc_ms("0001-01-03T00:00:00+00:00"), utc_ms("9999-12-20T00:00:00+00:00")),
    st.integers(-(23 * 60 + 59), 23 * 60 + 59),
    st.booleans(),
)
def test_rfc3339_round_trips(ms: int, offset_minutes: int, zulu: bool) -> None:
    offset = timedelta(minutes=0 if zulu else offset_minutes)
    moment = (EPOCH + timedelta(milliseconds=ms)).astimezone(timezone(offset))
    text = moment.isoformat(timespec="milliseconds")
    if zulu:
        text = text.replace("+00:00", "Z")
    assert parse_instant_param("start_time", text) == ms


@given(ranges())
@example(("America/St_Johns", ST_JOHNS_0001 - DAY, ST_JOHNS_0001 + HOUR))
@example(("Pacific/Apia", utc_ms("2011-12-28T00:00:00Z"), utc_ms("2012-01-02T00:00:00Z")))
def test_the_cached_plain_days_equal_the_worked_out_ones(case: tuple[str, int, int]) -> None:
    zone_name, start, end = case
    tz = ZoneInfo(zone_name)
    fast = days_between(start, end, tz)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(days_module, "_plain_days", lambda *_: None)
        worked_out = days_between(start, end, tz)
    assert fast == worked_out
