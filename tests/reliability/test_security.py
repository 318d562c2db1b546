"""Security: every endpoint x every kind of key against a served process, where only the
allowed cells succeed and another account's resources answer 404; no key ever appears in
the logs, in an answer or in the database in clear; per-key rate limits; security headers
on every answer; CORS off unless configured."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from tests.conftest import make_key
from tests.conftest import test_settings as settings_for_tests
from tests.http.support import assert_no_leak
from tests.reliability.support import report
from tests.support.server import Server
from tests.support.stores import opened_store, throwaway_store_url

from creditmeter import accounts, keys
from creditmeter.http import create_app
from creditmeter.store import Store

DECEMBER = {"start_time": "1732982400000", "end_time": "1735660799999"}
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
EVIL_ORIGIN = "https://evil.example"


@dataclass
class World:
    """The store the matrix runs against: accounts acme (bots b1, b2) and beta."""

    url: str
    tokens: dict[str, str]  # key kind -> token
    minted: list[str]  # every secret that exists or was ever sent, to grep for


def _world(url: str) -> World:
    with opened_store(url) as store:
        for account_id in ("acme", "beta"):
            accounts.create_account(store=store, account_id=account_id, timezone="Asia/Shanghai")

        def new(scope: str, account_id: str | None = None, **extra: Any) -> str:
            return keys.create_key(store=store, scope=scope, account_id=account_id, **extra).token

        admin = new("admin")
        revoked, expired = new("admin"), new("admin", expires_in_days=0.00000002)
        keys.revoke_key(store=store, key_id=keys.parse_token(revoked) or "")
        tokens = {
            "none": "",
            "garbage": "garbage-" + uuid.uuid4().hex,
            "bad checksum": admin[:-1] + ("A" if admin[-1] != "A" else "B"),
            "expired": expired,
            "revoked": revoked,
            "read": new("read", "acme"),
            "read of another account": new("read", "beta"),
            "bot-bound of another bot": new("read", "acme", bot_id="b1"),
            "bot-bound": new("read", "acme", bot_id="b1"),
            "ingest": new("ingest"),
            "admin": admin,
        }
    time.sleep(0.01)  # the expired key's millisecond is over
    return World(url, tokens, [t for t in tokens.values() if t])


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    body: Callable[[], Any] | None = None


def _event() -> dict[str, Any]:
    return {
        "events": [
            {
                "id": f"sec-{uuid.uuid4().hex}",
                "account_id": "acme",
                "bot_id": "b2",
                "category": "chat",
                "credits": "1.5",
                "timestamp": 1733011200000,
            }
        ]
    }


ENDPOINTS = [
    Endpoint("bill page", "GET", "/v1/account/bill/page"),
    Endpoint("bill total", "GET", "/v1/account/bill/total"),
    Endpoint("account view", "GET", "/v1/account"),
    Endpoint("ingest", "POST", "/v1/usage/events", _event),
    Endpoint("list accounts", "GET", "/v1/admin/accounts"),
    Endpoint(
        "create account", "POST", "/v1/admin/accounts", lambda: {"id": f"n-{uuid.uuid4().hex[:12]}"}
    ),
    Endpoint("get account", "GET", "/v1/admin/accounts/acme"),
    Endpoint("patch account", "PATCH", "/v1/admin/accounts/acme", lambda: {"name": "Acme"}),
    Endpoint("create key", "POST", "/v1/admin/accounts/acme/keys", lambda: {}),
    Endpoint("list keys", "GET", "/v1/admin/accounts/acme/keys"),
    Endpoint("revoke key", "DELETE", "/v1/admin/keys/{victim}"),
    Endpoint("portal link", "POST", "/v1/admin/accounts/acme/portal-tokens", lambda: {}),
]
KINDS = [
    "none",
    "garbage",
    "bad checksum",
    "expired",
    "revoked",
    "read",
    "read of another account",
    "bot-bound of another bot",
    "bot-bound",
    "ingest",
    "admin",
]
READS = {"bill page", "bill total", "account view"}
ADMIN = {e.name for e in ENDPOINTS} - READS - {"ingest"}


def _expected(endpoint: str, kind: str) -> int:
    """The matrix: the status each kind of key gets from each endpoint."""
    if kind in {"none", "garbage", "bad checksum", "expired", "revoked"}:
        return 401
    if kind == "admin":
        if endpoint in ADMIN:
            return 201 if endpoint.startswith(("create", "portal")) else 200
        return 403 if endpoint == "ingest" else 200
    if kind == "ingest":
        return 200 if endpoint == "ingest" else 403
    if endpoint not in READS:
        return 403  # read keys: no ingestion, no administration
    if kind == "read of another account":
        return 404  # it asks for acme's bills with beta's key
    if kind == "bot-bound of another bot" and endpoint != "account view":
        return 403  # it asks for bot b2 with a key bound to b1
    return 200


def _request(
    http: httpx.Client,
    base: str,
    world: World,
    victim: Callable[[], str],
    endpoint: Endpoint,
    kind: str,
) -> httpx.Response:
    token = world.tokens[kind]
    headers = {"Origin": EVIL_ORIGIN}
    if kind != "none":
        headers["Authorization"] = f"Bearer {token}"
    params: dict[str, str] = {}
    if endpoint.name in {"bill page", "bill total"}:
        params |= DECEMBER
    if endpoint.name in READS:
        if kind in {"admin", "read of another account"}:
            params["account_id"] = "acme"
        if kind == "bot-bound of another bot" and endpoint.name != "account view":
            params["bot_id"] = "b2"
    path = endpoint.path.replace("{victim}", victim() if "{victim}" in endpoint.path else "")
    body = endpoint.body() if endpoint.body else None
    return http.request(endpoint.method, f"{base}{path}", params=params, json=body, headers=headers)


def _check_headers(answer: httpx.Response, problems: list[str], where: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        if answer.headers.get(name) != value:
            problems.append(f"{where}: header {name} is {answer.headers.get(name)!r}")
    if "content-security-policy" not in answer.headers:
        problems.append(f"{where}: no Content-Security-Policy")
    if "access-control-allow-origin" in answer.headers:
        problems.append(f"{where}: CORS answered although it is not configured")


def _check_cell(answer: httpx.Response, endpoint: Endpoint, kind: str, world: World) -> list[str]:
    """What is wrong with one cell's answer: its status, its shape, its headers, a leak."""
    where = f"{endpoint.method} {endpoint.name} with {kind}"
    problems: list[str] = []
    expected = _expected(endpoint.name, kind)
    if answer.status_code != expected:
        problems.append(f"{where}: {answer.status_code}, not {expected}: {answer.text[:200]}")
    _check_headers(answer, problems, where)
    body = answer.json()
    for field in ("key", "token"):  # a new secret, shown once: grep for it later
        if isinstance(body, dict) and isinstance(body.get(field), str):
            world.minted.append(body[field])
    if answer.status_code >= 400:
        if not (isinstance(body.get("code"), int) and body.get("message")):
            problems.append(f"{where}: not an error body: {body}")
        assert_no_leak(answer.text)
        if answer.status_code == 404 and "beta" in answer.text:
            problems.append(f"{where}: names the caller's own account")
    bound_view = kind == "bot-bound of another bot" and endpoint.name == "account view"
    if bound_view and body.get("bots") != ["b1"]:
        problems.append(f"{where}: a bound key sees bots {body.get('bots')}")
    if any(s in answer.text for s in world.tokens.values() if s):
        problems.append(f"{where}: an answer repeats a key")
    return problems


