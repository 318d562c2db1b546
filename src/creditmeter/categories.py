"""The eleven credit categories, in the contract's order: the one definition every other
list is derived from, or checked against by a test. The daily bills show eight of them
(`CATEGORIES`); the other three are LLM text calls, counted there in chat."""

from __future__ import annotations

from typing import Final, Literal, get_args

Category = Literal[
    "chat",
    "knowledge_doc_indexing",
    "knowledge_doc_storage",
    "rerank",
    "database_processing",
    "tool_call",
    "asr",
    "tts",
    "anonymization",
    "question_tag",
    "moderation",
]
ALL_CATEGORIES: Final[tuple[Category, ...]] = get_args(Category)
"""Every category an event may have; an event's category is its index here."""
CATEGORY_INDEX: Final[dict[str, int]] = {name: i for i, name in enumerate(ALL_CATEGORIES)}

COUNTED_IN_CHAT: Final[frozenset[Category]] = frozenset(
    {"anonymization", "question_tag", "moderation"}
)
CATEGORIES: Final[tuple[Category, ...]] = tuple(
    name for name in ALL_CATEGORIES if name not in COUNTED_IN_CHAT
)
"""The eight fields of the daily bill endpoints (and of the daily rollup tables)."""
BILL_COLUMN: Final[tuple[int, ...]] = tuple(
    CATEGORIES.index("chat" if name in COUNTED_IN_CHAT else name) for name in ALL_CATEGORIES
)
"""The bill column (index in CATEGORIES) of each event category."""

STORAGE: Final = CATEGORY_INDEX["knowledge_doc_storage"]  # charged per day: no conversation
MODERATION: Final = CATEGORY_INDEX["moderation"]  # not in GPTBots' run list: no run_id

# What people read: the dashboard's legend, tables and Conversations view.
LABELS: Final[dict[Category, str]] = {
    "chat": "Chat",
    "knowledge_doc_indexing": "Knowledge indexing",
    "knowledge_doc_storage": "Knowledge storage",
    "rerank": "Rerank",
    "database_processing": "Database",
    "tool_call": "Tool calls",
    "asr": "Speech to text",
    "tts": "Text to speech",
    "anonymization": "Anonymization",
    "question_tag": "Question tags",
    "moderation": "Moderation",
}
