"""Bill rows are written with exact decimals, memoised rows included."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from creditmeter.bills import DayBill
from creditmeter.categories import CATEGORIES
from creditmeter.render import COLUMNS, WrittenRows, rows_csv, rows_json

# Figures around the edges of six decimals and of float precision, up to a day's worst case.
EDGES = [0, 1, 99, 100, 101, 999_999, 1_000_000, 10**15 - 1, 10**15, 10**15 + 1]
figure = st.one_of(
    st.sampled_from(EDGES),
    st.integers(0, 10**6),
    st.integers(0, 10**13),
    st.integers(0, 10**16).map(lambda n: n // 10**6 * 10**6),  # whole credits
)
rows_strategy = st.lists(
    st.lists(figure, min_size=len(CATEGORIES), max_size=len(CATEGORIES)), max_size=12
)


def _exact(micro: int) -> str:
    """The decimal text of micro / 10^6, by Decimal: the shortest, exact, no exponent."""
    return format(Decimal(micro).scaleb(-6).normalize(), "f")


def _bills(figures: list[list[int]]) -> list[DayBill]:
    first = date(2026, 1, 1)
    return [DayBill(first + timedelta(days=i), credits) for i, credits in enumerate(figures)]


def _expected_json(bills: list[DayBill]) -> str:
    rows = []
    for bill in bills:
        day = bill.date.isoformat()
        numbers = [_exact(n) for n in (sum(bill.credits), *bill.credits)]
        fields = [f'"{k}":"{day}"' for k in COLUMNS[:3]]
        fields += [f'"{k}":{v}' for k, v in zip(COLUMNS[3:], numbers, strict=True)]
        rows.append("{" + ",".join(fields) + "}")
    return "[" + ",".join(rows) + "]"


@given(rows_strategy)
def test_json_rows_are_the_exact_decimals(figures: list[list[int]]) -> None:
    bills = _bills(figures)
    body = rows_json(bills, WrittenRows())
    assert body.decode() == _expected_json(bills)
    for row, bill in zip(json.loads(body, parse_float=Decimal), bills, strict=True):
        assert Decimal(row["total"]) * 10**6 == sum(bill.credits)


@given(rows_strategy)
def test_csv_rows_are_the_exact_decimals(figures: list[list[int]]) -> None:
    bills = _bills(figures)
    lines = list(csv.reader(io.StringIO(rows_csv(bills, WrittenRows()).decode(), newline="")))
    assert lines[0] == list(COLUMNS)
    for line, bill in zip(lines[1:], bills, strict=True):
        day = bill.date.isoformat()
        numbers = [_exact(n) for n in (sum(bill.credits), *bill.credits)]
        assert line == [day, day, day, *numbers]
    assert len(lines) == len(bills) + 1


def test_tiny_and_huge_figures_are_written_in_full() -> None:
    bills = _bills([[1, 0, 0, 0, 0, 0, 0, 50], [10**15, 0, 0, 0, 0, 0, 0, 0], [100] * 8])
    text = rows_json(bills, WrittenRows()).decode()
    assert '"chat":0.000001' in text
    assert '"tts":0.00005' in text
    assert '"chat":1000000000' in text
    assert '"total":0.0008' in text
    assert "e-" not in text
    assert ".0," not in text
