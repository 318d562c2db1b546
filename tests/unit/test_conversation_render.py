"""A list page's JSON as written: the contract's field order, exact decimals, ids quoted as
json.dumps quotes them, and a row's text reused only for the same row of the same list."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from creditmeter.conversation_render import WrittenListRows, list_json
from creditmeter.conversations import CONVERSATIONS, RUNS, Listing


def _page(written: WrittenListRows, listing: Listing, rows: list[tuple[Any, ...]]) -> Any:
    body = list_json(
        listing,
        rows,
        written,
        total=7,
        page=2,
        page_size=3,
        start=10,
        end=20,
    )
    return json.loads(body, parse_float=Decimal)


def test_rows_in_the_contracts_order_with_exact_figures() -> None:
    credits = (1_500_000, 0, 1, 10**12, 300_000, 0, 0, 0, 2, 7_000_100)
    odd_id = 'say "hi" \\ back'
    answer = _page(WrittenListRows(), CONVERSATIONS, [(odd_id, 15, *credits)])
    figures: dict[str, Any] = {
        name: Decimal(n).scaleb(-6)
        for name, n in zip(CONVERSATIONS.categories, credits, strict=True)
    }
    row = {"conversation_id": odd_id, "conversation_create_time": 15, **figures}
    assert answer == {
        "list": [{**row, "total": Decimal(sum(credits)).scaleb(-6)}],
        "total": 7,
        "page": 2,
        "page_size": 3,
        "start_time": 10,
        "end_time": 20,
    }
    assert list(answer["list"][0]) == list(CONVERSATIONS.fields)


def test_a_rows_text_is_reused_only_for_the_same_row_of_the_same_list() -> None:
    written = WrittenListRows()
    row = ("r1", 5, *range(1, len(RUNS.categories) + 1))
    runs = _page(written, RUNS, [row])
    again = _page(written, RUNS, [row])
    assert runs == again
    assert list(runs["list"][0]) == list(RUNS.fields)
    # the same figures in the other list are written with its own fields
    conversation = ("r1", 5, *range(1, len(CONVERSATIONS.categories) + 1))
    other = _page(written, CONVERSATIONS, [conversation])
    assert list(other["list"][0]) == list(CONVERSATIONS.fields)
    changed = _page(written, RUNS, [("r1", 5, *range(2, len(RUNS.categories) + 2))])
    assert changed["list"][0]["chat"] == Decimal("0.000002")


def test_a_full_cache_is_cleared_and_keeps_writing_right() -> None:
    written = WrittenListRows()
    written.MAX = 4
    rows = [(f"c{i}", i, *[i] * len(CONVERSATIONS.categories)) for i in range(10)]
    for row in rows:
        _page(written, CONVERSATIONS, [row])
    answer = _page(written, CONVERSATIONS, rows)
    assert [r["conversation_create_time"] for r in answer["list"]] == list(range(10))
    assert [r["total"] for r in answer["list"]] == [
        Decimal(i * len(CONVERSATIONS.categories)).scaleb(-6) for i in range(10)
    ]
