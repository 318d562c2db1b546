"""Every knob of creditmeter, read from `CREDITMETER_*` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDITMETER_", extra="ignore")

    database_url: str = Field(
        "sqlite:///creditmeter.db",
        description="Where the ledger lives: `sqlite:///relative.db`, "
        "`sqlite:////absolute/path.db` or `postgresql://user@host:5432/db`.",
    )
    sqlite_synchronous: Literal["FULL", "NORMAL", "EXTRA"] = Field(
        "FULL",
        description="SQLite `PRAGMA synchronous`. FULL (default) makes an acknowledged event "
        "survive a power loss; NORMAL may lose the last transactions on power loss (never on "
        "a process crash).",
    )
    sqlite_busy_timeout_ms: int = Field(
        5000,
        ge=0,
        description="How long a SQLite writer waits for the lock held by another process "
        "before the request answers 503 with Retry-After.",
    )
    sqlite_writer_process: bool = Field(
        True,
        description="`serve` only: each worker process hands the batches of a SQLite file to "
        "a writer process of its own, whose write turn never waits for the GIL of a process "
        "that is also answering requests. false: the worker's threads write them.",
    )
    store_timeout_s: float = Field(
        5,
        gt=0,
        le=3600,
        description="How long a request waits for the store before it answers 503 with "
        "Retry-After: for a free pooled connection, and on PostgreSQL to connect (whole "
        "seconds, at least 2), for a statement (`statement_timeout`, cancelled by the server) "
        "and for any answer at all (this plus one second, then the connection is closed); "
        "TCP keepalives and `tcp_user_timeout` follow it too. SQLite writers wait "
        "`CREDITMETER_SQLITE_BUSY_TIMEOUT_MS` for the write lock.",
    )
    pool_size: int = Field(
        8, ge=1, description="PostgreSQL connections kept open per worker process."
    )
    read_rate_limit: float = Field(
        10,
        ge=0,
        description="Requests per second allowed per read key (a burst of the same size is "
        "allowed); 0 turns the limit off. Counted per worker process.",
    )
    platform_rate_limit: float = Field(
        0,
        ge=0,
        description="Requests per second allowed per platform (ingest/admin) key; 0 (default) "
        "means unlimited.",
    )
    retry_after_seconds: int = Field(
        1, ge=1, description="The `Retry-After` value sent with 503 answers."
    )
    shutdown_timeout_seconds: int = Field(
        30,
        ge=1,
        description="On SIGTERM `serve` stops accepting connections at once and waits up to "
        "this long for requests in flight to be answered before it cancels them.",
    )
    max_body_bytes: int = Field(
        65536,
        ge=1024,
        description="Largest request body accepted anywhere but `POST /v1/usage/events` "
        "(whose limit is 1 MiB); a larger one answers 413 before it is read whole.",
    )
    max_header_bytes: int = Field(
        32768,
        ge=1024,
        description="`serve` only: largest request line and headers together; more answers "
        "431 and the connection is closed.",
    )
    header_timeout_seconds: float = Field(
        10,
        gt=0,
        description="`serve` only: a connection must send a whole request line and headers "
        "this long after it opens (or after its first byte of a next request); else 408 "
        "and it is closed.",
    )
    body_timeout_seconds: float = Field(
        30,
        gt=0,
        description="A request body must arrive whole this long after its headers; else "
        "408 and the connection is closed.",
    )
    keep_alive_timeout_seconds: int = Field(
        5,
        ge=1,
        description="`serve` only: an idle keep-alive connection is closed after this long.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest level of log lines written to stderr."
    )
    log_format: Literal["json", "text"] = Field(
        "json",
        description="`json`: one JSON object per line; `text`: the same fields as "
        "`key=value` pairs on a human-readable line.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed by CORS, as a JSON list; empty (default) turns CORS off.",
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The address users reach the service at, used in the URLs the demo prints "
        "and in portal links (`POST /v1/admin/accounts/{id}/portal-tokens`).",
    )
    webhook_delivery: bool = Field(
        True,
        description="`serve` only: whether this process runs a webhook deliverer (`on` or "
        "`off`). Every worker may run one; each delivery is attempted by one at a time.",
    )
    webhook_allow_private: bool = Field(
        False,
        description="Allow webhook URLs that resolve to loopback, private, link-local, "
        "unspecified or multicast addresses (checked at registration and at every attempt). "
        "For tests and closed networks only.",
    )
    webhook_retry_schedule: str = Field(
        "5,300,1800,7200,18000,36000,36000",
        description="Seconds between webhook attempts, comma-separated; each delay gets up "
        "to 10% jitter and a longer `Retry-After` wins. N delays give N + 1 attempts, then "
        "the delivery is `failed`.",
    )
    webhook_timeout_s: float = Field(
        10, gt=0, le=300, description="How long one webhook attempt may take in all."
    )

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _delays(cls, value: str) -> str:
        retry_delays(value)
        return value

    @property
    def webhook_retry_delays(self) -> list[float]:
        return retry_delays(self.webhook_retry_schedule)


def retry_delays(schedule: str) -> list[float]:
    """`5,300,1800` -> [5.0, 300.0, 1800.0]; ValueError unless each is a number >= 0."""
    if not schedule.strip():
        return []
    delays = []
    for part in schedule.split(","):
        try:
            delay = float(part)
        except ValueError:
            raise ValueError(f"{part.strip()!r} is not a number of seconds") from None
        if not 0 <= delay <= 7 * 86400:
            raise ValueError("each delay must be from 0 to 604800 seconds")
        delays.append(delay)
    return delays
