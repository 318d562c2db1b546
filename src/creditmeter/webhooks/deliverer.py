"""The deliverer `creditmeter serve` runs in every worker: it claims due deliveries in the
store (a lease: one process attempts each at a time, and one whose process died is taken
over when the lease ends), sends them signed, records every attempt, and schedules the next
per the retry schedule. It wakes at once when this process commits an alert event (poke),
and polls the store otherwise, for the events other processes wrote."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from anyio import to_thread

from .. import __version__
from ..clock import now_ms
from ..errors import InvalidInput
from ..metrics import Metrics
from ..settings import Settings
from ..store import Store
from ..store import webhooks as sql
from ..store.webhooks import Claimed
from . import schedule, signing
from .addresses import PinnedTransport

LEASE_MS = 60_000  # a delivery whose process died is taken over within this long
POLL_S = 1.0
IN_FLIGHT = 16
EXCERPT = 200  # characters of an answer kept per attempt

log = logging.getLogger("creditmeter.webhooks")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt's result, and what becomes of the delivery."""

    status: int | None
    excerpt: str | None
    state: str
    delay_s: float  # until the next attempt, when still pending
    disable: bool  # 410: the endpoint is disabled


def decide(
    settings: Settings,
    claimed: Claimed,
    status: int | None,
    excerpt: str | None,
    retry_after: float | None,
) -> Outcome:
    """A 2xx is delivered; a 410 fails it and disables the endpoint; anything else is
    retried per the schedule, then failed."""
    if status is not None and 200 <= status < 300:
        return Outcome(status, excerpt, sql.DELIVERED, 0.0, False)
    if status == 410:
        return Outcome(status, excerpt, sql.FAILED, 0.0, True)
    delay = schedule.next_delay(
        settings.webhook_retry_delays, claimed.round_attempts + 1, retry_after, random.random()
    )
    if delay is None:
        return Outcome(status, excerpt, sql.FAILED, 0.0, False)
    return Outcome(status, excerpt, sql.PENDING, delay, False)


class Deliverer:
    """One process's deliverer; run() until cancelled. poke() may be called from any thread."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        metrics: Metrics,
        *,
        in_flight: int = IN_FLIGHT,
        poll_s: float = POLL_S,
        lease_ms: int = LEASE_MS,
    ):
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.in_flight = in_flight
        self.poll_s = poll_s
        self.lease_ms = lease_ms
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def poke(self) -> None:
        """Wakes the deliverer now (a commit wrote events); nothing when it is not running."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()
        self.store.after_outbox.append(self.poke)
        tasks: set[asyncio.Task[None]] = set()
        limits = httpx.Limits(max_connections=self.in_flight, max_keepalive_connections=4)
        try:
            # private addresses refused at every connection, to the address checked
            transport = None if self.settings.webhook_allow_private else PinnedTransport(limits)
            async with httpx.AsyncClient(
                timeout=self.settings.webhook_timeout_s,
                follow_redirects=False,
                limits=limits,
                transport=transport,
            ) as client:
                while True:
                    wake.clear()
                    free = self.in_flight - len(tasks)
                    claimed: list[Claimed] = []
                    if free > 0:
                        try:
                            claimed = await to_thread.run_sync(self._claim, free)
                        except Exception:
                            log.exception("claiming webhook deliveries failed")
                    for one in claimed:
                        task = asyncio.create_task(self._attempt(client, one))
                        tasks.add(task)
                        task.add_done_callback(self._finished(tasks))
                    if claimed and len(claimed) == free:
                        continue  # more may be due
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), self.poll_s)
        finally:
            self.store.after_outbox.remove(self.poke)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            self._wake = None

    def _finished(self, tasks: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            if self._wake is not None:
                self._wake.set()  # a slot is free

        return done

    def _claim(self, limit: int) -> list[Claimed]:
        now = now_ms()
        with self.store.read() as conn:  # no write transaction while nothing is due
            due = sql.next_due(conn)
        if due is None or due > now:
            return []
        with self.store.write() as conn:
            return sql.claim(conn, owner=self.owner, now=now, lease_ms=self.lease_ms, limit=limit)

    async def _attempt(self, client: httpx.AsyncClient, claimed: Claimed) -> None:
        at = now_ms()
        started = time.monotonic()
        status, excerpt, retry_after = await self._send(client, claimed)
        if excerpt is not None:
            excerpt = excerpt.replace(claimed.secret, "[secret]")[:EXCERPT]
        outcome = decide(self.settings, claimed, status, excerpt, retry_after)
        duration_ms = int((time.monotonic() - started) * 1000)
        self.metrics.webhook_attempt(status)
        try:
            kept = await to_thread.run_sync(self._record, claimed, at, outcome, duration_ms)
        except Exception:
            log.exception("recording a webhook attempt failed", extra=_ids(claimed))
            return  # its lease ends, and it is tried again then
        if not kept:
            log.warning("a webhook delivery's lease ended mid-attempt", extra=_ids(claimed))
            return
        self.metrics.webhook_delivery("retried" if outcome.state == sql.PENDING else outcome.state)
        if outcome.state == sql.PENDING and self._loop is not None and self._wake is not None:
            self._loop.call_later(outcome.delay_s, self._wake.set)

    async def _send(
        self, client: httpx.AsyncClient, claimed: Claimed
    ) -> tuple[int | None, str | None, float | None]:
        """(HTTP status or None, the start of the answer or why none, Retry-After seconds)."""
        if claimed.endpoint_status != sql.ENABLED:
            return None, "the endpoint is disabled", None
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_s):
                timestamp = int(time.time())
                headers = signing.headers(
                    event_id=claimed.event_id,
                    secret=claimed.secret,
                    body=claimed.payload,
                    timestamp=timestamp,
                )
                headers["content-type"] = "application/json"
                headers["user-agent"] = f"creditmeter/{__version__} (Standard Webhooks)"
                async with client.stream(
                    "POST", claimed.url, content=claimed.payload.encode(), headers=headers
                ) as answer:
                    start = b""
                    async for chunk in answer.aiter_bytes():
                        start += chunk
                        if len(start) >= EXCERPT * 4:
                            break
                    text = start.decode("utf-8", "replace")
                    after = schedule.retry_after(answer.headers.get("retry-after"), time.time())
                    return answer.status_code, text, after
        except InvalidInput as refused:
            return None, f"refused: {refused.message}", None
        except TimeoutError:
            return None, f"timed out after {self.settings.webhook_timeout_s:g} s", None
        except httpx.HTTPError as error:
            return None, f"{type(error).__name__}: {error}", None
        except Exception as error:  # recorded as a failed attempt, never a delivery stuck
            log.exception("a webhook attempt failed unexpectedly", extra=_ids(claimed))
            return None, f"unexpected: {type(error).__name__}", None

    def _record(self, claimed: Claimed, at: int, outcome: Outcome, duration_ms: int) -> bool:
        with self.store.write() as conn:
            kept = sql.record_attempt(
                conn,
                claimed,
                owner=self.owner,
                at=at,
                status=outcome.status,
                excerpt=outcome.excerpt,
                duration_ms=duration_ms,
                state=outcome.state,
                next_attempt_at=now_ms() + int(outcome.delay_s * 1000),
            )
            if kept and outcome.disable:
                sql.disable_endpoint(conn, claimed.endpoint_id, at, "the endpoint answered 410")
        return kept


def _ids(claimed: Claimed) -> dict[str, str]:
    return {"endpoint_id": claimed.endpoint_id, "event_id": claimed.event_id}
