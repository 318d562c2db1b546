"""Bill rows as JSON or CSV bytes, written directly: exact decimals, no re-validation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ..bills import DayBill
from ..categories import CATEGORIES
from ..money import format_credits

COLUMNS = ("date", "start_date", "end_date", "total", *CATEGORIES)
_NUMBERS = "".join(f',"{name}":%s' for name in ("total", *CATEGORIES))
_JSON_ROW = '{"date":"%s","start_date":"%s","end_date":"%s"' + _NUMBERS + "}"


def _figures(credits: Sequence[int]) -> tuple[str, ...]:
    return (format_credits(sum(credits)), *map(format_credits, credits))


def rows_json(rows: Sequence[DayBill]) -> bytes:
    parts = []
    for row in rows:
        day = row.date.isoformat()
        parts.append(_JSON_ROW % (day, day, day, *_figures(row.credits)))
    return ("[" + ",".join(parts) + "]").encode()


def rows_csv(rows: Sequence[DayBill]) -> bytes:
    lines = [",".join(COLUMNS)]
    for row in rows:
        day = row.date.isoformat()
        lines.append(",".join((day, day, day, *_figures(row.credits))))
    return ("\r\n".join(lines) + "\r\n").encode()


def total_json(first: date, last: date, credits: Sequence[int]) -> bytes:
    numbers = _NUMBERS % _figures(credits)
    return (
        f'{{"start_date":"{first.isoformat()}","end_date":"{last.isoformat()}"' + numbers + "}"
    ).encode()
