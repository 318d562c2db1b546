"""The hold requests of one process, gathered: a write transaction on one account costs a
commit (an fsync) and, on PostgreSQL, waits for that account's row lock, so requests
decided one transaction each cannot pass a few hundred a second on one account. The
requests that arrive while a group is written wait here, and go together in the next one
(holds.apply_holds), each with its own answer."""

from __future__ import annotations

import asyncio
from functools import partial

from anyio import to_thread

from ..store import Store
from .holds import MAX_GROUP, HoldAsk, Outcome, apply_holds

_Waiting = tuple[HoldAsk, asyncio.Future[Outcome]]


class HoldDesk:
    """On the process's event loop: one group is written at a time (in a worker thread),
    and whatever arrived meanwhile, in arrival order, makes the next."""

    def __init__(self, store: Store):
        self._store = store
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None
        self.groups = 0  # groups written so far (for tests and benchmarks)

    async def ask(self, ask: HoldAsk) -> Outcome:
        """What became of the request once its group is committed; raises a store error."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Outcome] = loop.create_future()
        self._waiting.append((ask, answer))
        writer = self._writer
        if writer is None or writer.done() or writer.get_loop() is not loop:
            self._writer = loop.create_task(self._write_waiting())
        return await answer

    async def _write_waiting(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
            asks = [ask for ask, _ in group]
            try:
                outcomes = await to_thread.run_sync(
                    partial(apply_holds, store=self._store, asks=asks)
                )
            except Exception as failure:  # every request of the group fails with it
                for _, answer in group:
                    if not answer.done():
                        answer.set_exception(failure)
                continue
            self.groups += 1
            for (_, answer), outcome in zip(group, outcomes, strict=True):
                if not answer.done():  # done: its request was cancelled meanwhile
                    answer.set_result(outcome)
