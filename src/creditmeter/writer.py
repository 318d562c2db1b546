"""SQLite's writer in a process of its own, for `creditmeter serve`.

Measured in a live server, the thread that held SQLite's write turn spent more of it
waiting for the GIL than writing: the event loop of the same process was receiving,
decoding and validating the next batches. Only one writer runs at a time, so every such
wait held up every batch. So each serving process hands the batches of a file store to a
writer process of its own: spawned (nothing copied, no threads but its own), it receives
each batch made ready (ingest.Prepared, as plain data) through a pipe, writes together the
oldest it has received by the time it holds the turn (ingest.write_together, as the
in-process group commit does), and sends each batch's fate back once the transaction
holding it is committed. The client is answered only then. The serving process sends from
its event loop and settles an asyncio future with the answer (submit_async), or blocks a
thread of its own (submit).

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
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc

from . import gctuning, ingest
from .errors import Conflict, InvalidInput
from .settings import Settings
from .store import open_store
from .store.ledger import Event

_Message = tuple[int, tuple[Any, ...]]  # a batch's number, and its Prepared as plain data


class WriterProcess:
    """The writer process of this process's file store: started by start(), or by the
    next batch whenever it is not running."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._lock = threading.Lock()
        self._numbers = itertools.count()
        self._waiting: dict[int, _Deliver] = {}
        self._pipe: Connection | None = None
        self._process: BaseProcess | None = None

    def submit(self, prepared: ingest.Prepared) -> ingest.IngestResult:
        """The batch's IngestResult once committed; raises what refused it."""
        answer: Future[ingest.IngestResult] = Future()
        self._send(prepared, partial(_settle, answer))
        return answer.result()

    async def submit_async(self, prepared: ingest.Prepared) -> ingest.IngestResult:
        """submit(), awaited on the running event loop, with no thread of its own."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[ingest.IngestResult] = loop.create_future()
        self._send(prepared, lambda fate: loop.call_soon_threadsafe(_settle, answer, fate))
        return await answer

    def start(self) -> None:
        """Starts the writer now rather than for the first batch, which would wait for it."""
        with self._lock:
            if self._pipe is None:
                self._start()

    def _send(self, prepared: ingest.Prepared, deliver: _Deliver) -> None:
        """Sends the batch; `deliver` is called with its fate (from another thread)."""
        with self._lock:
            pipe = self._pipe or self._start()
            number = next(self._numbers)
            self._waiting[number] = deliver
            try:
                pipe.send((number, _plain(prepared)))
            except OSError:
                del self._waiting[number]
                self._pipe = None  # the next batch starts another writer
                raise sqlite3.OperationalError("the writer process is gone") from None

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

    def close(self, timeout: float = 30) -> None:
        """Lets the writer finish what it received, then waits for it to exit."""
        with self._lock:
            pipe, process, self._pipe, self._process = self._pipe, self._process, None, None
        if pipe is None or process is None:
            return
        # A message, not our end closed: the thread reading answers is blocked on that end,
        # and closing a file another thread reads does not end the read.
        with contextlib.suppress(OSError):
            pipe.send(None)
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()


_Fate = ingest.IngestResult | BaseException
_Deliver = Callable[[_Fate], object]


def _deliver(deliver: _Deliver, fate: _Fate) -> None:
    with contextlib.suppress(RuntimeError):  # an event loop closed: nobody is waiting
        deliver(fate)


def _settle(
    answer: Future[ingest.IngestResult] | asyncio.Future[ingest.IngestResult], fate: _Fate
) -> None:
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
    event.listen(store.engine, "connect", _writer_pragmas)
    gctuning.settle()
    inbox = _Inbox(pipe)
    try:
        while inbox.wait():
            taken: list[tuple[int, ingest.Waiting]] = []
            ingest.write_together(store, partial(inbox.take, taken))
            for number, waiting in taken:
                fate = waiting.result if waiting.error is None else _sendable(waiting.error)
                pipe.send((number, fate))
    except (BrokenPipeError, ConnectionResetError):
        return  # the parent is gone; what was committed stays committed
    finally:
        store.dispose()


WRITER_CACHE_KIB = 32_768


def _writer_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # A group's pages fit in this cache, so none is written to the WAL before the commit;
    # by default (2 MB) SQLite spills dirty pages mid-transaction, and writes them again.
    dbapi_conn.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
    # The statement journals (which undo one statement that fails) kept in memory.
    dbapi_conn.execute("PRAGMA temp_store=MEMORY")


class _Inbox:
    """The batches the parent sends, received as they come by a thread of their own, so
    that the parent's sends never wait for a group to be written; and whether the parent
    said to stop (a None) or is gone."""

    def __init__(self, pipe: Connection):
        self._received: deque[_Message] = deque()
        self._arrived = threading.Condition()
        self._closing = False
        threading.Thread(
            target=self._receive, args=(pipe,), name="writer-inbox", daemon=True
        ).start()

    def _receive(self, pipe: Connection) -> None:
        while True:
            try:
                message: _Message | None = pipe.recv()
            except Exception:  # EOFError once the parent is gone; anything else ends it too
                message = None
            with self._arrived:
                if message is None:
                    self._closing = True
                else:
                    self._received.append(message)
                self._arrived.notify()
            if message is None:
                return

    def wait(self) -> bool:
        """Waits until a batch is received (True), or the parent says to stop or is gone,
        with nothing left to write (False)."""
        with self._arrived:
            while not self._received and not self._closing:
                self._arrived.wait()
            return bool(self._received)

    def take(self, taken: list[tuple[int, ingest.Waiting]]) -> list[ingest.Waiting]:
        """The oldest batches received (the write turn is held), as many as fit in a group
        (at least one); each also added to `taken` with its number."""
        group: list[_Message] = []
        size = 0
        with self._arrived:
            while self._received:
                size += self._received[0][1][0]  # [1][0]: the batch's size
                if group and size > ingest.MAX_GROUP_EVENTS:
                    break
                group.append(self._received.popleft())
        ready = [(number, ingest.Waiting(_prepared(plain))) for number, plain in group]
        taken += ready
        return [waiting for _, waiting in ready]


def _plain(prepared: ingest.Prepared) -> tuple[Any, ...]:
    """A Prepared as plain data, which pickles fast: its events as tuples, not Events."""
    p = prepared
    return (p.size, p.accounts, p.conflicts, list(map(tuple, p.new)), p.bots, p.buckets, p.holds)


def _prepared(plain: tuple[Any, ...]) -> ingest.Prepared:
    size, accounts, conflicts, new, bots, buckets, holds = plain
    return ingest.Prepared(
        size, accounts, conflicts, list(map(Event._make, new)), bots, buckets, holds
    )


def _sendable(error: BaseException) -> BaseException:
    """An error the parent can unpickle and answer as it would have answered it itself."""
    if isinstance(error, (InvalidInput, Conflict, sqlite3.OperationalError)):  # UnknownAccounts too
        return error
    if isinstance(error, sa_exc.OperationalError):
        return sqlite3.OperationalError(str(error.orig))
    return RuntimeError(f"the writer process failed: {type(error).__name__}: {error}")
