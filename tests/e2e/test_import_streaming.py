"""`creditmeter import` checks a file in bounded memory, with a progress bar for each pass
(issue 15, item 14)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from rich.progress import Progress

from creditmeter import accounts, importer
from creditmeter.errors import Conflict
from creditmeter.events import parse_batch
from creditmeter.ingest import Ingestion
from creditmeter.store import Store


def _event(i: int, credits: str = "1.5") -> dict[str, object]:
    return {
        "id": f"evt-{i:07d}",
        "account_id": "acme",
        "bot_id": f"b{i % 3}",
        "category": "chat",
        "credits": credits,
        "timestamp": 1733011200000 + i,
    }


def _write(path: Path, events: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def _peak_of_check(store: Store, path: Path) -> int:
    tracemalloc.start()
    try:
        importer.check_file(store=store, path=path, fmt="jsonl")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_check_pass_does_not_grow_with_the_file(sqlite_store: Store, tmp_path: Path) -> None:
    accounts.create_account(store=sqlite_store, account_id="acme")
    small = _peak_of_check(
        sqlite_store, _write(tmp_path / "s.jsonl", [_event(i) for i in range(2000)])
    )
    large = _peak_of_check(
        sqlite_store, _write(tmp_path / "l.jsonl", [_event(i) for i in range(12000)])
    )
    # Keeping every key in memory costs ~350 bytes a line: 10,000 more lines, ~3.5 MB more.
    assert large < small + 1_500_000, (small, large)


def test_reuse_is_found_across_batches_in_the_file_and_in_the_store(
    store: Store, tmp_path: Path
) -> None:
    accounts.create_account(store=store, account_id="acme")
    Ingestion.of(store).ingest(parse_batch({"events": [_event(5)]}))
    events = [_event(i) for i in range(2500)]
    events[5] = _event(5, "2")  # stored with 1.5
    events[2100] = _event(7, "3")  # line 8 had 1.5
    events[2200] = _event(7)  # the same as line 8: a duplicate, no conflict
    events.append(_event(2499, "4"))  # the line before, other content
    path = _write(tmp_path / "reuse.jsonl", events)
    with pytest.raises(Conflict) as conflict:
        importer.check_file(store=store, path=path, fmt="jsonl")
    assert conflict.value.extra["errors"] == [
        "line 6: id 'evt-0000005' is already stored with other content",
        "line 2101: id 'evt-0000007' was used at line 8 with other content",
        "line 2501: id 'evt-0002499' was used at line 2500 with other content",
    ]


def test_each_pass_has_its_progress_bar(
    sqlite_store: Store, tmp_path: Path, capsys: object
) -> None:
    accounts.create_account(store=sqlite_store, account_id="acme")
    path = _write(tmp_path / "e.jsonl", [_event(i) for i in range(1500)])
    tasks: list[tuple[str, float | None, float]] = []
    real = Progress.stop

    def record(self: Progress) -> None:
        tasks.extend((t.description, t.total, t.completed) for t in self.tasks)
        real(self)

    Progress.stop = record  # type: ignore[method-assign]
    ingestion = Ingestion.of(sqlite_store)
    try:
        assert importer.import_file(ingestion=ingestion, path=path, fmt="jsonl") == (1500, 0)
    finally:
        Progress.stop = real  # type: ignore[method-assign]
    size = path.stat().st_size
    assert tasks == [("checking e.jsonl", size, size), ("importing e.jsonl", 1500, 1500)]
