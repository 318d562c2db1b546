"""The client's credit verbs: balance, entries (iterated page by page), grants and holds
(a hold as a context manager that releases it unless the work settled it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .calls import Call, Plan, json_body, path_segment, read_json

BALANCE = "/v1/account/credits/balance"
ENTRIES = "/v1/account/credits/entries"
HOLDS = "/v1/credits/holds"


@dataclass(frozen=True, slots=True)
class CreditGrant:
    id: str
    kind: str
    credits: Decimal
    remaining: Decimal
    priority: int
    expires_at: int | None
    status: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CreditGrant:
        return cls(
            data["id"],
            data["kind"],
            Decimal(data["credits"]),
            Decimal(data["remaining"]),
            data["priority"],
            data["expires_at"],
            data["status"],
        )


@dataclass(frozen=True, slots=True)
class CreditBalance:
    account_id: str
    balance: Decimal
    held: Decimal
    available: Decimal
    overage: Decimal
    seq: int
    grants: list[CreditGrant]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CreditBalance:
        return cls(
            data["account_id"],
            Decimal(data["balance"]),
            Decimal(data["held"]),
            Decimal(data["available"]),
            Decimal(data["overage"]),
            data["seq"],
            [CreditGrant.from_json(g) for g in data["grants"]],
        )


@dataclass(frozen=True, slots=True)
class CreditEntry:
    seq: int
    time: int
    type: str
    credits: Decimal
    balance_after: Decimal
    overage_after: Decimal
    grant_id: str | None
    allocations: list[tuple[str, Decimal]]
    events: dict[str, Any] | None
    note: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CreditEntry:
        return cls(
            data["seq"],
            data["time"],
            data["type"],
            Decimal(data["credits"]),
            Decimal(data["balance_after"]),
            Decimal(data["overage_after"]),
            data.get("grant_id"),
            [(a["grant_id"], Decimal(a["credits"])) for a in data["allocations"]],
            data.get("events"),
            data.get("note"),
        )


@dataclass(frozen=True, slots=True)
class Hold:
    id: str
    account_id: str
    credits: Decimal
    status: str
    expires_at: int
    available: Decimal

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Hold:
        return cls(
            data["id"],
            data["account_id"],
            Decimal(data["credits"]),
            data["status"],
            data["expires_at"],
            Decimal(data["available"]),
        )


def _params(**values: Any) -> tuple[tuple[str, str], ...]:
    return tuple((k, str(v)) for k, v in values.items() if v is not None)


def balance(account_id: str | None, at: int | None) -> Plan[CreditBalance]:
    response = yield Call("GET", BALANCE, _params(account_id=account_id, at=at))
    return CreditBalance.from_json(read_json(response))


def entries_page(account_id: str | None, after_seq: int, limit: int) -> Plan[list[CreditEntry]]:
    params = _params(account_id=account_id, after_seq=after_seq, limit=limit)
    response = yield Call("GET", ENTRIES, params)
    return [CreditEntry.from_json(e) for e in read_json(response)]


def grant(
    account_id: str,
    grant_id: str,
    credits: Decimal | int | str,
    kind: str,
    priority: int | None,
    expires_at: int | None,
    note: str | None,
) -> Plan[CreditGrant]:
    body = json_body(
        {
            "id": grant_id,
            "credits": str(credits),
            "kind": kind,
            "priority": priority,
            "expires_at": expires_at,
            "note": note,
        }
    )
    path = f"/v1/admin/accounts/{path_segment(account_id)}/grants"
    response = yield Call("POST", path, body=body)  # idempotent by its id
    return CreditGrant.from_json(read_json(response))


def create_hold(
    hold_id: str, account_id: str, credits: Decimal | int | str, expires_in_s: int | None
) -> Plan[Hold]:
    body = json_body(
        {
            "id": hold_id,
            "account_id": account_id,
            "credits": str(credits),
            "expires_in_s": expires_in_s,
        }
    )
    response = yield Call("POST", HOLDS, body=body)  # idempotent by its id
    return Hold.from_json(read_json(response))


def get_hold(hold_id: str) -> Plan[Hold]:
    response = yield Call("GET", f"{HOLDS}/{path_segment(hold_id)}")
    return Hold.from_json(read_json(response))


def release_hold(hold_id: str) -> Plan[Hold]:
    response = yield Call("POST", f"{HOLDS}/{path_segment(hold_id)}/release")
    return Hold.from_json(read_json(response))


class CreditVerbs:
    """The credit verbs of the synchronous Client (it supplies _run)."""

    def _run(self, plan: Plan[Any]) -> Any:  # pragma: no cover - Client's own
        raise NotImplementedError

    def balance(self, *, account_id: str | None = None, at: int | None = None) -> CreditBalance:
        """The balance now, or as it stood at `at` (ms); `account_id` with a platform key."""
        result: CreditBalance = self._run(balance(account_id, at))
        return result

    def entries(
        self, *, account_id: str | None = None, after_seq: int = 0, page_size: int = 1000
    ) -> Iterator[CreditEntry]:
        """Every journal entry after `after_seq`, ascending, fetched page by page."""
        while True:
            page: list[CreditEntry] = self._run(entries_page(account_id, after_seq, page_size))
            yield from page
            if len(page) < page_size:
                return
            after_seq = page[-1].seq

    def grant(
        self,
        account_id: str,
        grant_id: str,
        credits: Decimal | int | str,
        *,
        kind: str = "purchase",
        priority: int | None = None,
        expires_at: int | None = None,
        note: str | None = None,
    ) -> CreditGrant:
        """Grants credits (admin key); sending it again with the same id never counts twice."""
        result: CreditGrant = self._run(
            grant(account_id, grant_id, credits, kind, priority, expires_at, note)
        )
        return result

    @contextmanager
    def hold(
        self,
        hold_id: str,
        account_id: str,
        credits: Decimal | int | str,
        *,
        expires_in_s: int | None = None,
    ) -> Iterator[Hold]:
        """Reserves credits for the block (ingest key); PaymentRequired when `available`
        does not cover them. On an error inside the block the hold is released; otherwise
        it is left for the events naming it (`hold_id`) to settle, or to expire."""
        taken: Hold = self._run(create_hold(hold_id, account_id, credits, expires_in_s))
        try:
            yield taken
        except BaseException:
            self._run(release_hold(hold_id))
            raise

    def get_hold(self, hold_id: str) -> Hold:
        result: Hold = self._run(get_hold(hold_id))
        return result

    def release_hold(self, hold_id: str) -> Hold:
        result: Hold = self._run(release_hold(hold_id))
        return result


class AsyncCreditVerbs:
    """CreditVerbs for the AsyncClient (it supplies _run): the same arguments, awaited."""

    async def _run(self, plan: Plan[Any]) -> Any:  # pragma: no cover - AsyncClient's own
        raise NotImplementedError

    async def balance(
        self, *, account_id: str | None = None, at: int | None = None
    ) -> CreditBalance:
        result: CreditBalance = await self._run(balance(account_id, at))
        return result

    async def entries(
        self, *, account_id: str | None = None, after_seq: int = 0, page_size: int = 1000
    ) -> AsyncIterator[CreditEntry]:
        """Every journal entry after `after_seq`, ascending, fetched page by page."""
        while True:
            page: list[CreditEntry] = await self._run(
                entries_page(account_id, after_seq, page_size)
            )
            for entry in page:
                yield entry
            if len(page) < page_size:
                return
            after_seq = page[-1].seq

    async def grant(
        self,
        account_id: str,
        grant_id: str,
        credits: Decimal | int | str,
        *,
        kind: str = "purchase",
        priority: int | None = None,
        expires_at: int | None = None,
        note: str | None = None,
    ) -> CreditGrant:
        result: CreditGrant = await self._run(
            grant(account_id, grant_id, credits, kind, priority, expires_at, note)
        )
        return result

    @asynccontextmanager
    async def hold(
        self,
        hold_id: str,
        account_id: str,
        credits: Decimal | int | str,
        *,
        expires_in_s: int | None = None,
    ) -> AsyncIterator[Hold]:
        """As CreditVerbs.hold: released on an error inside the block, else left for the
        events naming it to settle, or to expire."""
        taken: Hold = await self._run(create_hold(hold_id, account_id, credits, expires_in_s))
        try:
            yield taken
        except BaseException:
            await self._run(release_hold(hold_id))
            raise

    async def get_hold(self, hold_id: str) -> Hold:
        result: Hold = await self._run(get_hold(hold_id))
        return result

    async def release_hold(self, hold_id: str) -> Hold:
        result: Hold = await self._run(release_hold(hold_id))
        return result
