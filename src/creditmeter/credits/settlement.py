"""The hold_id of usage events: read from the batch as sent (the stored event does not keep
it; it only settles a hold), and a bad one worded with the event's index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import InvalidInput
from ..events import Event
from . import inputs
from .holds import UnknownHolds


def named_holds(document: Any, batch: Sequence[Event]) -> dict[tuple[str, str], str]:
    """The hold_id each event of a parsed batch names, by event key (the first of a
    repeated id). InvalidInput listing every malformed hold_id."""
    raws = document["events"]
    named: dict[tuple[str, str], str] = {}
    errors = []
    for index, (raw, event) in enumerate(zip(raws, batch, strict=True)):
        value = raw.get("hold_id")
        if value is None:
            continue
        try:
            named.setdefault(event.key, inputs.client_id("hold_id", value))
        except InvalidInput as error:
            errors.append({"index": index, "field": "hold_id", "message": error.message})
    if errors:
        raise InvalidInput(
            f"{len(errors)} of {len(raws)} events are invalid and nothing was stored; "
            f"first: events[{errors[0]['index']}].hold_id {errors[0]['message']}",
            errors=errors,
        )
    return named


def worded(unknown: UnknownHolds, batch: Sequence[Event]) -> InvalidInput:
    """The refusal of a batch naming holds that do not exist, with each event's index."""
    errors = [
        {
            "index": index,
            "field": "hold_id",
            "message": f"hold {unknown.bad[event.event_id]!r} does not exist for account "
            f"{event.account_id!r}",
        }
        for index, event in enumerate(batch)
        if event.event_id in unknown.bad
    ]
    first = errors[0]
    return InvalidInput(
        f"{len(errors)} of {len(batch)} events name a hold that does not exist and nothing "
        f"was stored; first: events[{first['index']}].hold_id {first['message']}",
        errors=errors,
    )
