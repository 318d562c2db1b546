"""Credit answers as JSON or CSV bytes: micro-credits written as exact JSON numbers."""

from __future__ import annotations

import csv
import io
import json
from json.encoder import encode_basestring_ascii as _quoted  # json.dumps of a str
from typing import Any

from ..accounts import Account
from ..credits.balances import Balance, Entry
from ..credits.grants import Grant
from ..credits.holds import Hold
from ..money import format_credits


class Credits(int):
    """Micro-credits, written as an exact decimal JSON number."""


def dumps(value: Any) -> bytes:
    """JSON of dicts, lists, str, int, None and Credits (exact decimals, no float)."""
    return _text(value).encode()


def _text(value: Any) -> str:
    # By exact type, the common ones first: an answer is written on every hold request.
    kind = type(value)
    if kind is str:
        return _quoted(value)
    if kind is Credits:
        return format_credits(value)
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    if kind is dict:
        return "{" + ",".join(f"{_quoted(k)}:{_text(v)}" for k, v in value.items()) + "}"
    if kind is list:
        return "[" + ",".join(map(_text, value)) + "]"
    return json.dumps(value)  # bool, and whatever else json writes


def account(a: Account) -> dict[str, Any]:
    threshold = a.low_balance_threshold
    return {
        "id": a.id,
        "name": a.name,
        "timezone": a.timezone,
        "created_at": a.created_at,
        "low_balance_threshold": None if threshold is None else Credits(threshold),
    }


def grant(g: Grant) -> dict[str, Any]:
    return {
        "id": g.grant_id,
        "kind": g.kind,
        "credits": Credits(g.credits),
        "remaining": Credits(g.remaining),
        "priority": g.priority,
        "expires_at": g.expires_at,
        "status": g.status,
        "note": g.note,
        "created_at": g.created_at,
    }


def balance(b: Balance) -> dict[str, Any]:
    return {
        "account_id": b.account_id,
        "balance": Credits(b.balance),
        "held": Credits(b.held),
        "available": Credits(b.available),
        "overage": Credits(b.overage),
        "seq": b.seq,
        "grants": [grant(g) for g in b.grants],
        "low_balance_threshold": (
            None if b.low_balance_threshold is None else Credits(b.low_balance_threshold)
        ),
    }


def entry(e: Entry) -> dict[str, Any]:
    row = e.row
    out: dict[str, Any] = {
        "seq": row.seq,
        "time": row.time,
        "type": row.type,
        "credits": Credits(row.credits),
        "balance_after": Credits(row.balance_after),
        "overage_after": Credits(row.overage_after),
    }
    if row.grant_id is not None:
        out["grant_id"] = row.grant_id
    out["allocations"] = [{"grant_id": g, "credits": Credits(c)} for g, c in e.allocations]
    if row.events_count is not None:
        out["events"] = {
            "count": row.events_count,
            "first_id": row.first_id,
            "last_id": row.last_id,
        }
    if row.note is not None:
        out["note"] = row.note
    return out


CSV_COLUMNS = (
    "seq",
    "time",
    "type",
    "credits",
    "balance_after",
    "overage_after",
    "grant_id",
    "allocations",
    "events_count",
    "first_id",
    "last_id",
    "note",
)


def entries_csv(entries: list[Entry]) -> bytes:
    """One row per entry; allocations as `grant_id:credits` joined by `;`."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        r = e.row
        allocations = ";".join(f"{g}:{format_credits(c)}" for g, c in e.allocations)
        writer.writerow(
            [
                r.seq,
                r.time,
                r.type,
                format_credits(r.credits),
                format_credits(r.balance_after),
                format_credits(r.overage_after),
                r.grant_id or "",
                allocations,
                "" if r.events_count is None else r.events_count,
                r.first_id or "",
                r.last_id or "",
                r.note or "",
            ]
        )
    return out.getvalue().encode()


def hold(h: Hold) -> dict[str, Any]:
    row = h.row
    return {
        "id": row.hold_id,
        "account_id": row.account_id,
        "credits": Credits(row.credits),
        "status": h.status,
        "expires_at": row.expires_at,
        "available": Credits(h.available),
    }
