"""`Client` and `AsyncClient`: the same verbs, over httpx, with retries."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

import httpx

from .. import __version__
from . import calls, conversations
from .calls import Call, EventLike, Instant, Plan, RetryPolicy, T
from .conversations import ConversationCredits, RunCredits
from .credits import AsyncCreditVerbs, CreditVerbs
from .errors import error_from, retry_after
from .models import Account, BillTotal, DayRow, IngestResult, Key, NewKey
from .webhooks import AsyncWebhookVerbs, WebhookVerbs

_DEFAULT_RETRY = RetryPolicy()


def _options(api_key: str, timeout: float) -> dict[str, Any]:
    return {
        "headers": {
            "Authorization": f"Bearer {api_key}",
            "User-Agent": f"creditmeter-client/{__version__}",
            "Accept": "application/json",
        },
        "timeout": timeout,
    }


def _request(http: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
    headers = {"X-Request-Id": uuid.uuid4().hex}  # a new id per attempt, to find it in logs
    if call.body is not None:
        headers["Content-Type"] = "application/json"
    return http.build_request(
        call.method, call.path, params=call.params, content=call.body, headers=headers
    )


class _Verbs:
    """The API's verbs as plans; the two clients below run them."""

    _zones: dict[str | None, str]

    def _window(
        self,
        start: Instant,
        end: Instant,
        timezone: str | None,
        bot_id: str | None,
        account_id: str | None,
    ) -> calls.BillWindow:
        return calls.BillWindow(start, end, timezone, bot_id, account_id, self._zones)


