"""The eight credit categories, in the contract's order (which is also the output order)."""

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
CATEGORY_INDEX: Final = {name: i for i, name in enumerate(CATEGORIES)}
