"""The eleven credit categories, in the contract's order, and the eight of the daily bills."""

from __future__ import annotations

from typing import Final

CATEGORIES: Final = (
    "chat",
    "knowledge_doc_indexing",
    "knowledge_doc_storage",
    "rerank",
    "database_processing",
    "tool_call",
    "asr",
    "tts",
)
"""The eight fields of the daily bill endpoints (and of the daily rollup tables)."""

ALL_CATEGORIES: Final = (*CATEGORIES, "anonymization", "question_tag", "moderation")
"""Every category an event may have; an event's category is its index here."""

CATEGORY_INDEX: Final = {name: i for i, name in enumerate(ALL_CATEGORIES)}

# The bill column of each event category: the last three are LLM text calls, counted in chat.
BILL_COLUMN: Final = tuple(
    CATEGORIES.index(name) if name in CATEGORIES else CATEGORIES.index("chat")
    for name in ALL_CATEGORIES
)

STORAGE: Final = CATEGORY_INDEX["knowledge_doc_storage"]  # charged per day: no conversation
MODERATION: Final = CATEGORY_INDEX["moderation"]  # not in GPTBots' run list: no run_id