def _secrets_in_store(url: str, secrets: list[str]) -> list[str]:
    """Secrets (whole, or their 43-character random part) found anywhere in the database:
    every text of every table, and for SQLite the bytes of its files."""
    needles = set(secrets) | {s.split("_")[2][:43] for s in secrets if s.count("_") >= 2}
    found = []
    with opened_store(url) as store, store.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                blob = json.dumps([str(v) for v in row])
                found += [f"{table}: {n[:8]}..." for n in needles if n in blob]
        if store.is_sqlite:
            database_path = Path(store.engine.url.database or "")
            for path in database_path.parent.glob(database_path.name + "*"):
                data = path.read_bytes()
                found += [f"{path.name}: {n[:8]}..." for n in needles if n.encode() in data]
    return found


@pytest.mark.slow
def test_every_endpoint_against_every_kind_of_key(backend: str, tmp_path: Path) -> None:
    problems: list[str] = []
    cells = 0
    with throwaway_store_url(backend, tmp_path) as url:
        world = _world(url)
        env = {"CREDITMETER_LOG_LEVEL": "DEBUG", "CREDITMETER_LOG_FORMAT": "json"}
        with Server(url, tmp_path / "serve.log", env=env) as server, httpx.Client() as http:
            admin = world.tokens["admin"]

            def victim() -> str:
                answer = http.post(
                    f"{server.base_url}/v1/admin/accounts/beta/keys",
                    json={},
                    headers={"Authorization": f"Bearer {admin}"},
                )
                world.minted.append(answer.json()["key"])
                return str(answer.json()["key_id"])

            for endpoint in ENDPOINTS:
                for kind in KINDS:
                    cells += 1
                    answer = _request(http, server.base_url, world, victim, endpoint, kind)
                    problems += _check_cell(answer, endpoint, kind, world)
            for path in (
                "/healthz",
                "/readyz",
                "/metrics",
                "/openapi.json",
                "/docs",
                "/dashboard",
                "/nowhere",
            ):
                answer = http.get(f"{server.base_url}{path}", headers={"Origin": EVIL_ORIGIN})
                _check_headers(answer, problems, f"GET {path}")
                if any(s in answer.text for s in world.minted):
                    problems.append(f"GET {path} shows a key")
            preflight = http.options(
                f"{server.base_url}/v1/account/bill/page",
                headers={"Origin": EVIL_ORIGIN, "Access-Control-Request-Method": "GET"},
            )
            if "access-control-allow-origin" in preflight.headers:
                problems.append("a CORS preflight was answered although CORS is off")
            log = server.log_text()
        assert "request" in log  # the access log did run at DEBUG level
        in_log = [s[:8] for s in world.minted if s in log or s.split("_")[-1][:43] in log]
        in_store = _secrets_in_store(url, world.minted)
    assert not problems, "\n".join(problems)
    assert not in_log, f"keys in the server log: {in_log}"
    assert not in_store, f"keys in the database in clear: {in_store}"
    report(
        "security-matrix",
        backend=backend,
        cells=cells,
        endpoints=len(ENDPOINTS),
        key_kinds=len(KINDS),
        secrets_grepped=len(world.minted),
        found=0,
    )


