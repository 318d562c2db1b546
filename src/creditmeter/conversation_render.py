"""A conversation (run) list page as JSON bytes, written directly: fields in the contract's
order, credits as exact decimals, each row's text reused while its figures are unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from json.encoder import encode_basestring_ascii

from .conversations import Listing
from .money import format_credits
from .store.conversation_credits import PageRow


@cache
def _row_template(listing: Listing) -> str:
    """The JSON of one row with a slot for the id (JSON text), the create time and each
    figure (its categories, then its total)."""
    figures = "".join(f',"{name}":%s' for name in (*listing.categories, "total"))
    return f'{{"{listing.id_field}":%s,"{listing.time_field}":%d{figures}}}'


class WrittenListRows:
    """Rows already written, by list and row (id, create time, credits): the pages of
    windows that overlap repeat most of their rows, and the ~1,100 figures of a page cost
    more to write than the page costs to read. Bounded: cleared when full."""

    MAX = 1 << 15

    def __init__(self) -> None:
        self._texts: dict[tuple[str, PageRow], str] = {}

    def join(self, listing: Listing, rows: Sequence[PageRow]) -> str:
        written = self._texts
        table = listing.table
        texts = []
        for row in rows:
            key = (table, row)
            text = written.get(key)
            if text is None:
                if len(written) >= self.MAX:
                    written.clear()
                text = written[key] = _write_row(listing, row)
            texts.append(text)
        return ",".join(texts)


def _write_row(listing: Listing, row: PageRow) -> str:
    thread_id, created_at, *credits = row
    # json.dumps of a str, without its dispatch on the argument's type.
    quoted = encode_basestring_ascii(thread_id)
    total = format_credits(sum(credits))
    return _row_template(listing) % (quoted, created_at, *map(format_credits, credits), total)


def list_json(
    listing: Listing,
    rows: Sequence[PageRow],
    written: WrittenListRows,
    *,
    total: int,
    page: int,
    page_size: int,
    start: int,
    end: int,
) -> bytes:
    """The whole answer: the page's rows, then the top-level `total` and the request's
    `page`, `page_size`, `start_time` and `end_time` (integers), in the contract's order."""
    return (
        f'{{"list":[{written.join(listing, rows)}],"total":{total},"page":{page},'
        f'"page_size":{page_size},"start_time":{start},"end_time":{end}}}'
    ).encode()
