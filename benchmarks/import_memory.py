"""Peak RSS of `creditmeter import`'s check pass (the pass that reads the whole file first).

    python -m benchmarks.import_memory --lines 1000000
    python -m benchmarks.import_memory --lines 1000000 --importer /tmp/old_importer.py

`--importer` loads another version of `creditmeter/importer.py` (for example the one before
a change, from `git show REV:src/creditmeter/importer.py`) in place of this one, for an A/B
comparison; a version with `_check_file(store, path, fmt)` or `check_file(...)` works.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from creditmeter import accounts
from creditmeter.settings import Settings
from creditmeter.store import open_store

CATEGORIES = ("chat", "rerank", "tool_call", "asr")


def _write(path: Path, lines: int) -> None:
    with path.open("w") as out:
        for i in range(lines):
            event = {
                "id": f"evt-{i:08d}",
                "account_id": "acme",
                "bot_id": f"bot{i % 5}",
                "category": CATEGORIES[i % 4],
                "credits": f"{i % 999_999 / 1000:.3f}",
                "timestamp": 1733011200000 + i * 1000,
            }
            out.write(json.dumps(event, separators=(",", ":")) + "\n")


def _importer(path: str | None) -> Any:
    if path is None:
        from creditmeter import importer

        return importer
    spec = importlib.util.spec_from_file_location("creditmeter._measured_importer", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--importer", help="another importer.py to measure instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        file, db = Path(scratch) / "events.jsonl", Path(scratch) / "store.db"
        _write(file, args.lines)
        store = open_store(Settings(database_url=f"sqlite:///{db}"))
        accounts.create_account(store=store, account_id="acme")
        importer = _importer(args.importer)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        if hasattr(importer, "check_file"):
            total = importer.check_file(store=store, path=file, fmt="jsonl")
        else:
            total = importer._check_file(store, file, "jsonl")
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        store.dispose()
    print(
        f"{total} lines checked in {seconds:.1f} s: peak RSS {peak / 1024:.0f} MB, "
        f"{before / 1024:.0f} MB before the pass "
        f"({(peak - before) * 1024 / total:.0f} bytes a line)"
    )


if __name__ == "__main__":
    main()
