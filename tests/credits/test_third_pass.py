"""What a third black-box pass of issue 15's classes found on the credit routes, each on both
stores: digits that are not ASCII, ids no hold or grant can have, a hold's account given as
a number, a void's reason, and import's hold_id."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from creditmeter.cli import main
from creditmeter.store import Store
from creditmeter.webhooks.schedule import retry_after

from ..conftest import bearer
from ..http.support import assert_error, event, exact
from .support import BALANCE, ENTRIES, GRANTS, HOLDS

NOT_ASCII = ["²", "①", "١٢٣", "٢٠٠٠٠٠٠٠٠٠٠٠٠"]  # isdigit() says yes to every one


def _granted(client: TestClient, admin_key: str) -> None:
    body = {"id": "g1", "credits": 100, "kind": "purchase"}
    assert client.post(GRANTS, json=body, headers=bearer(admin_key)).status_code == 201


@pytest.mark.parametrize("digits", NOT_ASCII)
def test_digits_that_are_not_ascii_are_a_400(
    client: TestClient, shanghai: str, admin_key: str, digits: str
) -> None:
    _granted(client, admin_key)
    answers = [
        client.get(ENTRIES, params={"limit": digits}, headers=bearer(shanghai)),
        client.get(ENTRIES, params={"after_seq": digits}, headers=bearer(shanghai)),
        client.head(ENTRIES, params={"limit": digits}, headers=bearer(shanghai)),
        client.get(BALANCE, params={"at": digits}, headers=bearer(shanghai)),
        client.get(BALANCE, params={"account_id": "acme", "at": digits}, headers=bearer(admin_key)),
        client.post(
            GRANTS,
            json={"id": "g2", "credits": 1, "kind": "purchase", "expires_at": digits},
            headers=bearer(admin_key),
        ),
    ]
    for answer in answers:
        assert answer.status_code == 400, answer.text
    assert [g["id"] for g in client.get(GRANTS, headers=bearer(admin_key)).json()] == ["g1"]
    assert retry_after(digits, 0.0) is None  # a receiver's Retry-After: no delay, no crash


@pytest.mark.parametrize("bad", ["a\x00b", "\x00", "a b", "x" * 129, "é"])
def test_an_id_no_hold_can_have_is_a_404_and_spoils_no_group(
    client: TestClient, shanghai: str, admin_key: str, ingest_key: str, bad: str
) -> None:
    _granted(client, admin_key)
    bad = quote(bad, safe="")
    released = client.post(f"{HOLDS}/{bad}/release", headers=bearer(ingest_key))
    assert_error(released, 404, 40400, "does not exist")
    assert len(released.json()["message"]) < 200  # a long id is quoted short
    assert_error(client.get(f"{HOLDS}/{bad}", headers=bearer(ingest_key)), 404, 40400)
    taken = client.post(
        HOLDS, json={"id": "h1", "account_id": "acme", "credits": 5}, headers=bearer(ingest_key)
    )
    assert taken.status_code == 201, taken.text


@pytest.mark.parametrize("number", [1, "1", 1.0])
def test_a_holds_account_is_an_id_never_a_number(
    client: TestClient, store: Store, ingest_key: str, admin_key: str, number: object
) -> None:
    made = client.post("/v1/admin/accounts", json={"id": "1"}, headers=bearer(admin_key))
    assert made.status_code == 201, made.text
    body = {"id": "h1", "account_id": number, "credits": 1}
    answer = client.post(HOLDS, json=body, headers=bearer(ingest_key))
    if number == "1":  # a string that is an id: account "1", which holds no credits
        assert_error(answer, 402, 40200, "available")
    else:
        assert_error(answer, 400, 40000, "account_id")


@pytest.mark.parametrize("bad", ["a\x00", "ACME", "a b"])
def test_grant_routes_check_the_ids_in_their_paths(
    client: TestClient, shanghai: str, admin_key: str, bad: str
) -> None:
    auth = bearer(admin_key)
    bad = quote(bad, safe="")
    body = {"id": "g1", "credits": 1, "kind": "purchase"}
    for answer in (
        client.post(f"/v1/admin/accounts/{bad}/grants", json=body, headers=auth),
        client.get(f"/v1/admin/accounts/{bad}/grants", headers=auth),
        client.post(f"/v1/admin/accounts/{bad}/grants/g1/void", json={}, headers=auth),
    ):
        assert_error(answer, 400, 40000, "account_id")
    void = client.post(f"{GRANTS}/{bad}%01/void", json={}, headers=auth)
    assert_error(void, 404, 40400, "does not exist")


def test_a_voids_reason_is_checked_alike_by_the_cli(
    store: Store, shanghai: str, client: TestClient, admin_key: str
) -> None:
    _granted(client, admin_key)
    env = {"CREDITMETER_DATABASE_URL": str(store.engine.url.render_as_string(False))}
    runner = CliRunner(env=env)
    for reason in ("evil\x1b[2J\x1b[31mRED\x07", "r" * 501):
        result = runner.invoke(
            main, ["grants", "void", "--account", "acme", "g1", "--reason", reason]
        )
        assert result.exit_code == 1, result.output
        assert "reason" in result.stderr
    grant = client.get(GRANTS, headers=bearer(admin_key)).json()[0]
    assert grant["status"] == "active"


def test_import_settles_the_holds_its_events_name_and_refuses_unknown_ones(
    store: Store, shanghai: str, client: TestClient, ingest_key: str, admin_key: str, tmp_path: Path
) -> None:
    _granted(client, admin_key)
    hold = {"id": "imp-h", "account_id": "acme", "credits": 5}
    assert client.post(HOLDS, json=hold, headers=bearer(ingest_key)).status_code == 201
    env = {"CREDITMETER_DATABASE_URL": str(store.engine.url.render_as_string(False))}
    runner = CliRunner(env=env)

    def imported(*events: dict[str, object]) -> Result:
        path = tmp_path / "events.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        return runner.invoke(main, ["import", str(path)])

    good = event("i1", credits="2")
    for bad_hold in ("no-such-hold", "bad id with spaces", "a\x00b"):
        refused = imported(good, {**event("i2"), "hold_id": bad_hold})
        assert refused.exit_code == 1, refused.output
        assert "line 2" in " ".join(refused.stderr.split())
        assert "hold_id" in refused.stderr
    assert exact(client.get(f"{HOLDS}/imp-h", headers=bearer(ingest_key)))["status"] == "active"
    done = imported({**good, "hold_id": "imp-h"})
    assert done.exit_code == 0, done.output
    assert exact(client.get(f"{HOLDS}/imp-h", headers=bearer(ingest_key)))["status"] == "settled"
