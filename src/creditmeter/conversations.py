"""Credits per agent conversation and per workflow run (GPTBots' two analytics lists):
which events belong to which, and each one's rollup. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Final

from .categories import CATEGORY_INDEX, STORAGE, Category
from .events import Event

MAX_RANGE_MS: Final = 30 * 86_400_000  # end_time - start_time at most 30 days


@dataclass(frozen=True, slots=True)
class Listing:
    """One of the two lists: its table, the events' id field, the row's time field and
    its category fields, in the contract's order (then `total`)."""

    table: str
    id_field: str
    time_field: str
    categories: tuple[Category, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.id_field, self.time_field, *self.categories, "total")

    @property
    def columns(self) -> tuple[int, ...]:
        """The event category of each category field."""
        return tuple(CATEGORY_INDEX[name] for name in self.categories)


# GPTBots' order of the lists' fields: every category but knowledge_doc_storage (charged
# per day, in no conversation), which tests/unit/test_categories.py checks.
_FIELDS: Final[tuple[Category, ...]] = (
    "chat",
    "anonymization",
    "asr",
    "tts",
    "rerank",
    "database_processing",
    "tool_call",
    "knowledge_doc_indexing",
    "question_tag",
    "moderation",
)
CONVERSATIONS: Final = Listing(
    "conversation_credits", "conversation_id", "conversation_create_time", _FIELDS
)
RUNS: Final = Listing("run_credits", "run_id", "run_start_time", _FIELDS[:-1])


Key = tuple[str, str, str]  # (account_id, conversation or run id, bot_id)
Rollup = list[int]  # [created_at, last_at, *micro-credits per category field]


def rollups(listing: Listing, events: Iterable[Event]) -> dict[Key, Rollup]:
    """The events' rollups per conversation (run) of `listing`. An event counts in the list
    of the id it carries, when its category is a field of that list (an event stored
    before the rules of ingestion, of knowledge_doc_storage with a conversation_id, counts
    in none)."""
    column_of = {category: 2 + i for i, category in enumerate(listing.columns)}
    id_of = attrgetter(listing.id_field)
    width = 2 + len(listing.categories)
    result: dict[Key, Rollup] = {}
    for event in events:
        thread: str | None = id_of(event)
        if thread is None or event.category == STORAGE:
            continue
        column = column_of.get(event.category)
        if column is None:
            continue
        key = (event.account_id, thread, event.bot_id)
        row = result.get(key)
        if row is None:
            row = result[key] = [event.ts, event.ts, *[0] * (width - 2)]
        else:
            row[0] = min(row[0], event.ts)
            row[1] = max(row[1], event.ts)
        row[column] += event.credits
    return result
