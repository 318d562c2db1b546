"""A list's count is read in pieces (whole UTC days, whole hours, the rest from the page
index): they must cover the asked range [start, end] exactly once, at every ms-exact edge,
with days and hours aligned to their spans."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from creditmeter.store.conversation_credits import (
    DAY_MS,
    HOUR_MS,
    CountPieces,
    Selection,
    count_pieces,
)

T = 1_733_011_200_000  # a UTC midnight
# Near whole days and hours as well as anywhere: the edges the pieces are cut at.
instants = st.one_of(
    st.integers(T - 40 * DAY_MS, T + 40 * DAY_MS),
    st.builds(
        lambda d, h, ms: T + d * DAY_MS + h * HOUR_MS + ms,
        st.integers(-40, 40),
        st.integers(0, 23),
        st.sampled_from([-1, 0, 1]),
    ),
)


def _ranges(pieces: CountPieces) -> list[tuple[int, int]]:
    return [r for r in (pieces.days, *pieces.hours, *pieces.edges) if r[0] < r[1]]


@given(instants, st.integers(0, 30 * DAY_MS), st.booleans())
def test_the_pieces_cover_the_range_once(start: int, length: int, one_id: bool) -> None:
    end = start + length
    pieces = count_pieces(Selection("a", None, "c1" if one_id else None, start, end))
    ranges = sorted(_ranges(pieces))
    covered = [start]
    for lo, hi in ranges:
        assert lo == covered[-1]  # no gap, no overlap
        covered.append(hi)
    assert covered[-1] == end + 1
    days_lo, days_hi = pieces.days
    if days_lo < days_hi:
        assert days_lo % DAY_MS == days_hi % DAY_MS == 0
    for lo, hi in pieces.hours:
        if lo < hi:
            assert lo % HOUR_MS == hi % HOUR_MS == 0
    whole_hours = any(lo < hi for lo, hi in (pieces.days, *pieces.hours))
    for lo, hi in pieces.edges:
        if lo < hi and not one_id:
            # only parts of an hour are counted in the index: at each end of the whole
            # hours, or the two parts of a range that holds no whole hour
            assert hi - lo < (HOUR_MS if whole_hours else 2 * HOUR_MS)
    if one_id:
        assert ranges == [(start, end + 1)]  # the counts do not tell one id's


def test_a_month_reads_whole_days_and_the_hours_at_its_ends() -> None:
    start, end = T - 5 * HOUR_MS - 7, T + 30 * DAY_MS - 2 * HOUR_MS + 3
    pieces = count_pieces(Selection("a", None, None, start, end))
    assert pieces.days == (T, T + 29 * DAY_MS)
    assert pieces.hours == ((T - 5 * HOUR_MS, T), (T + 29 * DAY_MS, T + 30 * DAY_MS - 2 * HOUR_MS))
    assert pieces.edges == ((start, T - 5 * HOUR_MS), (T + 30 * DAY_MS - 2 * HOUR_MS, end + 1))
