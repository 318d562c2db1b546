"""API keys: made with `secrets`, stored as a SHA-256 hash, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import zlib
from dataclasses import asdict, dataclass

from .cache import GenerationCache
from .clock import now_ms
from .errors import InvalidInput, NotFound, Unauthorized
from .ids import check_slug
from .labels import KEY_NAME_MAX, check_label
from .store import Store, directory

SCOPES = ("read", "ingest", "admin")
PREFIXES = {"read": "cmr", "ingest": "cmi", "admin": "cma"}
_ALPHABET = string.ascii_letters + string.digits
_SECRET_CHARS = 43  # 43 base-62 characters: 256 bits
_TOKEN = re.compile(r"(cmr|cmi|cma)_([0-9A-Za-z]{12})_([0-9A-Za-z]{43})([0-9A-Za-z]{6})")
_KEY_ID = re.compile(r"[0-9A-Za-z]{12}")
DAY_MS = 86_400_000
MAX_EXPIRY_DAYS = 36_500


@dataclass(frozen=True, slots=True)
class Key:
    """An API key as stored: its secret only as a hash."""

    key_id: str
    secret_hash: str
    scope: str
    account_id: str | None
    bot_id: str | None
    name: str | None
    created_at: int
    expires_at: int | None
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class NewKey:
    record: Key
    token: str  # shown once, never stored


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def checksum(body: str) -> str:
    value, digits = zlib.crc32(body.encode()), []
    for _ in range(6):
        value, rest = divmod(value, 62)
        digits.append(_ALPHABET[rest])
    return "".join(digits)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(
    *,
    store: Store,
    scope: str,
    account_id: str | None = None,
    bot_id: str | None = None,
    name: str | None = None,
    expires_in_days: float | None = None,
    expires_in_ms: int | None = None,
) -> NewKey:
    """A read key for `account_id` (optionally bound to `bot_id`), or a platform key.
    `expires_in_ms` is for short-lived keys (portal links), exact to the millisecond."""
    if scope not in SCOPES:
        raise InvalidInput(f"scope: must be one of {', '.join(SCOPES)}")
    if account_id is not None:
        check_slug("account_id", account_id)
    if bot_id is not None:
        check_slug("bot_id", bot_id)  # the rule events follow: a bot no event can name is none
    if name is not None:
        check_label("name", name, max_length=KEY_NAME_MAX)
    if (scope == "read") != (account_id is not None):
        raise InvalidInput("account_id: read keys belong to an account; platform keys do not")
    if expires_in_days is not None and not 0 < expires_in_days <= MAX_EXPIRY_DAYS:
        raise InvalidInput(f"expires_in_days: must be > 0 and at most {MAX_EXPIRY_DAYS}")
    if expires_in_ms is not None and expires_in_days is not None:
        raise InvalidInput("give expires_in_days or expires_in_ms, not both")
    if expires_in_ms is not None and not 0 < expires_in_ms <= MAX_EXPIRY_DAYS * DAY_MS:
        raise InvalidInput(f"expires_in_ms: must be > 0 and at most {MAX_EXPIRY_DAYS * DAY_MS}")
    if expires_in_days is not None:
        expires_in_ms = int(expires_in_days * DAY_MS)
    key_id = _random(12)
    body = f"{PREFIXES[scope]}_{key_id}_{_random(_SECRET_CHARS)}"
    token = body + checksum(body)
    created = now_ms()
    record = Key(
        key_id=key_id,
        secret_hash=hash_token(token),
        scope=scope,
        account_id=account_id,
        bot_id=bot_id,
        name=name,
        created_at=created,
        expires_at=None if expires_in_ms is None else created + expires_in_ms,
        revoked_at=None,
    )
    with store.write() as conn:
        if account_id is not None:
            if directory.get_account(conn, account_id) is None:
                raise NotFound(f"account {account_id!r} does not exist")
            if bot_id is not None:
                directory.ensure_bots(conn, [(account_id, bot_id)], created)
        directory.insert_key(conn, asdict(record))
    return NewKey(record, token)


def parse_token(token: str) -> str | None:
    """The key_id of a well-formed token with a valid checksum, else None."""
    match = _TOKEN.fullmatch(token)
    if match is None or checksum(token[:-6]) != match.group(4):
        return None
    return match.group(2)


KeyCache = GenerationCache[str, Key]  # token hash -> key; see authenticate


def authenticate(
    *, store: Store, token: str, cache: KeyCache | None = None, generation: int | None = None
) -> Key:
    """The live key this token is; Unauthorized (one message for every reason) otherwise.

    With a cache, a key read once is reused while nothing is committed anywhere: a
    revocation is a commit, so it fails the very next request in every process.
    `generation` is the store's, read at the start of the request (see Store.generation)."""
    key_id = parse_token(token)
    if key_id is None:
        raise Unauthorized()
    digest = hash_token(token)
    record = cache.get(digest, generation) if cache is not None else None
    if record is None:
        with store.read() as conn:
            row = directory.get_key(conn, key_id)
        record = None if row is None else Key(*row)
        if record is None or not hmac.compare_digest(record.secret_hash, digest):
            raise Unauthorized()
        if cache is not None:
            cache.put(digest, generation, record)
    return live(record)


def live(record: Key) -> Key:
    """The key, if it is still live now; Unauthorized once it is revoked or expired."""
    if not is_live(record, now_ms()):
        raise Unauthorized()
    return record


def is_live(record: Key, now: int) -> bool:
    return record.revoked_at is None and (record.expires_at is None or now < record.expires_at)


def check_key_id(key_id: str) -> str:
    if not _KEY_ID.fullmatch(key_id):
        raise InvalidInput(f"key_id: {key_id!r} is not a key id (12 letters and digits)")
    return key_id


def revoke_key(*, store: Store, key_id: str) -> Key:
    check_key_id(key_id)
    with store.write() as conn:
        if not directory.revoke_key(conn, key_id, now_ms()):
            raise NotFound(f"key {key_id!r} does not exist")
        row = directory.get_key(conn, key_id)
    assert row is not None
    return Key(*row)


def list_keys(*, store: Store, account_id: str | None = None) -> list[Key]:
    if account_id is not None:
        check_slug("account_id", account_id)
    with store.read() as conn:
        return [Key(*row) for row in directory.list_keys(conn, account_id)]
