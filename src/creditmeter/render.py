"""Bill rows as JSON or CSV bytes, written directly: exact decimals, no re-validation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import cast

from .bills import DayBill
from .categories import CATEGORIES
from .money import format_credits

COLUMNS = ("date", "start_date", "end_date", "total", *CATEGORIES)
_FIGURES = len(COLUMNS) - 3
_JSON_ROW = (
    '{"date":"%s","start_date":"%s","end_date":"%s"'
    + "".join(f',"{name}":%s' for name in COLUMNS[3:])
    + "}"
)
_CSV_ROW = ",".join(["%s"] * len(COLUMNS)) + "\r\n"


def _figures(rows: Sequence[DayBill]) -> list[str]:
    """Every row's total and categories as exact decimal text, row after row."""
    return [format_credits(n) for row in rows for n in (sum(row.credits), *row.credits)]


class WrittenRows:
    """Rows already written, by template, date and credits: reports of overlapping windows
    repeat most of their days, and formatting ~800 figures costs more than the rest of a
    report. Bounded: cleared when full."""

    MAX = 1 << 14

    def __init__(self) -> None:
        self._texts: dict[tuple[str, date, tuple[int, ...]], str] = {}

    def join(self, rows: Sequence[DayBill], template: str, separator: str) -> str:
        """The rows through `template` (three dates, then the figures), joined."""
        written = self._texts
        keys = [(template, bill.date, tuple(bill.credits)) for bill in rows]
        texts = [written.get(key) for key in keys]
        new = [i for i, text in enumerate(texts) if text is None]
        if new:
            figures = _figures([rows[i] for i in new])
            if len(written) + len(new) > self.MAX:
                written.clear()
            for n, i in enumerate(new):
                day = rows[i].date.isoformat()
                text = template % (day, day, day, *figures[n * _FIGURES : (n + 1) * _FIGURES])
                texts[i] = written[keys[i]] = text
        return separator.join(cast(list[str], texts))


def rows_json(rows: Sequence[DayBill], written: WrittenRows) -> bytes:
    return ("[" + written.join(rows, _JSON_ROW, ",") + "]").encode()


def rows_csv(rows: Sequence[DayBill], written: WrittenRows) -> bytes:
    return (",".join(COLUMNS) + "\r\n" + written.join(rows, _CSV_ROW, "")).encode()


def total_json(first: date, last: date, credits: Sequence[int]) -> bytes:
    figures = [format_credits(n) for n in (sum(credits), *credits)]
    numbers = "".join(f',"{name}":{text}' for name, text in zip(COLUMNS[3:], figures, strict=True))
    return (
        f'{{"start_date":"{first.isoformat()}","end_date":"{last.isoformat()}"{numbers}}}'.encode()
    )
