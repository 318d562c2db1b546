"""Migration 0004_conversations: a store of the eight categories keeps every event and its
bills, and gets the rollups of the conversations it already holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from creditmeter.conversations import CONVERSATIONS
from creditmeter.settings import Settings
from creditmeter.store import conversation_credits as rollups
from creditmeter.store import open_store
from creditmeter.store.dialect import dialect_of
from creditmeter.store.engine import MIGRATIONS, normalize_url
from tests.rollup_check import conversation_mismatches
from tests.support.stores import throwaway_store_url

T = 1_733_011_200_000


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_existing_conversations_are_rolled_up(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "postgres":
        request.getfixturevalue("postgres_database")  # skips without a test server
    with throwaway_store_url(backend, tmp_path) as url:
        engine = create_engine(normalize_url(url))
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, "0002")
            conn.execute(
                text(
                    "INSERT INTO accounts (id, name, timezone, created_at)"
                    " VALUES ('acme', 'Acme', 'UTC', 0)"
                )
            )
            # (id, bot, category, credits, ts, conversation_id); category 2 is storage
            old = [
                ("1", "b1", 0, 5, T + 10, "c1"),
                ("2", "b1", 3, 7, T, "c1"),
                ("3", "b2", 0, 1, T + 5, "c1"),
                ("4", "b1", 2, 9, T + 1, "c2"),
                ("5", "b1", 5, 2, T + 2, None),
            ]
            for event_id, bot, category, credits, ts, conversation in old:
                conn.execute(
                    text(
                        "INSERT INTO usage_events (account_id, event_id, bot_id, category,"
                        " credits, ts, conversation_id) VALUES ('acme', :i, :b, :c, :m, :t, :v)"
                    ),
                    {
                        "i": event_id,
                        "b": bot,
                        "c": category,
                        "m": credits,
                        "t": ts,
                        "v": conversation,
                    },
                )
        engine.dispose()
        store = open_store(Settings(database_url=url))  # migrates to the head
        try:
            with store.read() as conn:
                count = conn.execute(text("SELECT COUNT(*) FROM usage_events")).scalar_one()
                assert count == len(old)
                assert conversation_mismatches(conn, "acme") == 0
            selection = rollups.Selection("acme", None, None, T, T + 10)
            statement = rollups.list_statement(
                dialect_of(store.engine), CONVERSATIONS, selection, limit=10, offset=0
            )
            total, page = rollups.list_rows(store.query(*statement))
            # c1 under b2 created at T+5, c1 under b1 at T (the late rerank); c2 (storage) none
            assert total == 2
            assert [(r[0], r[1]) for r in page] == [("c1", T + 5), ("c1", T)]
            assert tuple(page[1][2:4]) == (5, 0)  # chat 5, anonymization 0
            assert page[1][6] == 7  # rerank
        finally:
            store.dispose()
