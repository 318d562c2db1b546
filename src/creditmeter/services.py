"""The composition root: everything a running creditmeter holds, built once per app (or CLI
invocation) by Services.build and handed on typed, never looked up in a registry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .accounts import Account
from .cache import GenerationCache
from .conversation_render import WrittenListRows
from .credits.hold_desk import HoldDesk
from .ingest import Ingestion, ResendFilter
from .keys import KeyCache
from .looks import LookCache
from .metrics import Metrics
from .ratelimit import RateLimiter
from .render import WrittenRows
from .rollups import Sums
from .settings import Settings
from .store import Store, open_store
from .webhooks.deliverer import Deliverer

# A bill answer as sent: its raw response headers and its body.
Answer = tuple[list[tuple[bytes, bytes]], bytes]
# A page asked: the key's hash, the query string, and whether CSV was asked for.
PageQuestion = tuple[bytes, bytes, bool]
# What a cached page remembers: the account it read, and the answer.
CachedPage = tuple[str, Answer]
DaysOf = tuple[str, str | None, str]  # account, bot (or all), zone


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: Store
    owns_store: bool  # opened by build(), so closed by close()
    ingestion: Ingestion
    metrics: Metrics
    read_limiter: RateLimiter
    platform_limiter: RateLimiter
    key_cache: KeyCache
    account_cache: GenerationCache[str, Account]
    page_cache: GenerationCache[PageQuestion, CachedPage]
    day_cache: GenerationCache[DaysOf, dict[date, Sums]]
    # A conversation or run list page asked (key hash, path, query string): account, answer.
    list_cache: GenerationCache[tuple[bytes, str, bytes], CachedPage]
    # SQLite's looks (looks.py), reused while nothing is committed anywhere.
    look_cache: LookCache
    # An account's balance now as sent, and the instant it stops being good (an expiry).
    balance_cache: GenerationCache[str, tuple[int | None, bytes]]
    written_rows: WrittenRows
    written_list_rows: WrittenListRows
    deliverer: Deliverer  # run by `serve`'s lifespan; poked after commits that wrote alerts
    hold_desk: HoldDesk  # this process's hold requests, decided a group per transaction

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        store: Store | None = None,
        writer_process: bool = False,
        resends: ResendFilter | None = None,
    ) -> Services:
        """Over `store`, or over a store opened from `settings` and closed by close(). With
        `writer_process`, a SQLite file opened here is written by a process of its own."""
        owned = store is None
        the_store = store or open_store(settings)
        metrics = Metrics()
        return cls(
            settings=settings,
            store=the_store,
            owns_store=owned,
            ingestion=Ingestion.of(
                the_store,
                settings=settings,
                writer_process=writer_process and owned,
                resends=resends,
            ),
            metrics=metrics,
            read_limiter=RateLimiter(settings.read_rate_limit),
            platform_limiter=RateLimiter(settings.platform_rate_limit),
            key_cache=KeyCache(),
            account_cache=GenerationCache(4096),
            page_cache=GenerationCache(1024),
            # Whole days' credits per account, bot and zone: at most 64 x 1024 days.
            day_cache=GenerationCache(64),
            balance_cache=GenerationCache(4096),
            look_cache=GenerationCache(4096),
            list_cache=GenerationCache(1024),
            written_rows=WrittenRows(),
            written_list_rows=WrittenListRows(),
            deliverer=Deliverer(the_store, settings, metrics),
            hold_desk=HoldDesk(the_store),
        )

    def close(self) -> None:
        self.ingestion.close()
        if self.owns_store:
            self.store.dispose()
