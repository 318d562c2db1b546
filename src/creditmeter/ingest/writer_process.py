"""SQLite's batches written by a process of its own, for `creditmeter serve`: the thread
holding the write turn no longer waits for the GIL while the event loop decodes the next
batches (docs/benchmarks.md). Spawned, it receives each batch made ready (Prepared, as
plain data) through a pipe, writes together the oldest it has by the time it holds the
turn, and sends each batch's fate back once committed; the client is answered only then.

If the writer process dies, the batches it had not answered fail as a store error (503,
nothing of them stored unless committed: clients resend, and duplicates are counted as
such), and the next batch starts a new writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import signal
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc

from .. import gctuning
from ..errors import Conflict, InvalidInput
from ..settings import Settings
from ..store import open_store
from .batch import IngestResult, PendingBatch, PlainPrepared, Prepared
from .queue import GroupQueue
from .turn import write_group

_Message = tuple[int, PlainPrepared]  # a batch's number, and its Prepared as plain data


class WriterProcess:
    """The writer process of a SQLite file store: started by start(), or by the next batch
    whenever it is not running."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._lock = threading.Lock()
        self._numbers = itertools.count()
        self._waiting: dict[int, _Deliver] = {}
        self._pipe: Connection | None = None
        self._process: BaseProcess | None = None

    def write(self, prepared: Prepared) -> IngestResult:
        """The batch's IngestResult once committed; raises what refused it."""
        answer: Future[IngestResult] = Future()
        self._send(prepared, partial(_settle, answer))
        return answer.result()

    async def write_async(self, prepared: Prepared) -> IngestResult:
        """write(), awaited on the running event loop, with no thread of its own."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[IngestResult] = loop.create_future()
        self._send(prepared, lambda fate: loop.call_soon_threadsafe(_settle, answer, fate))
        return await answer

    def start(self) -> None:
        """Starts the writer now rather than for the first batch, which would wait for it."""
        with self._lock:
            if self._pipe is None:
                self._start()

    def _send(self, prepared: Prepared, deliver: _Deliver) -> None:
        """Sends the batch; `deliver` is called with its fate (from another thread)."""
        with self._lock:
            pipe = self._pipe or self._start()
            number = next(self._numbers)
            self._waiting[number] = deliver
            try:
                pipe.send((number, prepared.as_tuple()))
            except OSError:
                del self._waiting[number]
                self._pipe = None  # the next batch starts another writer
                raise sqlite3.OperationalError("the writer process is gone") from None

    @property
    def pid(self) -> int | None:
        """The running writer's process id, if one was started."""
        return self._process.pid if self._process is not None else None

    def _start(self) -> Connection:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_serve, args=(self._settings, theirs), name="creditmeter-writer", daemon=True
        )
        process.start()
        theirs.close()
        self._pipe, self._process, self._waiting = ours, process, {}
        threading.Thread(
            target=self._read_answers,
            args=(ours, self._waiting),
            name="writer-answers",
            daemon=True,
        ).start()
        return ours

    def _read_answers(self, pipe: Connection, waiting: dict[int, _Deliver]) -> None:
        """Answers the batches sent through `pipe` (whose numbers are in `waiting`) until the
        writer at its other end is gone; then fails those it had not answered."""
        while True:
            try:
                number, fate = pipe.recv()
            except Exception:  # EOFError when it exits; anything else ends it too
                break
            deliver = waiting.pop(number, None)
            if deliver is not None:  # None: already answered, which cannot happen
                _deliver(deliver, fate)
        with self._lock:
            if self._pipe is pipe:
                self._pipe = None  # the next batch starts another writer
            unanswered = list(waiting.values())
            waiting.clear()
        pipe.close()  # a writer still running reads the end of its input, and exits
        for deliver in unanswered:
            _deliver(deliver, sqlite3.OperationalError("the writer process exited"))

    def join(self, timeout: float) -> int | None:
        """Waits up to `timeout` seconds for the running writer to exit; its exit code, or
        None while it runs (or if none was started)."""
        process = self._process
        if process is None:
            return None
        process.join(timeout)
        return process.exitcode

    def close(self, timeout: float = 30) -> int | None:
        """Lets the writer finish what it received, then waits for it to exit; its exit
        code (None if none was running)."""
        with self._lock:
            pipe, process, self._pipe, self._process = self._pipe, self._process, None, None
        if pipe is None or process is None:
            return None
        # A message, not our end closed: the thread reading answers is blocked on that end,
        # and closing a file another thread reads does not end the read.
        with contextlib.suppress(OSError):
            pipe.send(None)
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()
        return process.exitcode


