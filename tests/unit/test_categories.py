"""Every list of categories is the one of creditmeter.categories: a copy that drifts fails here."""

from __future__ import annotations

import dataclasses
import typing

from creditmeter.categories import (
    ALL_CATEGORIES,
    BILL_COLUMN,
    CATEGORIES,
    CATEGORY_INDEX,
    COUNTED_IN_CHAT,
    LABELS,
    Category,
)
from creditmeter.client import conversations as client_conversations
from creditmeter.client import models
from creditmeter.conversations import CONVERSATIONS, RUNS
from creditmeter.dashboard import categories as dashboard_categories
from creditmeter.http import conversation_schemas, schemas
from creditmeter.store.tables import conversation_credits, run_credits, usage_buckets, usage_days

HEAD = {
    "DayRow": ["date", "start_date", "end_date", "total"],
    "BillTotal": ["start_date", "end_date", "total"],
}


def test_the_eleven_and_the_eight_bill_columns() -> None:
    # PRODUCT.md's order: the eight of the daily bills, then the three counted in chat
    assert len(ALL_CATEGORIES) == 11
    assert ALL_CATEGORIES[: len(CATEGORIES)] == CATEGORIES
    assert set(ALL_CATEGORIES[len(CATEGORIES) :]) == COUNTED_IN_CHAT
    assert list(CATEGORY_INDEX) == list(ALL_CATEGORIES)
    chat = CATEGORIES.index("chat")
    for name, column in zip(ALL_CATEGORIES, BILL_COLUMN, strict=True):
        assert column == (chat if name in COUNTED_IN_CHAT else CATEGORIES.index(name))


def test_the_dashboards_file_is_what_make_categories_writes() -> None:
    assert dashboard_categories.SCRIPT.read_text() == dashboard_categories.script()
    for name in ALL_CATEGORIES:
        assert name in dashboard_categories.script()
    static = dashboard_categories.SCRIPT.parent
    for script in ("dashboard.js", "conversations.js", "credits.js"):  # no list of their own
        text = (static / script).read_text()
        assert not any(f'"{name}"' in text for name in ALL_CATEGORIES), script


def test_every_category_has_a_label_and_every_bill_column_a_colour() -> None:
    assert list(LABELS) == list(ALL_CATEGORIES)
    assert list(dashboard_categories.COLORS) == list(CATEGORIES)


def test_the_lists_fields_are_the_categories_but_storage() -> None:
    # GPTBots' own order of fields; storage is charged per day, in no conversation
    assert set(CONVERSATIONS.categories) == set(ALL_CATEGORIES) - {"knowledge_doc_storage"}
    assert len(CONVERSATIONS.categories) == len(set(CONVERSATIONS.categories))
    assert RUNS.categories == tuple(c for c in CONVERSATIONS.categories if c != "moderation")


def test_the_clients_fields_are_the_categories() -> None:
    for model in (models.DayRow, models.BillTotal):
        fields = [f.name for f in dataclasses.fields(model)]
        assert fields == [*HEAD[model.__name__], *CATEGORIES]
    assert typing.get_type_hints(models.UsageEvent)["category"] == Category
    for row, listing in (
        (client_conversations.ConversationCredits, CONVERSATIONS),
        (client_conversations.RunCredits, RUNS),
    ):
        assert [f.name for f in dataclasses.fields(row)] == list(listing.fields)


def test_the_served_schemas_fields_are_the_categories() -> None:
    for model in (schemas.DayRow, schemas.BillTotal):
        assert list(model.model_fields) == [*HEAD[model.__name__], *CATEGORIES]
    category = schemas.UsageEventIn.model_fields["category"].annotation
    assert typing.get_args(category) == ALL_CATEGORIES
    for row, listing in (
        (conversation_schemas.ConversationRow, CONVERSATIONS),
        (conversation_schemas.RunRow, RUNS),
    ):
        assert list(row.model_fields) == list(listing.fields)


def test_the_rollup_tables_columns_are_the_categories() -> None:
    for table in (usage_buckets, usage_days):
        assert [c.name for c in table.columns][3:] == list(CATEGORIES)
    for table, listing in ((conversation_credits, CONVERSATIONS), (run_credits, RUNS)):
        assert [c.name for c in table.columns][5:] == list(listing.categories)
