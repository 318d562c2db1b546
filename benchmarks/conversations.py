"""Conversation list benchmark: a page of the 100 newest conversations of a 30-day window
at 32 connections, with many conversations in the store; and the ingestion rate with
`conversation_id` on half the events against the same stream without, in turns.

    python -m benchmarks.conversations --database-url sqlite:////tmp/conv.db \\
        --database-url postgresql://postgres@127.0.0.1:5432/cmconv --conversations 1000000

The conversations are written straight into the rollup tables (their rows, and the hourly
and daily counts, as ingestion would leave them) over the last 120 days of one account and 20 bots:
the list reads nothing else. Three loads: the same newest page asked again and again; 200
windows ending anywhere in the 120 days, moved 1 ms on every round (every request new);
and windows ending anywhere in the last 90 days at random (every page new, so that hardly
a row's text is written twice). Then, on a new store of each kind, the ingestion of
`--events` all-new events in batches of 1000 from 4 clients, in turns: a part without any
conversation_id, then a part with one on half its events (other ids), so that both rates
share the same minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from sqlalchemy import text

from creditmeter import accounts, keys
from creditmeter.clock import now_ms
from creditmeter.settings import Settings
from creditmeter.store import open_store

from . import wrk
from .ingest import batches, make_events, post_all, prepare
from .servers import creditmeter

DAY_MS = 86_400_000
ACCOUNT = "conv-bench"
FIELDS = (
    "chat",
    "anonymization",
    "asr",
    "tts",
    "rerank",
    "database_processing",
    "tool_call",
    "knowledge_doc_indexing",
    "question_tag",
    "moderation",
)
PAGE = "/v1/account/agent/conversation/credits?page=1&page_size=100"


def fill(url: str, count: int, end: int, reuse: bool) -> tuple[str, int]:
    """`count` conversations of ACCOUNT created over the 120 days before `end`; a read key
    and the end of the conversations' 120 days (the one of an earlier fill when `reuse`
    finds one of `count` conversations)."""
    # The fill is one statement of a million rows: past the default statement timeout.
    store = open_store(Settings(database_url=url, store_timeout_s=600))
    if ACCOUNT not in {a.id for a in accounts.list_accounts(store=store)}:
        accounts.create_account(store=store, account_id=ACCOUNT)
    if reuse:
        with store.read() as conn:
            found, newest = conn.execute(
                text(
                    "SELECT COUNT(*), MAX(created_at) FROM conversation_credits"
                    " WHERE account_id = :a"
                ),
                {"a": ACCOUNT},
            ).one()
        if found == count:
            print(f"{url}: {count:,} conversations of an earlier fill")
            token = keys.create_key(store=store, scope="read", account_id=ACCOUNT).token
            store.dispose()
            return token, int(newest)
    start = end - 120 * DAY_MS
    step = 120 * DAY_MS // count
    postgres = not store.is_sqlite
    series = (
        "generate_series(0::bigint, :n - 1) AS s(i)"
        if postgres
        else "(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < :n - 1)"
        " SELECT i FROM s) AS s"
    )
    pad = "lpad(i::text, 8, '0')" if postgres else "printf('%08d', i)"
    credits = ", ".join(f"(i * {7919 + k}) % 5000000" for k in range(len(FIELDS)))
    began = time.perf_counter()
    with store.write() as conn:
        conn.execute(text("DELETE FROM conversation_credits WHERE account_id = :a"), {"a": ACCOUNT})
        for counts in ("thread_counts", "thread_day_counts"):
            conn.execute(text(f"DELETE FROM {counts} WHERE account_id = :a"), {"a": ACCOUNT})
        conn.execute(
            text(
                "INSERT INTO conversation_credits (account_id, conversation_id, bot_id,"
                f" created_at, last_at, {', '.join(FIELDS)})"
                f" SELECT :a, 'conv-' || {pad}, 'bot-' || (i % 20), :start + i * :step,"
                f" :start + i * :step + 60000, {credits} FROM {series}"
            ),
            {"a": ACCOUNT, "n": count, "start": start, "step": step},
        )
        for counts, span, width in (
            ("thread_counts", "hour", 3600000),
            ("thread_day_counts", "day", 86400000),
        ):
            start_of = f"created_at - created_at % {width}"
            for bot, group in (("bot_id", ", bot_id"), ("''", "")):
                conn.execute(
                    text(
                        f"INSERT INTO {counts} (account_id, list, bot_id, {span}, n)"
                        f" SELECT account_id, 'conversation_credits', {bot}, {start_of}, COUNT(*)"
                        f" FROM conversation_credits WHERE account_id = :a"
                        f" GROUP BY account_id{group}, {start_of}"
                    ),
                    {"a": ACCOUNT},
                )
    print(f"{url}: {count:,} conversations written in {time.perf_counter() - began:.1f} s")
    token = keys.create_key(store=store, scope="read", account_id=ACCOUNT).token
    store.dispose()
    return token, start + (count - 1) * step


def pages(url: str, args: argparse.Namespace) -> None:
    token, end = fill(url, args.conversations, now_ms(), args.reuse)
    newest = f"{PAGE}&start_time={end - 30 * DAY_MS}&end_time={end}"
    rng = random.Random(4)
    windows = []
    for _ in range(200):
        last = end - rng.randrange(0, 90 * DAY_MS)
        windows.append((last - 30 * DAY_MS, last, token))
    with creditmeter(url) as server:
        base = server.base_url
        bearer = {"Authorization": f"Bearer {token}"}
        every_page_new = wrk.random_windows(PAGE, token, end - 90 * DAY_MS, end, 30 * DAY_MS)
        for name, load in (
            ("newest page, asked again and again", {"headers": bearer}),
            ("200 windows, every request new", {"lua": wrk.moving_windows(windows, PAGE)}),
            ("windows ending anywhere at random, every page new", {"lua": every_page_new}),
        ):
            target = base + newest if "headers" in load else base + PAGE
            wrk.run(target, connections=args.connections, seconds=args.warmup, **load)
            result = wrk.run(target, connections=args.connections, seconds=args.seconds, **load)
            print(
                f"  {name}: {result.requests_per_second:,.0f} req/s, p50 {result.p50_ms:.2f} ms,"
                f" p99 {result.p99_ms:.2f} ms at {args.connections} connections"
                f" (non-2xx: {result.non_2xx})"
            )


def ingestion(url: str, args: argparse.Namespace) -> None:
    """All-new events without conversation ids, then with one on half, in turns."""
    turns = 5
    plain = make_events(args.events, "plain", 1)
    threaded = make_events(args.events, "threaded", 2)
    rng = random.Random(6)
    for event in threaded[::2]:  # a day of storage has no conversation: charge a chat instead
        if event["category"] == "knowledge_doc_storage":
            event["category"] = "chat"
        event["conversation_id"] = f"c-{rng.randrange(args.events // 8)}"
    token = prepare(url)
    seconds = {"without": 0.0, "with": 0.0}
    stored = {"without": 0, "with": 0}
    per_turn = args.events // turns
    with creditmeter(url) as server:
        for turn in range(turns):
            for name, events in (("without", plain), ("with", threaded)):
                part = events[turn * per_turn : (turn + 1) * per_turn]
                took, accepted, _ = asyncio.run(post_all(server.base_url, token, batches(part)))
                seconds[name] += took
                stored[name] += accepted
    rates = {name: stored[name] / seconds[name] for name in seconds}
    print(
        f"  ingestion: {rates['without']:,.0f} events/s without conversation_id,"
        f" {rates['with']:,.0f} events/s with one on half the events"
        f" ({rates['with'] / rates['without']:.2f} x, in {turns} turns each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--database-url", action="append", default=[], help="a store for the page figures"
    )
    parser.add_argument(
        "--ingest-url",
        action="append",
        default=[],
        help="a new store for the ingestion comparison (default: none)",
    )
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the conversations of an earlier fill of the same count (else fill anew)",
    )
    args = parser.parse_args()
    for url in args.database_url:
        pages(url, args)
    for url in args.ingest_url:
        ingestion(url, args)


if __name__ == "__main__":
    main()