_Fate = IngestResult | BaseException
_Deliver = Callable[[_Fate], object]


def _deliver(deliver: _Deliver, fate: _Fate) -> None:
    with contextlib.suppress(RuntimeError):  # an event loop closed: nobody is waiting
        deliver(fate)


def _settle(answer: Future[IngestResult] | asyncio.Future[IngestResult], fate: _Fate) -> None:
    if answer.done():  # a request cancelled while its batch was written
        return
    if isinstance(fate, BaseException):
        answer.set_exception(fate)
    else:
        answer.set_result(fate)


def _serve(settings: Settings, pipe: Connection) -> None:
    """The writer process: writes what it receives until its parent says to stop or dies."""
    # Ctrl-C reaches the whole process group: the writer ends when its parent says so,
    # once the requests in flight are answered, or when its parent dies. (SIGTERM ends it
    # at once: a transaction cut short is rolled back, and its batches answered 503.)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    store = open_store(settings, upgrade=False)
    event.listen(store.engine, "connect", writer_pragmas)
    gctuning.settle()
    inbox = Inbox(pipe)
    try:
        while inbox.wait():
            taken: list[tuple[int, PendingBatch]] = []
            write_group(store, partial(inbox.take, taken))
            for number, pending in taken:
                fate = pending.result if pending.error is None else _sendable(pending.error)
                pipe.send((number, fate))
    except (BrokenPipeError, ConnectionResetError):
        return  # the parent is gone; what was committed stays committed
    finally:
        store.dispose()


WRITER_CACHE_KIB = 32_768


def writer_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # A group's pages fit in this cache, so none is written to the WAL before the commit;
    # by default (2 MB) SQLite spills dirty pages mid-transaction, and writes them again.
    dbapi_conn.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
    # The statement journals (which undo one statement that fails) kept in memory.
    dbapi_conn.execute("PRAGMA temp_store=MEMORY")


class Inbox:
    """The batches the parent sends, received as they come by a thread of their own, so
    that the parent's sends never wait for a group to be written; and whether the parent
    said to stop (a None) or is gone."""

    def __init__(self, pipe: Connection):
        # [1][0]: a message's Prepared as a tuple, whose first item is the batch's size
        self._received = GroupQueue[_Message](lambda message: message[1][0])
        self._closing = False
        threading.Thread(
            target=self._receive, args=(pipe,), name="writer-inbox", daemon=True
        ).start()

    @property
    def closing(self) -> bool:
        """Whether the parent said to stop or is gone (batches may still wait)."""
        return self._closing

    def _receive(self, pipe: Connection) -> None:
        while True:
            try:
                message: _Message | None = pipe.recv()
            except Exception:  # EOFError once the parent is gone; anything else ends it too
                message = None
            if message is not None:
                self._received.put(message)
                continue
            with self._received.arrived:
                self._closing = True
                self._received.arrived.notify()
            return

    def wait(self) -> bool:
        """Waits until a batch is received (True), or the parent says to stop or is gone,
        with nothing left to write (False)."""
        received = self._received
        with received.arrived:
            while not len(received) and not self._closing:
                received.arrived.wait()
            return bool(len(received))

    def take(self, taken: list[tuple[int, PendingBatch]]) -> list[PendingBatch]:
        """The oldest batches received (the write turn is held), as many as fit in a group
        (at least one); each also added to `taken` with its number."""
        ready = [
            (number, PendingBatch(Prepared.from_tuple(plain)))
            for number, plain in self._received.take_group()
        ]
        taken += ready
        return [pending for _, pending in ready]


def _sendable(error: BaseException) -> BaseException:
    """An error the parent can unpickle and answer as it would have answered it itself."""
    if isinstance(error, (InvalidInput, Conflict, sqlite3.OperationalError)):  # UnknownAccounts too
        return error
    if isinstance(error, sa_exc.OperationalError):
        return sqlite3.OperationalError(str(error.orig))
    return RuntimeError(f"the writer process failed: {type(error).__name__}: {error}")
