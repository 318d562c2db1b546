"""Every list of categories is the one of creditmeter.categories: a copy that drifts fails here."""

from __future__ import annotations

import dataclasses
import typing

from creditmeter.categories import CATEGORIES, LABELS, Category
from creditmeter.client import models
from creditmeter.dashboard import categories as dashboard_categories
from creditmeter.http import schemas
from creditmeter.store.tables import usage_buckets, usage_days

HEAD = {
    "DayRow": ["date", "start_date", "end_date", "total"],
    "BillTotal": ["start_date", "end_date", "total"],
}


def test_the_dashboards_file_is_what_make_categories_writes() -> None:
    assert dashboard_categories.SCRIPT.read_text() == dashboard_categories.script()
    for name in CATEGORIES:
        assert name in dashboard_categories.script()
    dashboard_js = (dashboard_categories.SCRIPT.parent / "dashboard.js").read_text()
    assert not any(f'"{name}"' in dashboard_js for name in CATEGORIES)  # no list of its own


def test_every_category_has_a_label_and_a_colour() -> None:
    assert list(LABELS) == list(CATEGORIES)
    assert list(dashboard_categories.COLORS) == list(CATEGORIES)


def test_the_clients_fields_are_the_categories() -> None:
    for model in (models.DayRow, models.BillTotal):
        fields = [f.name for f in dataclasses.fields(model)]
        assert fields == [*HEAD[model.__name__], *CATEGORIES]
    assert typing.get_type_hints(models.UsageEvent)["category"] == Category


def test_the_served_schemas_fields_are_the_categories() -> None:
    for model in (schemas.DayRow, schemas.BillTotal):
        assert list(model.model_fields) == [*HEAD[model.__name__], *CATEGORIES]
    assert typing.get_args(schemas.UsageEventIn.model_fields["category"].annotation) == CATEGORIES


def test_the_rollup_tables_columns_are_the_categories() -> None:
    for table in (usage_buckets, usage_days):
        assert [c.name for c in table.columns][3:] == list(CATEGORIES)
