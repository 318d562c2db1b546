"""The categories as the dashboard's scripts read them: static/categories.js is written from
here (`make categories`), and a test fails when the file differs from what this writes. It
holds the eight of the daily bills (chart and table) and the fields of the two lists (per
conversation, per run) of the Conversations view."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from ..categories import CATEGORIES, LABELS, Category
from ..conversations import CONVERSATIONS, RUNS

SCRIPT: Final = Path(__file__).parent / "static" / "categories.js"
COLORS: Final[dict[Category, str]] = {
    "chat": "#4e79a7",
    "knowledge_doc_indexing": "#f28e2b",
    "knowledge_doc_storage": "#e15759",
    "rerank": "#76b7b2",
    "database_processing": "#59a14f",
    "tool_call": "#edc948",
    "asr": "#b07aa1",
    "tts": "#ff9da7",
}


def script() -> str:
    """The text of static/categories.js."""
    table = [{"name": c, "label": LABELS[c], "color": COLORS[c]} for c in CATEGORIES]
    lists = {
        kind: {
            "id": listing.id_field,
            "time": listing.time_field,
            "categories": list(listing.categories),
        }
        for kind, listing in (("conversations", CONVERSATIONS), ("runs", RUNS))
    }
    return (
        "/* Written by `make categories` from creditmeter/categories.py: do not edit. */\n"
        f"window.CREDITMETER_CATEGORIES = {json.dumps(table, indent=2)};\n"
        f"window.CREDITMETER_LISTS = {json.dumps(lists, indent=2)};\n"
    )


if __name__ == "__main__":
    SCRIPT.write_text(script())
