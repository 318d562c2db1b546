"""What every CLI command module shares: the command's Services and store, tables printed
whole, and our errors as one line on stderr (cli.py and credits_cli.py both use them)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from .errors import CreditmeterError
from .services import Services
from .settings import Settings
from .store import Store

F = TypeVar("F", bound=Callable[..., Any])
err = Console(stderr=True)


def services_of(ctx: click.Context) -> Services:
    """The command's Services, built on first use and closed when the command ends."""
    settings: Settings = ctx.obj["settings"]
    if "services" not in ctx.obj:
        ctx.obj["services"] = ctx.with_resource(_closing(Services.build(settings)))
    services: Services = ctx.obj["services"]
    return services


def store_of(ctx: click.Context) -> Store:
    return services_of(ctx).store


class _closing:
    def __init__(self, services: Services):
        self.services = services

    def __enter__(self) -> Services:
        return self.services

    def __exit__(self, *_: object) -> None:
        self.services.close()


def print_table(table: Table) -> None:
    """Figures are never cut to '…': in a terminal cells fold, in a pipe or file the table
    keeps its full width (rich would squeeze it into 80 columns)."""
    console = Console()
    for column in table.columns:
        column.overflow = "fold"
    if not console.is_terminal:
        unlimited = console.options.update(max_width=10_000)
        console = Console(
            width=max(console.width, console.measure(table, options=unlimited).maximum)
        )
    console.print(table)


def friendly(command: F) -> F:
    """Our errors become one line on stderr and exit status 1, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CreditmeterError as error:
            err.print(f"[red]error:[/red] {error.message}", highlight=False)
            for item in error.extra.get("errors", [])[:20]:
                err.print(f"  {item}", highlight=False)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]
