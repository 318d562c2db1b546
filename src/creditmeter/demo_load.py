"""`creditmeter demo`'s verb: the demo account, its grants and its usage, committed in the
order they happened on a story clock, so the journal is dated as the history is (a plan
each month, spent first and expiring at the month's end; a purchase drawn on when the plan
runs out) and the balance chart shows a real burn-down.

Grants and batches take effect when they commit, at their commit's clock: the demo hands
the ingestion its own clock (the ingestion's public seam) and create_grant its `now`. The
journal never goes back in time, so on a second run nothing new is dated before what is
already there; a grant that would have expired by then is not given (see DemoLoad.late)."""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass

from . import demo
from .accounts import create_account
from .clock import now_ms
from .credits.balances import balance
from .credits.grants import GrantRequest, create_grant, list_grants
from .errors import Conflict, InvalidInput
from .ingest import Ingestion
from .settings import Settings
from .store import Store


@dataclass(frozen=True, slots=True)
class DemoLoad:
    accepted: int  # events added
    duplicates: int  # events already there
    granted: list[str]  # ids of the grants added
    late: list[str]  # ids of grants not given: the journal was already past their expiry
    plan: int  # micro-credits a month
    purchase: int
    balance: int  # now, after loading


def load_demo(*, store: Store, settings: Settings) -> DemoLoad:
    """Loads (or tops up) the demo; running it again adds nothing but the hours since."""
    with contextlib.suppress(Conflict):
        create_account(
            store=store, account_id=demo.ACCOUNT_ID, name=demo.ACCOUNT_NAME, timezone=demo.TIMEZONE
        )
    events = list(demo.demo_events())
    daily = demo.daily_usage(events)
    existing = {g.grant_id: g for g in list_grants(store=store, account_id=demo.ACCOUNT_ID)}
    plans = sorted(g for g in existing if g.startswith("demo-plan-"))
    # A plan keeps its size from month to month: the first run sizes it from the usage.
    plan = existing[plans[-1]].credits if plans else demo.plan_credits(daily)
    bought = existing.get("demo-purchase")
    purchase = bought.credits if bought else demo.purchase_credits(daily, plan)
    story = deque(
        g
        for g in demo.demo_grants(min(daily), max(daily), plan, purchase)
        if g.grant_id not in existing
    )
    clock = [now_ms()]
    ingestion = Ingestion.of(store, settings=settings, clock=lambda: clock[0])
    ingestion.start()
    accepted = duplicates = 0
    granted: list[str] = []
    late: list[str] = []

    def give(grant: demo.DemoGrant) -> None:
        try:
            create_grant(
                store=store,
                account_id=demo.ACCOUNT_ID,
                request=GrantRequest.parse(grant.body()),
                now=grant.granted_at,
            )
        except InvalidInput:  # its expires_at is before the journal's last entry
            late.append(grant.grant_id)
        else:
            granted.append(grant.grant_id)

    try:
        for commit_at, batch in demo.batches(events):
            while story and story[0].granted_at <= commit_at:
                give(story.popleft())
            clock[0] = commit_at
            result = ingestion.ingest(batch)
            accepted, duplicates = accepted + result.accepted, duplicates + result.duplicates
        while story:
            give(story.popleft())
    finally:
        ingestion.close()
    now = balance(store=store, account_id=demo.ACCOUNT_ID).balance
    return DemoLoad(accepted, duplicates, granted, late, plan, purchase, now)
