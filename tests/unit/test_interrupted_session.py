"""A test session stopped by SIGTERM (kill, a CI runner's cancel) still runs its fixtures'
finalizers, so the servers tests start in sessions of their own do not outlive it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_runs_the_finalizers_of_the_fixtures_in_use(tmp_path: Path) -> None:
    started, torn_down, child_pid = (tmp_path / name for name in ("started", "torn", "pid"))
    test_file = tmp_path / "test_sleeper.py"
    test_file.write_text(
        textwrap.dedent(
            f"""
            import subprocess, sys, time
            import pytest

            @pytest.fixture
            def child():
                process = subprocess.Popen(
                    [sys.executable, "-c", "import time; time.sleep(120)"],
                    start_new_session=True,  # as tests/support/server.launch starts servers
                )
                open({str(child_pid)!r}, "w").write(str(process.pid))
                yield
                process.kill()
                process.wait()
                open({str(torn_down)!r}, "w").write("done")

            def test_waits(child):
                open({str(started)!r}, "w").write("yes")
                time.sleep(120)
            """
        )
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "tests.conftest",
        "-p",
        "no:cacheprovider",
    ]
    session = subprocess.Popen(
        [*command, str(test_file)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert time.monotonic() < deadline, "the test never started"
            assert session.poll() is None, "pytest ended before the test started"
            time.sleep(0.1)
        session.send_signal(signal.SIGTERM)
        session.wait(timeout=60)
    finally:
        if session.poll() is None:
            session.kill()
    assert torn_down.read_text() == "done"
    assert not _alive(int(child_pid.read_text()))
