"""`python -m creditmeter.openapi`: print the OpenAPI document the app serves."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from .http import create_app
from .settings import Settings


def document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:  # the document needs a store, not its data
        url = f"sqlite:///{Path(folder) / 'openapi.db'}"
        app = create_app(Settings(database_url=url, webhook_delivery=False))
        return app.openapi()


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
