"""Delivery by `creditmeter serve` to a real receiver on loopback: each type once per
crossing, signed (verified by the client), retried with the same webhook-id, 410 disables,
a failed event redelivered, and one pending at a receiver answering 503 when the server is
SIGKILLed is delivered after the restart."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from creditmeter.client import Client
from creditmeter.clock import now_ms
from creditmeter.store import webhooks as sql
from tests.support.receiver import Receiver, receiving
from tests.support.server import wait_until
from tests.support.stores import opened_store

from .support import serve, types, wait_for_requests, world


def test_each_type_once_per_crossing_signed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with receiving() as receiver, world(url, receiver) as w, serve(url, tmp_path / "log") as s:
        w.grant(s, "first", 20)  # the first grant sends nothing
        w.ingest_events(s, [("e1", Decimal(5))])  # 15
        w.ingest_events(s, [("e2", Decimal(6))])  # 9: low
        wait_for_requests(receiver, 1)
        w.ingest_events(s, [("e3", Decimal("0.5"))])  # 8.5: still low
        w.ingest_events(s, [("e4", Decimal("10.5"))])  # -2: depleted
        wait_for_requests(receiver, 2)
        w.grant(s, "top-up", 20)  # 18: recovered
        w.grant(s, "short", 3, expires_at=now_ms() + 1500)  # 21
        wait_for_requests(receiver, 3)
        time.sleep(2)  # "short" expires; the next entry writes its expiry first
        w.ingest_events(s, [("e5", Decimal(1))])  # 20 - 3 = 17 after the expiry, then 17
        wait_for_requests(receiver, 4)
        events = w.verified(receiver)
        assert types(events) == [
            "credits.balance_low",
            "credits.balance_depleted",
            "credits.balance_recovered",
            "credits.grant_expired",
        ]
        assert [e.balance for e in events] == [Decimal(9), Decimal(-2), Decimal(18), Decimal(18)]
        assert {e.threshold for e in events} == {Decimal(10)}
        assert events[3].grant_id == "short"
        for request, event in zip(receiver.requests(), events, strict=True):
            assert request.headers["webhook-id"] == event.id
            assert request.headers["content-type"] == "application/json"
        delivered = w.deliveries(s)
        assert [d["event_id"] for d in delivered] == [e.id for e in reversed(events)]
        assert {(d["state"], d["attempts"], d["last_status"]) for d in delivered} == {
            ("delivered", 1, 200)
        }


def test_failing_twice_then_the_third_attempt_with_the_same_id(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    receiver = Receiver(script=[503, 500])
    with receiving(receiver), world(url, receiver) as w, serve(url, tmp_path / "log") as s:
        w.grant(s, "g", 11)
        w.ingest_events(s, [("e1", Decimal(2))])
        wait_for_requests(receiver, 3)
        ids = {r.headers["webhook-id"] for r in receiver.requests()}
        assert len(ids) == 1
        wait_until(lambda: w.deliveries(s)[0]["state"] == "delivered", timeout=30, what="delivered")
        (delivery,) = w.deliveries(s)
        assert (delivery["attempts"], delivery["last_status"]) == (3, 200)
        assert delivery["event_id"] == ids.pop()
        stamps = [int(r.headers["webhook-timestamp"]) for r in receiver.requests()]
        assert stamps == sorted(stamps)
        assert len(w.verified(receiver)) == 3  # each attempt signed afresh
        samples = s.metrics()
        assert samples['creditmeter_webhook_attempts_total{answer="5xx"}'] == 2
        assert samples['creditmeter_webhook_attempts_total{answer="2xx"}'] == 1
        assert samples['creditmeter_webhook_deliveries_total{outcome="retried"}'] == 2
        assert samples['creditmeter_webhook_deliveries_total{outcome="delivered"}'] == 1
        assert samples["creditmeter_webhook_queue_depth"] == 0
        assert samples["creditmeter_webhook_oldest_pending_age_seconds"] == 0


def test_the_schedule_spent_fails_then_redelivery(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    receiver = Receiver(status=500)
    with (
        receiving(receiver),
        world(url, receiver) as w,
        serve(url, tmp_path / "log") as s,
        Client(s.base_url, w.admin) as admin,
    ):
        w.grant(s, "g", 11)
        w.ingest_events(s, [("e1", Decimal(2))])

        def state() -> str:
            return admin.webhook_deliveries(w.endpoint_id)[0].state

        wait_until(lambda: state() == "failed", timeout=30, what="failed")
        assert len(receiver.requests()) == 3  # two delays: three attempts
        (failed,) = admin.webhook_deliveries(w.endpoint_id)
        assert (failed.attempts, failed.last_status, failed.last_excerpt) == (3, 500, "not now")
        receiver.status = 200
        assert admin.redeliver_webhook(failed.event_id) == 1
        wait_until(lambda: state() == "delivered", timeout=30, what="redelivered")
        assert {r.headers["webhook-id"] for r in receiver.requests()} == {failed.event_id}
        assert admin.webhook_deliveries(w.endpoint_id)[0].attempts == 4
        assert admin.redeliver_webhook(failed.event_id) == 0  # delivered: nothing to redo
        (endpoint,) = admin.list_webhooks()
        assert (endpoint.id, endpoint.status, endpoint.secret) == (w.endpoint_id, "enabled", None)
        made = admin.create_webhook(receiver.url, events=["credits.grant_expired"])
        assert made.secret is not None
        assert made.secret not in repr(made)  # the secret stays out of logs and tracebacks
        assert made.events == ("credits.grant_expired",)
        assert admin.delete_webhook(made.id).id == made.id
        account = admin.create_account("other", low_balance_threshold=Decimal("2.5"))
        assert account.low_balance_threshold == Decimal("2.5")
        renamed = admin.update_account("other", name="Other")  # a threshold not given stays
        assert renamed.low_balance_threshold == Decimal("2.5")
        cleared = admin.update_account("other", clear_low_balance_threshold=True)
        assert (cleared.name, cleared.low_balance_threshold) == ("Other", None)
        with pytest.raises(ValueError, match="not both"):
            admin.update_account("other", low_balance_threshold=1, clear_low_balance_threshold=True)


def test_410_disables_the_endpoint(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    receiver = Receiver(status=410)
    with receiving(receiver), world(url, receiver) as w, serve(url, tmp_path / "log") as s:
        w.grant(s, "g", 11)
        w.ingest_events(s, [("e1", Decimal(2))])  # low
        wait_until(lambda: w.deliveries(s)[0]["state"] == "failed", timeout=30, what="failed")
        listed = httpx.get(
            f"{s.base_url}/v1/admin/webhooks", headers={"Authorization": f"Bearer {w.admin}"}
        ).json()
        assert listed[0]["status"] == "disabled"
        w.ingest_events(s, [("e2", Decimal(10))])  # depleted: nothing for a disabled one
        assert len(w.deliveries(s)) == 1
        assert len(receiver.requests()) == 1  # no retry after a 410


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_while_pending_then_delivered_after_restart(tmp_path: Path, workers: int) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    receiver = Receiver(status=503)
    many = ",".join(["0.3"] * 50)
    with receiving(receiver), world(url, receiver) as w:
        server = serve(url, tmp_path / "log", CREDITMETER_WEBHOOK_RETRY_SCHEDULE=many)
        server.start(workers)
        try:
            w.grant(server, "g", 11)
            w.ingest_events(server, [("e1", Decimal(2))])
            wait_for_requests(receiver, 2)
            server.kill()  # SIGKILL to every process of it: no shutdown code runs
            with opened_store(url) as store, store.read() as conn:
                (pending,) = sql.deliveries(conn, w.endpoint_id, 10)
            assert pending.state == "pending"
            receiver.status = 200
            seen = len(receiver.requests())
            server.start(workers)
            # within the lease (60 s) if it was killed mid-attempt, at once otherwise
            wait_until(
                lambda: w.deliveries(server)[0]["state"] == "delivered",
                timeout=90,
                what="delivered after the restart",
            )
            after = receiver.requests()[seen:]
            assert after
            assert after[-1].headers["webhook-id"] == w.deliveries(server)[0]["event_id"]
        finally:
            server.stop()
