"""credit_json.dumps writes what json.dumps writes, except that Credits are exact decimals."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from creditmeter.http.credit_json import Credits, dumps

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**18), max_value=10**18),
    st.text(),
    st.floats(allow_nan=False, allow_infinity=False),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_VALUES)
def test_plain_values_are_written_as_json_writes_them(value: Any) -> None:
    assert dumps(value) == json.dumps(value, separators=(",", ":")).encode()


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_credits_are_exact_decimals(micro: int) -> None:
    written = dumps({"credits": Credits(micro), "n": micro, "ok": micro > 0})
    parsed = json.loads(written, parse_float=Decimal, parse_int=Decimal)
    assert parsed["credits"] == Decimal(micro) / 1_000_000
    assert parsed["n"] == micro
    assert parsed["ok"] is (micro > 0)
