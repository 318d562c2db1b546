"""When a delivery is tried again, pure: the delay of the retry schedule for the attempts
made so far, with up to 10% jitter, or a longer Retry-After; None once the schedule is
spent (N delays give N + 1 attempts)."""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import parsedate_to_datetime

from ..ids import is_digits

JITTER = 0.1
MAX_RETRY_AFTER_S = 86_400.0  # a receiver cannot park a delivery for longer than a day


def next_delay(
    delays: Sequence[float], attempts: int, retry_after: float | None, jitter: float
) -> float | None:
    """Seconds until the next attempt after `attempts` (>= 1) failed ones in this round;
    `jitter` in [0, 1) scales the 10%."""
    if attempts > len(delays):
        return None
    delay = delays[attempts - 1] * (1 + JITTER * jitter)
    if retry_after is not None and retry_after > delay:
        delay = min(retry_after, MAX_RETRY_AFTER_S)
    return delay


def retry_after(value: str | None, now_s: float) -> float | None:
    """A Retry-After header's seconds from now (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if is_digits(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now_s)
