"""FastAPI's validation errors (the admin bodies' models) in plain words, as the routes
that check their own fields word theirs: "name: must be at most 200 characters long", not
pydantic's "String should have at most 200 characters"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from pydantic import BaseModel

from ..credits.inputs import shown_id
from ..ids import SLUG_JSON_PATTERN, SLUG_RULE

# pydantic's error types, by the words said instead; {name}s come from the error's ctx.
_WORDS = {
    "missing": "is required",
    "string_type": "must be a string",
    "string_too_short": "must be at least {min_length} characters long",
    "string_too_long": "must be at most {max_length} characters long",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
}


def plain_words(item: Mapping[str, Any], route: object) -> str:
    """What is wrong with one field, for the message `field: words`."""
    kind = item.get("type", "")
    context = {name: _number(value) for name, value in (item.get("ctx") or {}).items()}
    if kind == "string_too_short" and context.get("min_length") == 1:
        return "must not be empty"
    if kind == "extra_forbidden":
        fields = body_fields(route)
        listed = f" ({', '.join(fields)})" if fields else ""
        return f"is not a field of this body{listed}"
    if kind == "string_pattern_mismatch":
        if context.get("pattern") == SLUG_JSON_PATTERN:  # as ids.check_slug words it
            return f"{shown_id(str(item.get('input', '')))} is not a valid id ({SLUG_RULE})"
        return f"must match {context.get('pattern')}"
    if kind == "json_invalid":
        reason, position = context.get("error", "cannot be decoded"), item.get("loc", ())[-1]
        return f"not valid JSON: {reason} at character {position}"
    template = _WORDS.get(kind)
    if template is None:
        return str(item.get("msg", "is invalid"))
    try:
        return template.format(**context)
    except (KeyError, IndexError):  # a ctx without the value: say the rule's gist
        return template.split(" {")[0]


def body_fields(route: object) -> list[str]:
    """The fields of the body model of a FastAPI route (`PortalTokenIn | None` too)."""
    field_info = getattr(getattr(route, "body_field", None), "field_info", None)
    annotation = getattr(field_info, "annotation", None)
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return sorted(candidate.model_fields)
    return []


def _number(value: Any) -> Any:
    """A bound as it was written: 36500, not pydantic's 36500.0 for a float field."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
