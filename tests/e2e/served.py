"""The e2e tests' server: `creditmeter serve` over a SQLite file of its own, logging at INFO,
with the accounts and keys a test needs made straight in that file."""

from __future__ import annotations

from pathlib import Path

import pytest

from creditmeter import accounts, keys
from tests.support.server import EXECUTABLE, Server
from tests.support.stores import opened_store


class Served(Server):
    """`creditmeter serve` over `directory`/served.db, logging to `directory`/serve.log."""

    def __init__(self, directory: Path, env: dict[str, str] | None = None):
        if not EXECUTABLE.exists():
            pytest.skip(f"{EXECUTABLE} is not installed")
        self.db = directory / "served.db"
        super().__init__(
            f"sqlite:///{self.db}",
            directory / "serve.log",
            env={"CREDITMETER_LOG_LEVEL": "INFO", **(env or {})},
        )
        self.secrets: list[str] = []  # every key made here; none may ever be logged
        self._platform: dict[str, str] = {}

    def key(self, scope: str, account_id: str | None = None, bot_id: str | None = None) -> str:
        with opened_store(self.database_url) as store:
            token = keys.create_key(
                store=store, scope=scope, account_id=account_id, bot_id=bot_id
            ).token
        self.secrets.append(token)
        return token

    def platform(self, scope: str) -> str:
        """This server's one platform key of `scope` (ingest or admin)."""
        if scope not in self._platform:
            self._platform[scope] = self.key(scope)
        return self._platform[scope]

    def account(self, account_id: str, timezone: str = "UTC") -> None:
        with opened_store(self.database_url) as store:
            accounts.create_account(store=store, account_id=account_id, timezone=timezone)
