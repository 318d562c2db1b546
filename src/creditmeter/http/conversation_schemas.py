"""The documented shape of the two analytics lists (per conversation, per workflow run)."""

from __future__ import annotations

import builtins

from pydantic import BaseModel, Field

from .schemas import Credits


class ConversationRow(BaseModel):
    conversation_id: str
    conversation_create_time: int = Field(description="Its earliest event, ms since the epoch.")
    chat: Credits
    anonymization: Credits
    asr: Credits
    tts: Credits
    rerank: Credits
    database_processing: Credits
    tool_call: Credits
    knowledge_doc_indexing: Credits
    question_tag: Credits
    moderation: Credits
    total: Credits = Field(description="Exact sum of the row's fields.")


class RunRow(BaseModel):
    run_id: str
    run_start_time: int = Field(description="Its earliest event, ms since the epoch.")
    chat: Credits
    anonymization: Credits
    asr: Credits
    tts: Credits
    rerank: Credits
    database_processing: Credits
    tool_call: Credits
    knowledge_doc_indexing: Credits
    question_tag: Credits
    total: Credits = Field(description="Exact sum of the row's fields.")


class ConversationList(BaseModel):
    list: builtins.list[ConversationRow] = Field(description="Newest first; ties by id, ascending.")
    total: int = Field(description="How many conversations were created in the whole range.")
    page: int
    page_size: int
    start_time: int = Field(description="The request's start_time, in ms.")
    end_time: int = Field(description="The request's end_time, in ms.")


class RunList(BaseModel):
    list: builtins.list[RunRow] = Field(description="Newest first; ties by id, ascending.")
    total: int = Field(description="How many runs started in the whole range.")
    page: int
    page_size: int
    start_time: int = Field(description="The request's start_time, in ms.")
    end_time: int = Field(description="The request's end_time, in ms.")
