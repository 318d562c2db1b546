"""The customer dashboard: one HTML page, our own small script and stylesheet, and Chart.js
(vendored from the npm registry, so the page asks no host but the service)."""

from __future__ import annotations

import functools
from pathlib import Path

from .. import __version__

STATIC = Path(__file__).parent / "static"


@functools.cache
def page() -> str:
    """The page, with asset URLs that change with each release (so caches never mix them)."""
    return (Path(__file__).parent / "page.html").read_text().replace("{{version}}", __version__)
