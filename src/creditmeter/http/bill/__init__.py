"""GET /v1/account/bill/page and /v1/account/bill/total, GPTBots' bill endpoints:

request.py (what is asked, the window it may see) -> answers.py (page cache, then
bills.bill_page / bill_total) -> fast_path.py (the ASGI middleware that serves them);
routes.py and parameters.py describe them in OpenAPI."""

from __future__ import annotations

from .fast_path import BillFastPath
from .routes import router

__all__ = ["BillFastPath", "router"]