class Client(_Verbs, CreditVerbs, WebhookVerbs):
    """creditmeter's API from synchronous code.

    >>> with Client("http://127.0.0.1:8000", "cmr_...") as meter:  # doctest: +SKIP
    ...     rows = meter.bill_page(date(2024, 12, 1), date(2024, 12, 31))

    Errors raise `ApiError` subclasses (`NotFound`, `InvalidInput`, ...) carrying the API's
    `code` and `message`; a service that stays unreachable raises httpx's own error."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy = _DEFAULT_RETRY,
    ):
        self._http = httpx.Client(base_url=base_url, **_options(api_key, timeout))
        self._retry = retry
        self._zones = {}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, call: Call) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.send(_request(self._http, call))
            except httpx.TransportError as error:
                if not self._retry.retries_error(call, error, attempt):
                    raise
                wait = self._retry.wait(attempt, None)
            else:
                if response.is_success:
                    return response
                if not self._retry.retries_status(call, response.status_code, attempt):
                    raise error_from(response)
                wait = self._retry.wait(attempt, retry_after(response))
            attempt += 1
            time.sleep(wait)

    def _run(self, plan: Plan[T]) -> T:
        try:
            call = next(plan)
            while True:
                try:
                    response = self._send(call)
                except Exception as error:
                    call = plan.throw(error)
                else:
                    call = plan.send(response)
        except StopIteration as done:
            result: T = done.value
            return result

    # --- bills ---------------------------------------------------------------------------

    def bill_page(
        self,
        start: Instant,
        end: Instant,
        *,
        timezone: str | None = None,
        bot_id: str | None = None,
        account_id: str | None = None,
        page_size: int = 100,
    ) -> list[DayRow]:
        """Every day row of `GET /v1/account/bill/page` over `[start, end]`, all pages.

        `start` and `end` (both inclusive) are aware datetimes, dates (whole local days in
        `timezone`, else in the account's zone) or milliseconds since the epoch. An admin
        key names the account with `account_id`."""
        window = self._window(start, end, timezone, bot_id, account_id)
        return self._run(calls.bill_page(window, page_size))

    def bill_total(
        self,
        start: Instant,
        end: Instant,
        *,
        timezone: str | None = None,
        bot_id: str | None = None,
        account_id: str | None = None,
    ) -> BillTotal:
        """`GET /v1/account/bill/total` over `[start, end]`, as `bill_page` reads them."""
        window = self._window(start, end, timezone, bot_id, account_id)
        return self._run(calls.bill_total(window))

    # --- conversations and runs ------------------------------------------------------------

    def conversation_credits(
        self,
        start: datetime | int,
        end: datetime | int,
        *,
        conversation_id: str | None = None,
        bot_id: str | None = None,
        account_id: str | None = None,
        page_size: int = 100,
    ) -> list[ConversationCredits]:
        """Every row of `GET /v1/account/agent/conversation/credits` (conversations created
        in `[start, end]`, at most 30 days; aware datetimes or ms), newest first, all pages."""
        plan = conversations.conversation_credits(
            start, end, conversation_id, bot_id, account_id, page_size
        )
        return self._run(plan)

    def run_credits(
        self,
        start: datetime | int,
        end: datetime | int,
        *,
        run_id: str | None = None,
        bot_id: str | None = None,
        account_id: str | None = None,
        page_size: int = 100,
    ) -> list[RunCredits]:
        """Every row of `GET /v1/account/workflow/run/credits`, as conversation_credits."""
        return self._run(
            conversations.run_credits(start, end, run_id, bot_id, account_id, page_size)
        )

    # --- ingestion -----------------------------------------------------------------------

    def ingest(self, events: Iterable[EventLike]) -> IngestResult:
        """Posts `events` (`UsageEvent`s or dicts shaped as the API's events) in batches of
        at most 1000 events and 1 MiB, each retried with the same ids until answered.
        Batches are stored one by one: after an error the earlier ones are stored
        (`error.ingested`), and sending everything again is safe."""
        return self._run(calls.ingest(events))

    # --- administration (a platform key with scope admin) --------------------------------

    def create_account(
        self,
        account_id: str,
        *,
        name: str | None = None,
        timezone: str | None = None,
        low_balance_threshold: Decimal | int | str | None = None,
    ) -> Account:
        return self._run(calls.create_account(account_id, name, timezone, low_balance_threshold))

    def get_account(self, account_id: str) -> Account:
        return self._run(calls.get_account(account_id))

    def list_accounts(self) -> list[Account]:
        return self._run(calls.list_accounts())

    def update_account(
        self,
        account_id: str,
        *,
        name: str | None = None,
        timezone: str | None = None,
        low_balance_threshold: Decimal | int | str | None = None,
        clear_low_balance_threshold: bool = False,
    ) -> Account:
        """Changes the fields given; `clear_low_balance_threshold=True` removes the threshold."""
        return self._run(
            calls.update_account(
                account_id, name, timezone, low_balance_threshold, clear_low_balance_threshold
            )
        )

    def create_key(
        self,
        account_id: str,
        *,
        bot_id: str | None = None,
        name: str | None = None,
        expires_in_days: float | None = None,
    ) -> NewKey:
        """A read key for the account (bound to `bot_id` if given); `.key` is its secret."""
        return self._run(calls.create_key(account_id, bot_id, name, expires_in_days))

    def list_keys(self, account_id: str) -> list[Key]:
        return self._run(calls.list_keys(account_id))

    def revoke_key(self, key_id: str) -> Key:
        return self._run(calls.revoke_key(key_id))


class AsyncClient(_Verbs, AsyncCreditVerbs, AsyncWebhookVerbs):
    """`Client`'s verbs for asyncio code: the same arguments, awaited."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy = _DEFAULT_RETRY,
    ):
        self._http = httpx.AsyncClient(base_url=base_url, **_options(api_key, timeout))
        self._retry = retry
        self._zones = {}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, call: Call) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.send(_request(self._http, call))
            except httpx.TransportError as error:
                if not self._retry.retries_error(call, error, attempt):
                    raise
                wait = self._retry.wait(attempt, None)
            else:
                if response.is_success:
                    return response
                if not self._retry.retries_status(call, response.status_code, attempt):
                    raise error_from(response)
                wait = self._retry.wait(attempt, retry_after(response))
            attempt += 1
            await asyncio.sleep(wait)

    async def _run(self, plan: Plan[T]) -> T:
        try:
            call = next(plan)
            while True:
                try:
                    response = await self._send(call)
                except Exception as error:
                    call = plan.throw(error)
                else:
                    call = plan.send(response)
        except StopIteration as done:
            result: T = done.value
            return result

    async def bill_page(
        self,
        start: Instant,
        end: Instant,
        *,
        timezone: str | None = None,
        bot_id: str | None = None,
        account_id: str | None = None,
        page_size: int = 100,
    ) -> list[DayRow]:
        window = self._window(start, end, timezone, bot_id, account_id)
        return await self._run(calls.bill_page(window, page_size))

    async def bill_total(
        self,
        start: Instant,
        end: Instant,
        *,
        timezone: str | None = None,
        bot_id: str | None = None,
        account_id: str | None = None,
    ) -> BillTotal:
        window = self._window(start, end, timezone, bot_id, account_id)
        return await self._run(calls.bill_total(window))

    # --- conversations and runs ------------------------------------------------------------

    async def conversation_credits(
        self,
        start: datetime | int,
        end: datetime | int,
        *,
        conversation_id: str | None = None,
        bot_id: str | None = None,
        account_id: str | None = None,
        page_size: int = 100,
    ) -> list[ConversationCredits]:
        """Every row of `GET /v1/account/agent/conversation/credits` (conversations created
        in `[start, end]`, at most 30 days; aware datetimes or ms), newest first, all pages."""
        plan = conversations.conversation_credits(
            start, end, conversation_id, bot_id, account_id, page_size
        )
        return await self._run(plan)

    async def run_credits(
        self,
        start: datetime | int,
        end: datetime | int,
        *,
        run_id: str | None = None,
        bot_id: str | None = None,
        account_id: str | None = None,
        page_size: int = 100,
    ) -> list[RunCredits]:
        """Every row of `GET /v1/account/workflow/run/credits`, as conversation_credits."""
        return await self._run(
            conversations.run_credits(start, end, run_id, bot_id, account_id, page_size)
        )

    async def ingest(self, events: Iterable[EventLike]) -> IngestResult:
        return await self._run(calls.ingest(events))

    async def create_account(
        self,
        account_id: str,
        *,
        name: str | None = None,
        timezone: str | None = None,
        low_balance_threshold: Decimal | int | str | None = None,
    ) -> Account:
        return await self._run(
            calls.create_account(account_id, name, timezone, low_balance_threshold)
        )

    async def get_account(self, account_id: str) -> Account:
        return await self._run(calls.get_account(account_id))

    async def list_accounts(self) -> list[Account]:
        return await self._run(calls.list_accounts())

    async def update_account(
        self,
        account_id: str,
        *,
        name: str | None = None,
        timezone: str | None = None,
        low_balance_threshold: Decimal | int | str | None = None,
        clear_low_balance_threshold: bool = False,
    ) -> Account:
        """Changes the fields given; `clear_low_balance_threshold=True` removes the threshold."""
        return await self._run(
            calls.update_account(
                account_id, name, timezone, low_balance_threshold, clear_low_balance_threshold
            )
        )

    async def create_key(
        self,
        account_id: str,
        *,
        bot_id: str | None = None,
        name: str | None = None,
        expires_in_days: float | None = None,
    ) -> NewKey:
        return await self._run(calls.create_key(account_id, bot_id, name, expires_in_days))

    async def list_keys(self, account_id: str) -> list[Key]:
        return await self._run(calls.list_keys(account_id))

    async def revoke_key(self, key_id: str) -> Key:
        return await self._run(calls.revoke_key(key_id))
