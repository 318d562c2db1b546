"""A batch on its way to the store: made ready before the write turn, then its fate.

The conflict rule lives here once: two events with the same key (account_id, event_id)
conflict when their content differs (`conflicting`); a batch with a conflict is refused
whole (`refuse_conflicts`)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter

from .. import rollups
from ..errors import Conflict, InvalidInput
from ..events import MAX_BATCH, Event

Key = tuple[str, str]  # an event's (account_id, event_id)

KEY = itemgetter(0, 1)  # an Event's (account_id, event_id)
BOT = itemgetter(0, 2)  # and its (account_id, bot_id)

MAX_GROUP_EVENTS = 8 * MAX_BATCH  # the most events written in one transaction

# A Prepared as plain data for the pipe to the writer process: its fields, events as tuples.
PlainPrepared = tuple[
    int,
    frozenset[str],
    frozenset[Key],
    list[tuple[object, ...]],
    frozenset[tuple[str, str]],
    rollups.Rollups,
    Mapping[Key, str],
]


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    duplicates: int
    alerts: int = 0  # balance alert events the batch wrote (webhooks.outbox)


def conflicting(sent: Event, stored: Event) -> bool:
    """Two events of the same key conflict when their content differs (same key: comparing
    the whole tuples compares their content)."""
    return sent != stored


@dataclass(frozen=True, slots=True)
class Prepared:
    """A batch made ready to write before the write turn: its size and accounts, the keys it
    repeats with other content (in the batch, or among `earlier`, events found stored), and
    its events not found stored, in key order, with their bots and their rollups; and the
    hold each event names (its hold_id, by event key: credits.settlement reads them)."""

    size: int
    accounts: frozenset[str]
    conflicts: frozenset[Key]
    new: Sequence[Event]
    bots: frozenset[tuple[str, str]]
    buckets: rollups.Rollups
    holds: Mapping[Key, str]

    @classmethod
    def of(
        cls,
        batch: Sequence[Event],
        earlier: dict[Key, Event],
        keys: Sequence[Key] | None = None,
        *,
        holds: Mapping[Key, str] | None = None,
    ) -> Prepared:
        """`keys`: the batch's keys, if already at hand."""
        conflicts: set[Key] = set()
        sent = dict(zip(map(KEY, batch) if keys is None else keys, batch, strict=True))
        if len(sent) < len(batch):  # the first of each id, and the repeats that differ
            sent = {}
            for event in batch:
                if conflicting(event, sent.setdefault(event.key, event)):
                    conflicts.add(event.key)
        for key, stored in earlier.items():
            if conflicting(sent.pop(key), stored):
                conflicts.add(key)
        # in key order, as insert_new writes them (sorting again is cheap)
        new = sorted(sent.values())
        accounts = frozenset(e.account_id for e in batch)
        bots = frozenset(map(BOT, new))
        buckets = rollups.bucket_rollups(new)
        return cls(
            len(batch), accounts, frozenset(conflicts), new, bots, buckets, dict(holds or {})
        )

    def as_tuple(self) -> PlainPrepared:
        """Plain data, which pickles fast: the events as tuples, not Events."""
        return (
            self.size,
            self.accounts,
            self.conflicts,
            list(map(tuple, self.new)),
            self.bots,
            self.buckets,
            self.holds,
        )

    @classmethod
    def from_tuple(cls, plain: PlainPrepared) -> Prepared:
        size, accounts, conflicts, new, bots, buckets, holds = plain
        return cls(size, accounts, conflicts, list(map(Event._make, new)), bots, buckets, holds)


@dataclass(slots=True)
class PendingBatch:
    """A batch waiting for its write turn, and then what became of it."""

    prepared: Prepared
    done: bool = False
    result: IngestResult | None = None
    error: BaseException | None = None


class UnknownAccounts(InvalidInput):
    """Raised in the write turn when accounts of a batch do not exist; Ingestion words the
    error with the batch's events (refuse_unknown_accounts)."""

    def __init__(self, accounts: frozenset[str]):
        super().__init__(f"unknown accounts: {', '.join(sorted(accounts))}")
        self.accounts = accounts

    def __reduce__(self) -> tuple[type[UnknownAccounts], tuple[frozenset[str]]]:
        return (UnknownAccounts, (self.accounts,))


def refuse_unknown_accounts(batch: Sequence[Event], unknown: Collection[str]) -> InvalidInput:
    errors = [
        {"index": i, "field": "account_id", "message": f"account {e.account_id!r} does not exist"}
        for i, e in enumerate(batch)
        if e.account_id in unknown
    ]
    return InvalidInput(
        f"{len(errors)} of {len(batch)} events name an unknown account and nothing was "
        f"stored; first: events[{errors[0]['index']}].account_id {errors[0]['message']}",
        errors=errors,
    )


def refuse_conflicts(keys: Iterable[Key]) -> Conflict:
    ids = sorted(event_id for _, event_id in keys)
    shown = ", ".join(repr(i) for i in ids[:10]) + (" ..." if len(ids) > 10 else "")
    return Conflict(
        f"{len(ids)} event id(s) reused with different content, nothing of this batch was "
        f"stored: {shown}",
        ids=ids,
    )
