"""Bounds on every wait for PostgreSQL, so that a store that stops answering (a network
path that black-holes packets but keeps connections open) fails a request with 503 within
seconds instead of hanging it, and every worker thread and pooled connection with it.

- connecting: libpq's `connect_timeout`;
- a statement the server runs too long: `statement_timeout`, cancelled by the server itself;
- an answer that never comes: each round trip of a connection (a statement, a commit, the
  pool's ping and reset) waits at most the store timeout plus a second, then the connection
  is closed (it is in an unknown state) and the request fails as a store error;
- a peer that is gone: TCP keepalives and `tcp_user_timeout` let the kernel notice;
- a pool with every connection stuck: its checkout waits at most the store timeout.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import psycopg
from psycopg import errors
from psycopg.abc import PQGen

RV = TypeVar("RV")
GRACE_S = 1.0  # the server's own statement_timeout is given this long to answer first


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait for the server is bounded by `round_trip_s`
    (None: unbounded, as migrations are)."""

    round_trip_s: float | None = None

    def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        limit = self.round_trip_s if timeout is None else timeout
        try:
            return super().wait(gen, interval, limit)
        except errors._WaitTimeout:
            if timeout is not None:  # psycopg's own timeout (notifies): it handles it
                raise
            self.pgconn.finish()  # mid-protocol: the connection cannot be used again
            raise psycopg.OperationalError(
                f"the store did not answer within {limit:g} s; the connection was closed"
            ) from None


def connect_args(timeout_s: float) -> dict[str, Any]:
    """libpq's options for a store timeout of `timeout_s` seconds."""
    whole = max(2, math.ceil(timeout_s))  # libpq counts whole seconds, at least 2
    return {
        "connect_timeout": whole,
        "keepalives": 1,
        "keepalives_idle": whole,
        "keepalives_interval": 1,
        "keepalives_count": 3,
        "tcp_user_timeout": int(timeout_s * 1000),
        "options": f"-c statement_timeout={int(timeout_s * 1000)}",
    }


def connect(timeout_s: float, *cargs: Any, **cparams: Any) -> BoundedConnection:
    """A new connection, its round trips bounded by `timeout_s` plus GRACE_S."""
    conn = BoundedConnection.connect(*cargs, **cparams)
    conn.round_trip_s = timeout_s + GRACE_S
    return conn
