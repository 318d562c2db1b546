"""Fixtures of the reliability suites: each backend, and the guard that the server exists."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.reliability.support import Served, serving
from tests.support.server import EXECUTABLE
from tests.support.stores import POSTGRES_URL

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(autouse=True)
def _serve_is_installed() -> None:
    if not EXECUTABLE.exists():
        pytest.skip(f"{EXECUTABLE} is not installed")


def _kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    if kind == "postgres" and not POSTGRES_URL:
        pytest.skip("set CREDITMETER_TEST_POSTGRES_URL to run the PostgreSQL tests")
    if not EXECUTABLE.exists():
        pytest.skip(f"{EXECUTABLE} is not installed")
    return kind


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The store kind under test: a SQLite file, or a database on the test PostgreSQL."""
    return _kind(request)


@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """`creditmeter serve` (2 worker processes) over a seeded store, shared by a module."""
    kind = _kind(request)
    with serving(kind, tmp_path_factory.mktemp(f"served-{kind}"), workers=2) as running:
        yield running
