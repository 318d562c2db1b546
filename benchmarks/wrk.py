"""Drive wrk (Debian's package) against loopback and read its figures."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


def _ms(value: str, output: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        raise SystemExit(f"wrk gave a latency of {value!r}:\n{output}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def run(
    url: str,
    *,
    connections: int = 32,
    seconds: int = 15,
    headers: dict[str, str] | None = None,
    lua: str | None = None,
    threads: int = 1,
) -> WrkResult:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory() as folder:
        if lua is not None:
            script = Path(folder) / "script.lua"
            script.write_text(lua)
            command += ["-s", str(script)]
        output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Requests/sec" not in output or "50%" not in output:
        raise SystemExit(f"wrk gave no figures:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    # Lines of the latency distribution: "     99%    5.77ms" (not the "92.99%" of the stats).
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1), output)  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1), output)  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return WrkResult(rps, p50, p99, int(bad.group(1)) if bad else 0)


def rotating_requests(requests: list[tuple[str, str]]) -> str:
    """A wrk script that cycles through (path, bearer key) pairs."""
    rows = ",\n".join(f'{{"{path}", "{key}"}}' for path, key in requests)
    return f"""
local requests = {{
{rows}
}}
local i = 0
request = function()
  i = i % #requests + 1
  local r = requests[i]
  return wrk.format("GET", r[1], {{["Authorization"] = "Bearer " .. r[2]}})
end
"""


def moving_windows(windows: list[tuple[int, int, str]], path: str) -> str:
    """A wrk script that cycles through (start_time, end_time, bearer key) windows of `path`,
    moving each start 1 ms later on every round: no two requests ask the same question."""
    rows = ",\n".join(f'{{{start}, {end}, "{key}"}}' for start, end, key in windows)
    return f"""
local windows = {{
{rows}
}}
local i = 0
local round = 0
request = function()
  i = i + 1
  if i > #windows then i = 1; round = round + 1 end
  local w = windows[i]
  local query = string.format("start_time=%d&end_time=%d", w[1] + round, w[2])
  return wrk.format("GET", "{path}&" .. query, {{["Authorization"] = "Bearer " .. w[3]}})
end
"""


def random_windows(path: str, key: str, first_end: int, last_end: int, width: int) -> str:
    """A wrk script asking `path` for windows of `width` ms ending anywhere in
    [first_end, last_end], at random on every request: no two requests ask the same
    question, and few see the same rows."""
    return f"""
math.randomseed(17)
request = function()
  local e = {first_end} + math.floor(math.random() * {last_end - first_end})
  local query = string.format("start_time=%.0f&end_time=%.0f", e - {width}, e)
  return wrk.format("GET", "{path}&" .. query, {{["Authorization"] = "Bearer {key}"}})
end
"""
