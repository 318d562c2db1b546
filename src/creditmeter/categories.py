"""The eight credit categories, in the contract's order (which is also the output order):
the one definition every other list is derived from, or checked against by a test."""

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
]
CATEGORIES: Final[tuple[Category, ...]] = get_args(Category)
CATEGORY_INDEX: Final[dict[str, int]] = {name: i for i, name in enumerate(CATEGORIES)}
# What people read: the dashboard's legend and table.
LABELS: Final[dict[Category, str]] = {
    "chat": "Chat",
    "knowledge_doc_indexing": "Knowledge indexing",
    "knowledge_doc_storage": "Knowledge storage",
    "rerank": "Rerank",
    "database_processing": "Database",
    "tool_call": "Tool calls",
    "asr": "Speech to text",
    "tts": "Text to speech",
}
