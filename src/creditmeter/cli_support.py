"""What every CLI command module shares: the command's Services and store, tables printed
whole, and our errors as one line on stderr (cli.py and credits_cli.py both use them)."""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .errors import CreditmeterError, StoreUnavailable
from .labels import visible
from .services import Services
from .settings import Settings
from .store import Store

F = TypeVar("F", bound=Callable[..., Any])
err = Console(stderr=True)


class Days(click.FloatRange):
    """A number of days, more than 0 and at most `most`: never inf or nan."""

    name = "days"

    def __init__(self, most: float = 36_500):
        super().__init__(min=0, min_open=True, max=most)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        days = super().convert(value, param, ctx)
        if not math.isfinite(days):
            self.fail(f"{value!r} is not a finite number of days", param, ctx)
        return days


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


class _Stdout(Console):
    """rich's console on stdout, ending as our other writes do when the reader has gone
    (rich's own answer is a quiet exit with status 1, our "refused")."""

    def on_broken_pipe(self) -> None:
        reader_gone()


def print_table(table: Table) -> None:
    """Figures are never cut to '…': in a terminal cells fold, in a pipe or file the table
    keeps its full width (rich would squeeze it into 80 columns)."""
    console = _Stdout()
    for column in table.columns:
        column.overflow = "fold"
    if not console.is_terminal:
        unlimited = console.options.update(max_width=10_000)
        console = _Stdout(
            width=max(console.width, console.measure(table, options=unlimited).maximum)
        )
    console.print(table)


# Exit statuses (README.md): 0 done; 1 refused (invalid input, unknown, conflict);
# 2 a usage or settings error; 3 the store cannot be used (its URL, its file, its schema, or
# it does not answer); 4 an unexpected failure (a bug: the message names the exception);
# 141 stdout's reader stopped reading (`| head`): 128 + SIGPIPE, as a shell reports any
# Unix tool that a closed pipe ended, so `set -o pipefail` sees the output was cut short.
EXIT_REFUSED, EXIT_USAGE, EXIT_STORE, EXIT_BUG, EXIT_PIPE = 1, 2, 3, 4, 141


def reader_gone() -> NoReturn:
    """Ends the command quietly once stdout's reader has gone. What is still buffered goes to
    /dev/null: Python would otherwise fail to flush it at exit and say so on stderr."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_PIPE)


def fail(message: str, status: int, details: list[Any] | None = None) -> NoReturn:
    # Escaped: a message quotes the input, which may hold "[" (markup) or terminal escapes.
    err.print(f"[red]error:[/red] {escape(visible(message))}", highlight=False)
    for item in (details or [])[:20]:
        err.print(f"  {escape(visible(str(item)))}", highlight=False)
    sys.exit(status)


def cell(text: str) -> Text:
    """Stored text for a table cell: neither markup nor a terminal escape, whatever it holds."""
    return Text(visible(text))


def friendly(command: F) -> F:
    """Every failure becomes a message on stderr and a documented exit status, never a
    traceback; a closed stdout (`| head`) ends the command with no message at all."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = command(*args, **kwargs)
            sys.stdout.flush()  # a reader gone shows here, not in Python's flush at exit
            return result
        except BrokenPipeError:  # stdout's: the store's and webhooks' sockets raise their own
            reader_gone()
        except StoreUnavailable as error:
            fail(error.message, EXIT_STORE)
        except CreditmeterError as error:
            fail(error.message, EXIT_REFUSED, error.extra.get("errors"))
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as error:  # a bug; the operator still gets a line, not a traceback
            fail(f"unexpected failure ({type(error).__name__}: {error})", EXIT_BUG)

    return wrapper  # type: ignore[return-value]