@pytest.mark.slow
def test_rate_limit_is_per_read_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    world = _world(url)
    env = {"CREDITMETER_READ_RATE_LIMIT": "5"}
    hot, calm = world.tokens["read"], world.tokens["bot-bound"]
    with Server(url, tmp_path / "serve.log", env=env) as server, httpx.Client() as http:

        def read(token: str) -> httpx.Response:
            return http.get(
                f"{server.base_url}/v1/account/bill/total",
                params=DECEMBER,
                headers={"Authorization": f"Bearer {token}"},
            )

        hot_answers = [read(hot) for _ in range(30)]
        calm_answers = [read(calm) for _ in range(3)]
        ingest_answers = [
            http.post(
                f"{server.base_url}/v1/usage/events",
                json=_event(),
                headers={"Authorization": f"Bearer {world.tokens['ingest']}"},
            )
            for _ in range(30)
        ]
    limited = [a for a in hot_answers if a.status_code == 429]
    assert limited, [a.status_code for a in hot_answers]
    assert {a.status_code for a in hot_answers} == {200, 429}
    for answer in limited:
        assert answer.json()["code"] == 42900
        assert answer.headers["Retry-After"].isdigit()
        assert int(answer.headers["Retry-After"]) >= 1
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert [a.status_code for a in calm_answers] == [200] * 3  # another key is unaffected
    assert [a.status_code for a in ingest_answers] == [200] * 30  # platform keys: no limit
    report("rate-limit", hot_requests=30, limited=len(limited), other_key_ok=3)


def test_platform_rate_limit_is_configurable(sqlite_store: Store) -> None:
    app = create_app(
        settings_for_tests(database_url=str(sqlite_store.engine.url), platform_rate_limit=2),
        store=sqlite_store,
    )
    admin, other = make_key(sqlite_store, "admin"), make_key(sqlite_store, "admin")
    with TestClient(app) as client:
        answers = [
            client.get("/v1/admin/accounts", headers={"Authorization": f"Bearer {admin}"})
            for _ in range(10)
        ]
        assert 429 in [a.status_code for a in answers]
        assert (
            client.get(
                "/v1/admin/accounts", headers={"Authorization": f"Bearer {other}"}
            ).status_code
            == 200
        )


def test_cors_answers_only_configured_origins(sqlite_store: Store) -> None:
    allowed = "https://dash.example"
    app = create_app(
        settings_for_tests(database_url=str(sqlite_store.engine.url), cors_origins=[allowed]),
        store=sqlite_store,
    )
    with TestClient(app) as client:
        for origin, answered in ((allowed, True), (EVIL_ORIGIN, False)):
            preflight = client.options(
                "/v1/account/bill/page",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "GET",
                    "Access-Control-Request-Headers": "Authorization",
                },
            )
            assert ("access-control-allow-origin" in preflight.headers) is answered
            simple = client.get("/healthz", headers={"Origin": origin})
            assert (simple.headers.get("access-control-allow-origin") == origin) is answered
            assert simple.headers["x-frame-options"] == "DENY"
