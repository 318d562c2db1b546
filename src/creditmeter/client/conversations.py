"""The client's side of the two analytics lists: their rows as typed values, and the plan
that reads every page of one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .calls import Call, Plan, instant_ms, read_json

CONVERSATIONS = "/v1/account/agent/conversation/credits"
RUNS = "/v1/account/workflow/run/credits"
_FIELDS = (
    "chat",
    "anonymization",
    "asr",
    "tts",
    "rerank",
    "database_processing",
    "tool_call",
    "knowledge_doc_indexing",
    "question_tag",
)


def _credits(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise TypeError(f"credits must be a JSON number, not {value!r}")
    return Decimal(value)


@dataclass(frozen=True, slots=True)
class ConversationCredits:
    """One row of `GET /v1/account/agent/conversation/credits`."""

    conversation_id: str
    conversation_create_time: int
    chat: Decimal
    anonymization: Decimal
    asr: Decimal
    tts: Decimal
    rerank: Decimal
    database_processing: Decimal
    tool_call: Decimal
    knowledge_doc_indexing: Decimal
    question_tag: Decimal
    moderation: Decimal
    total: Decimal

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> ConversationCredits:
        return cls(
            conversation_id=row["conversation_id"],
            conversation_create_time=int(row["conversation_create_time"]),
            **{name: _credits(row[name]) for name in (*_FIELDS, "moderation", "total")},
        )


@dataclass(frozen=True, slots=True)
class RunCredits:
    """One row of `GET /v1/account/workflow/run/credits`."""

    run_id: str
    run_start_time: int
    chat: Decimal
    anonymization: Decimal
    asr: Decimal
    tts: Decimal
    rerank: Decimal
    database_processing: Decimal
    tool_call: Decimal
    knowledge_doc_indexing: Decimal
    question_tag: Decimal
    total: Decimal

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> RunCredits:
        return cls(
            run_id=row["run_id"],
            run_start_time=int(row["run_start_time"]),
            **{name: _credits(row[name]) for name in (*_FIELDS, "total")},
        )


def _params(
    start: datetime | int,
    end: datetime | int,
    id_field: str,
    thread_id: str | None,
    bot_id: str | None,
    account_id: str | None,
) -> list[tuple[str, str]]:
    params = [
        ("start_time", str(instant_ms(start, None, end=False))),
        ("end_time", str(instant_ms(end, None, end=True))),
    ]
    for name, value in ((id_field, thread_id), ("bot_id", bot_id), ("account_id", account_id)):
        if value is not None:
            params.append((name, value))
    return params


def conversation_credits(
    start: datetime | int,
    end: datetime | int,
    conversation_id: str | None,
    bot_id: str | None,
    account_id: str | None,
    page_size: int,
) -> Plan[list[ConversationCredits]]:
    params = _params(start, end, "conversation_id", conversation_id, bot_id, account_id)
    rows = yield from _every_page(CONVERSATIONS, params, page_size)
    return [ConversationCredits.from_json(row) for row in rows]


def run_credits(
    start: datetime | int,
    end: datetime | int,
    run_id: str | None,
    bot_id: str | None,
    account_id: str | None,
    page_size: int,
) -> Plan[list[RunCredits]]:
    params = _params(start, end, "run_id", run_id, bot_id, account_id)
    rows = yield from _every_page(RUNS, params, page_size)
    return [RunCredits.from_json(row) for row in rows]


def _every_page(
    path: str, params: list[tuple[str, str]], page_size: int
) -> Plan[list[Mapping[str, Any]]]:
    """Every row of the list, page after page, until the top-level `total` is reached (or
    a page comes back short, if rows were added meanwhile)."""
    rows: list[Mapping[str, Any]] = []
    page = 1
    while True:
        query = (*params, ("page", str(page)), ("page_size", str(page_size)))
        body = read_json((yield Call("GET", path, query)))
        rows.extend(body["list"])
        if page * page_size >= int(body["total"]) or len(body["list"]) < page_size:
            return rows
        page += 1
