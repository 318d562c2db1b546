"""Body to events, the fast way (jsonbody.decode_fast, then parse_batch's checks made a field at
a time over the batch) against the strict way it must equal in every answer: jsonbody.decode,
then parse_event for each event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditmeter import events, jsonbody
from creditmeter.errors import InvalidInput
from creditmeter.events import Event
from creditmeter.jsonbody import JsonNumber
from creditmeter.money import parse_credits

NOW = 1_735_000_000_000  # 2024-12-24: the clock both ways read, so "the future" stays put
DAY = 24 * 3_600_000

Outcome = tuple[Any, ...]


def _outcome(run: Callable[[], list[Event]]) -> Outcome:
    try:
        events = run()
    except InvalidInput as error:
        return ("refused", error.code, error.message, error.extra)
    assert all(type(event) is Event for event in events)
    return ("events", events)


def fast(body: bytes) -> Outcome:
    """As the route reads a body."""
    with mock.patch.object(events, "now_ms", return_value=NOW):
        return _outcome(lambda: events.parse_batch(jsonbody.decode_fast(body)))


def strict(body: bytes) -> Outcome:
    """As the route read a body before the fast way: decode, then parse_event per event."""
    with (
        mock.patch.object(events, "now_ms", return_value=NOW),
        mock.patch.object(events, "parse_valid_batch", return_value=None),
    ):
        return _outcome(lambda: events.parse_batch(jsonbody.decode(body)))


def _event(**fields: str) -> str:
    """An event as JSON text, each value given as the JSON text to send."""
    values = {
        "id": '"e1"',
        "account_id": '"acme"',
        "bot_id": '"b1"',
        "category": '"chat"',
        "credits": '"0.5"',
        "timestamp": "1733011200000",
        **fields,
    }
    return "{" + ", ".join(f'"{name}": {value}' for name, value in values.items()) + "}"


def _body(*events: str) -> bytes:
    return ('{"events": [' + ", ".join(events) + "]}").encode()


TRICKY_BODIES = [
    # numbers, in the fields that read their text
    *(
        _body(_event(credits=text), _event(id='"e2"'))
        for text in [
            "0",
            "-0",
            "-0.0",
            "0.5",
            "1.250000",
            "1e2",
            "1E2",
            "0.1e1",
            "1e400",
            "1.1234567",
            "1000000",
            "1000000.000001",
            "9" * 400,
            "9" * 4300,
            "9" * 4301,
            "-1",
            '"1.5"',
            '"\\u0031.5"',
            '"0.5\\n"',
            '"+1"',
            "true",
            "null",
        ]
    ),
    *(
        _body(_event(timestamp=text))
        for text in [
            "-0",
            "0",
            "946684799999",
            "946684800000",
            str(NOW + DAY),
            str(NOW + DAY + 1),
            "1" + "0" * 19,
            "1733011200000.5",
            "1.7e12",
            '"1733011200000"',
            '"2024-12-01T08:00:00+08:00"',
            '"2024-12-01T08:00:00"',
            "false",
        ]
    ),
    # a number where a string must be, and strings that look like others
    _body(_event(id="12")),
    _body(_event(id="-0")),
    _body(_event(account_id="7", bot_id="1.5")),
    _body(_event(category='"ch\\u0061t"', bot_id='"b\\u0031"')),
    _body(_event(id='"caf\\u00e9"')),
    _body(_event(id='"a\\nb"'), _event(id='"a"'), _event(id='"b"')),
    _body(_event(conversation_id='"\\ud83d\\ude00"')),
    _body(_event(conversation_id="12")),
    # metadata: canonical text, numbers, duplicates within, surrogates
    _body(_event(metadata='{"z": 1, "a": {"b": [1, 2.5, -0, 1e3, 1.0]}, "t": true}')),
    _body(_event(metadata='{"a": {"b": 1, "b": 2}}')),
    _body(_event(metadata='{"n": 1e400}')),
    _body(_event(metadata='{"n": ' + "9" * 400 + "}")),
    _body(_event(metadata='{"s": "\\ud83d\\ude00", "k": "\\u00e9"}')),
    _body(_event(metadata='{"s": "\\ud800"}')),
    _body(_event(metadata='{"s": "x\\udc00"}')),
    _body(_event(metadata='{"blob": "' + "x" * 5000 + '"}')),
    _body(_event(metadata="[1]")),
    # fields: extra, missing, repeated
    _body(_event(colour='"red"')),
    _body('{"id": "e1", "account_id": "acme", "category": "chat", "credits": 1, "timestamp": 1}'),
    _body('{"id": "e1", "id": "e1", "account_id": "acme", "bot_id": "b1", "category": "chat"}'),
    _body(_event(), '"event"', "null", "[]"),
    # bodies
    b'{"events": [], "events": []}',
    b'{"events": [1], "extra": 2}',
    b"[]",
    b"",
    b"\xef\xbb\xbf" + _body(_event()),
    _body(_event(bot_id='"\xff"')),
    _body(_event(bot_id='"\xed\xa0\x80"')),
    _body(_event(credits="NaN")),
    _body(_event(credits="-Infinity")),
    _body(_event(metadata='{"deep": ' + "[" * 300 + "]" * 300 + "}")),
    b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    _body(_event()) + b" x",
    _body(_event(id='"\x01"')),
    _body(_event()).replace(b'"id": ', b'"id" :\n\t'),
]


@pytest.mark.parametrize("body", TRICKY_BODIES)
def test_tricky_bodies_get_the_strict_answer(body: bytes) -> None:
    assert fast(body) == strict(body)


def test_a_full_batch_gets_the_strict_answer() -> None:
    events = [
        _event(
            id=f'"p-{n:09d}"',
            account_id=f'"acct-{n % 50:02d}"',
            bot_id=f'"bot-{n % 20:03d}"',
            category=f'"{("chat", "rerank", "tts")[n % 3]}"',
            credits=f'"{n % 5}.{n:06d}"' if n % 2 else f"{n % 5}.{n % 1000}",
            timestamp=f'"2024-12-{1 + n % 28:02d}T08:00:00.{n % 1000:03d}+08:00"'
            if n % 20 == 0
            else str(NOW - n * 1000),
        )
        for n in range(1000)
    ]
    assert fast(_body(*events)) == strict(_body(*events))
    assert fast(_body(*events))[0] == "events"


# Hypothesis: events whose fields are drawn from good and bad JSON texts, sometimes missing,
# repeated, unknown or in another order.

GOOD = {
    "id": ['"e1"', '"e2"', '"p-000000001"', '"' + "x" * 128 + '"', '"!~"'],
    "account_id": ['"acme"', '"acct-00"', '"a"'],
    "bot_id": ['"b1"', '"bot-0"', '"b\\u0031"'],
    "category": [
        '"chat"',
        '"tts"',
        '"knowledge_doc_indexing"',
        '"rerank"',
        '"moderation"',
        '"question_tag"',
        '"anonymization"',
        '"knowledge_doc_storage"',
    ],
    "credits": ["0", "1", "0.5", "1.250000", "999999.999999", "1000000", '"0.5"', '"7"'],
    "timestamp": ["1733011200000", "946684800000", str(NOW + DAY), '"2024-12-01T08:00:00Z"'],
    "conversation_id": ['"c1"', "null", '"a b~"'],
    "run_id": ['"r1"', "null", '"run 7"'],
    "metadata": ["null", "{}", '{"model": "x", "tokens": 1200, "cost": 0.25, "z": [true]}'],
    "colour": ['"red"'],  # never good, but here so that it can be drawn at all
}
BAD = {
    "id": ['""', '"' + "x" * 129 + '"', '"a b"', '"caf\\u00e9"', "12", "null", '["e1"]'],
    "account_id": ['"ACME"', '""', "7", '"' + "a" * 65 + '"', '{"a": 1}'],
    "bot_id": ['"b 1"', "true", "-0", '"b\\n"'],
    "category": ['"CHAT"', '"video"', "{}", "0", '"chat\\n"'],
    "credits": ["-0", "1e2", "1.1234567", "1000000.000001", "9" * 30, "-1", "1e400", '"+1"'],
    "timestamp": ["-0", "0", "946684799999", str(NOW + DAY + 1), "1.7e12", '"1733011200000"'],
    "conversation_id": ['""', "12", '"a\\u0007b"', '"\\u00e9\\ud83d\\ude00"'],
    "run_id": ['""', "7", '"' + "r" * 257 + '"', '"caf\\u00e9"'],
    "metadata": [
        "[1]",
        '"x"',
        '{"d": ' + "[" * 64 + "]" * 64 + "}",  # 65 deep
        '{"a": {"b": 1, "b": 2}}',
        '{"s": "\\ud800"}',
    ],
    "colour": ['"red"'],
}


@st.composite
def raw_events(draw: st.DrawFn) -> str:
    fields = [f for f in events.REQUIRED if draw(st.integers(0, 29))]  # now and then one missing
    fields += [f for f in ("conversation_id", "metadata", "run_id") if draw(st.booleans())]
    if not draw(st.integers(0, 29)):
        fields.append("colour")
    if fields and not draw(st.integers(0, 19)):
        fields.append(draw(st.sampled_from(fields)))  # a repeated key
    fields = draw(st.permutations(fields))
    colon = draw(st.sampled_from([": ", ":", " : "]))

    def value(field: str) -> str:
        return draw(st.sampled_from(GOOD[field] if draw(st.integers(0, 19)) else BAD[field]))

    return "{" + ",".join(f'"{field}"{colon}{value(field)}' for field in fields) + "}"


@settings(max_examples=400, deadline=None)
@given(st.lists(raw_events(), min_size=1, max_size=4))
def test_any_batch_gets_the_strict_answer(batch: list[str]) -> None:
    body = _body(*batch)
    assert fast(body) == strict(body)


# decode_fast reads what decode reads (numbers as the text sent) and refuses what it refuses.

ATOMS = ["0", "-0", "-0.0", "1", "-1", "1e400", "1E+2", "0.30000000000000004", "9" * 30]
ATOMS += ["true", "false", "null", "NaN", "-Infinity", '"a"', '"\\u0000"', '"\\/"', '"\x01"']
ATOMS += ['"\\ud800"', '"\\udc00x"', '"\\ud83d\\ude00"', '"caf\u00e9"', '"\\u00e9"']
KEYS = ['"a"', '"b"', '"\\u0061"', '"\u00e9"', '""']


@st.composite
def json_texts(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(st.integers(0, 2 if depth < 4 else 0))
    if kind == 0:
        return draw(st.sampled_from(ATOMS))
    if kind == 1:
        return "[" + ",".join(draw(st.lists(json_texts(depth + 1), max_size=3))) + "]"
    keys = draw(st.lists(st.sampled_from(KEYS), max_size=3))  # now and then a repeated one
    return "{" + ",".join(f"{key}:{draw(json_texts(depth + 1))}" for key in keys) + "}"


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    body = draw(json_texts()).encode()
    if not draw(st.integers(0, 3)):  # a few bytes of anything, anywhere
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.binary(max_size=3)) + body[at:]
    return body


def _read(decode: Callable[[bytes], Any], body: bytes) -> Outcome:
    try:
        return ("read", _numbers_as_text(decode(body)))
    except InvalidInput as error:
        return ("refused", error.message)


def _numbers_as_text(value: Any) -> Any:
    if (text := jsonbody.number_text(value)) is not None:
        return ("number", text)
    if isinstance(value, dict):
        return [(key, _numbers_as_text(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_numbers_as_text(item) for item in value]
    return value


@settings(max_examples=500, deadline=None)
@given(json_bodies())
def test_decode_fast_reads_what_decode_reads(body: bytes) -> None:
    assert _read(jsonbody.decode_fast, body) == _read(jsonbody.decode, body)


@pytest.mark.parametrize("body", TRICKY_BODIES)
def test_decode_fast_reads_the_tricky_bodies_as_decode_does(body: bytes) -> None:
    assert _read(jsonbody.decode_fast, body) == _read(jsonbody.decode, body)


# The fast way must be the one usually taken, or it saves nothing.


@pytest.mark.parametrize(
    "event",
    [
        _event(),
        _event(credits="0.25", timestamp='"2024-12-01T08:00:00Z"'),
        _event(credits="12", conversation_id='"c1"', metadata='{"tokens": 1200, "cost": 0.25}'),
        _event(id='"bot-0"'),  # not a -0 number: jiter reads it
    ],
)
def test_valid_batches_take_the_fast_way(event: str) -> None:
    document = jsonbody.decode_fast(_body(event, event.replace('"e1"', '"e2"')))
    assert events.parse_valid_batch(document["events"], NOW) is not None


def test_decode_fast_keeps_numbers_exact() -> None:
    value = jsonbody.decode_fast(b'[12, 0.1, 1.250000, 1E2, -0.0, 1e400, true, "12"]')
    assert [jsonbody.number_text(v) for v in value] == [
        "12",
        "0.1",
        "1.250000",
        "1E2",
        "-0.0",
        "1e400",
        None,
        None,
    ]
    assert type(value[0]) is int  # jiter read it, not decode


def test_ids_with_minus_zero_in_them_are_read_by_jiter() -> None:
    value = jsonbody.decode_fast(b'{"bot_id": "bot-0", "id": "e-0", "n": 5}')
    assert type(value["n"]) is int  # not a JsonNumber: jiter read it


def test_minus_zero_as_an_object_member_is_read_by_decode() -> None:
    assert type(jsonbody.decode_fast(b'{"credits":\n -0}')["credits"]) is JsonNumber


@pytest.mark.parametrize(
    "body", [b"-0", b" -0", b"[-0]", b"[1,-0]", b"[-0 ]", b"[1,\n\t -0]", b'["x, -0", -0]']
)
def test_a_body_that_may_hold_minus_zero_is_read_by_decode(body: bytes) -> None:
    # jiter reads -0 as the int 0, whose text is "0": credits of -0 would pass
    value = jsonbody.decode_fast(body)
    assert value == jsonbody.decode(body)
    assert type(value if type(value) is JsonNumber else value[-1]) is JsonNumber


@pytest.mark.parametrize(
    ("texts", "matches"),
    [
        (["a", "b"], True),
        (["a", "b c"], False),
        (["a\nb"], False),  # two good lines, but one text
        (["a\nb", "c"], False),
        ([""], False),
        (["a", ""], False),
    ],
)
def test_every_match(texts: list[str], matches: bool) -> None:
    assert events.every_match(events.EVENT_ID, texts) is matches


@given(
    st.one_of(
        st.from_regex(r"-?[0-9]{1,9}(\.[0-9]{0,8})?([eE][+-]?[0-9])?", fullmatch=True),
        st.text(max_size=12),
        st.integers(-10, 10**15),
    )
)
def test_micro_credits_is_parse_credits(value: str | int) -> None:
    text = str(value)
    try:
        expected: list[int] | None = [parse_credits(text)]
    except ValueError:
        expected = None
    assert events.micro_credits([value]) == expected
