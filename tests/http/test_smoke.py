from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import bearer


def test_seed_example(client: TestClient, shanghai: str, ingest_key: str) -> None:
    events = [
        {
            "id": "e1",
            "account_id": "acme",
            "bot_id": "b1",
            "category": "chat",
            "credits": 10,
            "timestamp": 1733011200000,
        },
        {
            "id": "e2",
            "account_id": "acme",
            "bot_id": "b1",
            "category": "knowledge_doc_storage",
            "credits": "0.5",
            "timestamp": "2024-12-01T10:00:00+08:00",
        },
    ]
    answer = client.post("/v1/usage/events", json={"events": events}, headers=bearer(ingest_key))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 2, "duplicates": 0}
    page = client.get(
        "/v1/account/bill/page?page=1&page_size=10&start_time=1732982400000&end_time=1735660799999",
        headers={**bearer(shanghai), "Content-Type": "application/json"},
    )
    assert page.status_code == 200
    assert page.headers["X-Total-Count"] == "31"
    rows = page.json()
    assert len(rows) == 10
    assert rows[0] == {
        "date": "2024-12-01",
        "start_date": "2024-12-01",
        "end_date": "2024-12-01",
        "total": 10.5,
        "chat": 10,
        "knowledge_doc_indexing": 0,
        "knowledge_doc_storage": 0.5,
        "rerank": 0,
        "database_processing": 0,
        "tool_call": 0,
        "asr": 0,
        "tts": 0,
    }
