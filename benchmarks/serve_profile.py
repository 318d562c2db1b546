"""Where a served report's time goes: py-spy samples `creditmeter serve` (one worker) while
wrk loads it, and the heaviest functions are printed, by own time and by time inside them.

    python -m benchmarks.serve_profile --load cold \
        --database-url postgresql://postgres@127.0.0.1:5432/cmbench

`--load same` asks the same 90-day report again and again; `--load cold` asks a window never
asked before on every request (the "every window new" load of benchmarks.read). py-spy comes
from the dev extra; it needs ptrace (root, or CAP_SYS_PTRACE).
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import threading
from datetime import date, timedelta
from pathlib import Path

from creditmeter import keys
from creditmeter.settings import Settings
from creditmeter.store import open_store

from . import wrk
from .generate import account_id
from .read import PAGE, _window
from .servers import VENV_BIN, creditmeter


def _top(collapsed: Path, count: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    inside: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        n = int(samples)
        frames = stack.split(";")
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inside[frame] += n
    print(f"{total} samples")
    for title, counter in (("own time", own), ("time inside", inside)):
        print(f"-- by {title}")
        shown = [
            (f, n) for f, n in counter.most_common() if title == "own time" or "creditmeter/" in f
        ]
        for frame, n in shown[:count]:
            print(f"{100 * n / total:5.1f}%  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--load", choices=("same", "cold"), default="cold")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    store = open_store(Settings(database_url=args.database_url))
    tokens = {
        i: keys.create_key(store=store, scope="read", account_id=account_id(i)).token
        for i in range(10)
    }
    store.dispose()
    last = date.today() - timedelta(days=1)
    rng = __import__("random").Random(5)
    windows = []
    for _ in range(1000):
        i = rng.randrange(10)
        s, e = _window(i, last - timedelta(days=rng.randrange(90, 395)))
        windows.append((s + rng.randrange(86_400_000), e, tokens[i]))
    start, end = _window(0, last - timedelta(days=89))
    with creditmeter(args.database_url) as server, tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "stacks.txt"
        if args.load == "same":
            load = {"headers": {"Authorization": f"Bearer {tokens[0]}"}}
            url = f"{server.base_url}{PAGE}&start_time={start}&end_time={end}"
        else:
            load = {"lua": wrk.moving_windows(windows, PAGE)}
            url = server.base_url + "/"
        wrk.run(url, seconds=2, **load)  # type: ignore[arg-type]
        spy = subprocess.Popen(
            [
                *(str(VENV_BIN / "py-spy"), "record", "--pid", str(server.pid)),
                *("--duration", str(args.seconds), "--format", "raw", "--threads"),
                *("--output", str(out), "--nonblocking"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        result: list[wrk.WrkResult] = []
        loader = threading.Thread(
            target=lambda: result.append(wrk.run(url, seconds=args.seconds, **load))  # type: ignore[arg-type]
        )
        loader.start()
        spy.wait()
        loader.join()
        print(
            f"{args.load}: {result[0].requests_per_second:,.0f} req/s, "
            f"p99 {result[0].p99_ms:.1f} ms while sampled",
            file=sys.stderr,
        )
        _top(out, args.top)


if __name__ == "__main__":
    main()
