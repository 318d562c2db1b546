"""Daily rollups that follow an account's zone change, rebuilt a chunk of days per write
transaction so that other writers (other accounts' batches on SQLite, this account's on
PostgreSQL) wait for one chunk at most, never for the whole account.

While a rebuild is pending the account is marked (store/day_rebuild.py) and reports sum its
15-minute buckets instead of its daily rollups, so they stay exact throughout. Batches
ingested meanwhile add to the days in the new zone: a day not rebuilt yet is replaced whole
by its chunk later, from buckets that hold those batches too."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from .bills import day_spans
from .categories import CATEGORIES
from .days import day_start_ms, days_between, local_date, zone
from .rollups import BUCKET_MS, Sums
from .store import Store, day_rebuild, revisions, sums

CHUNK_DAYS = 8  # local days rebuilt per write transaction


def rebuild_days(conn: Connection, account_id: str, tz_name: str) -> None:
    """Recomputes all of an account's daily rollups for zone `tz_name` in the open
    transaction: from its buckets and, for any bucket a day boundary cuts, its raw events."""
    dates = _dates(conn, account_id, tz_name)
    if dates is not None:
        rebuild_chunk(conn, account_id, tz_name, *dates)


def follow_zone_change(*, store: Store, account_id: str, version: int) -> bool:
    """Rebuilds the account's daily rollups for zone change `version` (day_rebuild.
    zone_changed), CHUNK_DAYS local days per write transaction, then marks them current.
    False when a later zone change took over (its own rebuild redoes every day)."""
    dates: tuple[int, int] | None = None
    first = 0
    while True:
        with store.write() as conn:
            state = day_rebuild.rebuild_state(conn, account_id)
            if state is None or state.zone_version != version:
                return False
            revisions.bump(conn, [account_id])  # the daily rollups it reads move
            if dates is None:  # the days to replace: those in the new zone and the stored
                dates = _dates(conn, account_id, state.timezone) or (0, -1)
                first = dates[0]
            last = min(dates[1], first + CHUNK_DAYS - 1)
            if first <= last:
                rebuild_chunk(conn, account_id, state.timezone, first, last)
            first = last + 1
            if first > dates[1]:
                day_rebuild.finish(conn, account_id, version)
                return True


def resume_rebuilds(*, store: Store) -> int:
    """Finishes the rebuilds a stopped process left pending; returns how many it finished."""
    with store.read() as conn:
        waiting = day_rebuild.pending(conn)
    return sum(
        follow_zone_change(store=store, account_id=account_id, version=version)
        for account_id, version in waiting
    )


def _dates(conn: Connection, account_id: str, tz_name: str) -> tuple[int, int] | None:
    """The date ordinals to rebuild: every local date in `tz_name` that holds a bucket of the
    account, and every date of its stored daily rollups (in whichever zone they follow)."""
    extent = sums.rollup_range(conn, account_id)
    stored = day_rebuild.stored_day_range(conn, account_id)
    ends = list(stored or ())
    if extent is not None:
        tz = zone(tz_name)
        ends += [local_date(extent[0], tz).toordinal()]
        ends += [local_date(extent[1] + BUCKET_MS - 1, tz).toordinal()]
    return (min(ends), max(ends)) if ends else None


def rebuild_chunk(conn: Connection, account_id: str, tz_name: str, first: int, last: int) -> None:
    """Replaces the account's daily rollups of local dates first..last (ordinals in
    `tz_name`) by the sums of its buckets of those days, and of the raw events of any
    bucket a day boundary cuts."""
    tz = zone(tz_name)
    lo = day_start_ms(date.fromordinal(first), tz)
    days = days_between(lo, day_start_ms(date.fromordinal(last + 1), tz) - 1, tz)
    aligned, raw = day_spans(enumerate(days))
    totals: dict[tuple[int, str], Sums] = {}
    for part in (
        sums.bucket_sums_per_bot(conn, account_id, aligned),
        sums.raw_sums_per_bot(conn, account_id, raw),
    ):
        for key, values in part.items():
            row = totals.setdefault(key, [0] * len(CATEGORIES))
            for c, value in enumerate(values):
                row[c] += value
    rows = [
        (account_id, bot, days[i].date.toordinal(), *v) for (i, bot), v in totals.items() if any(v)
    ]
    day_rebuild.replace_day_range(conn, account_id, first, last, rows)
