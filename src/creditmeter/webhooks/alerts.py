"""Which alerts a journal entry sends, pure: from the balance before and after it, the
account's threshold and its alert state (none, low, depleted). The state lives on the row
every writer of the account's credits locks, so each crossing is decided once."""

from __future__ import annotations

BALANCE_LOW = "credits.balance_low"
BALANCE_DEPLETED = "credits.balance_depleted"
BALANCE_RECOVERED = "credits.balance_recovered"
GRANT_EXPIRED = "credits.grant_expired"
EVENT_TYPES = (BALANCE_LOW, BALANCE_DEPLETED, BALANCE_RECOVERED, GRANT_EXPIRED)

NONE, LOW, DEPLETED = "none", "low", "depleted"


def crossings(
    *, before: int, after: int, threshold: int | None, alert: str
) -> tuple[str, list[str]]:
    """The alert state after an entry that moved the balance from `before` to `after`, and
    the balance event types it sends, in order. An entry that goes from at or above the
    threshold to 0 or below crosses both lines: low, then depleted."""
    sent = []
    state = alert
    if threshold is not None and before >= threshold > after:
        sent.append(BALANCE_LOW)
        state = LOW
    if before > 0 >= after:
        sent.append(BALANCE_DEPLETED)
        state = DEPLETED
    if not sent and alert != NONE:
        back = after >= threshold if threshold is not None else after > 0
        if back:
            sent.append(BALANCE_RECOVERED)
            state = NONE
    return state, sent
