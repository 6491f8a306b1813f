"""The scoring service's dynamic batching: small requests that wait for the model at the same time
run as one model call.

Each request of at most `merge_rows` rows puts its rows in a queue and one drain task in the model
thread's queue (`aekit.tasks.serve.RunModel.thread`). A drain, when the model thread reaches it,
takes the oldest waiting request and every other waiting request of the same kind (the same
function and the same row shape) while the batch stays within `max_rows`, calls the function once
on their rows, and gives each request its own rows of the answer. Nothing is held back to be
merged: a request that finds the model free runs at once, alone, as before; requests merge only
while the model is busy with earlier ones, which is when one call instead of many pays (a model call
has a fixed cost besides its rows: the GIL taken back from the event loop, torch's dispatch, the
thread hand-over). Larger requests go to the model thread alone: their rows already amortize it.

If a merged call fails, each of its requests is run alone, so that each gets its own answer or its
own error (one request's bad rows do not fail the others). A row's answer in a merged call equals
the one it gets alone to float rounding (matrix products of different batch sizes round
differently: ≈ 1e-8 relative on MNIST-sized rows), as it does in-process for any two batchings.
"""
from __future__ import annotations

import asyncio
import threading
from collections import deque
from concurrent.futures import Executor
from typing import Callable

import numpy as np

DEFAULT_MERGE_ROWS = 256  # requests of at most this many rows may be merged


class Waiting:
    """One request waiting for the model: its function, rows and future (of its event loop)."""

    __slots__ = ("fn", "X", "future", "loop")

    def __init__(self, fn: Callable, X: np.ndarray, future: asyncio.Future, loop: asyncio.AbstractEventLoop):
        self.fn, self.X, self.future, self.loop = fn, X, future, loop

    def same_kind(self, other: Waiting) -> bool:
        return self.fn == other.fn and self.X.shape[1:] == other.X.shape[1:] and self.X.dtype == other.X.dtype

    def answer(self, result=None, error: BaseException | None = None) -> None:
        """Hand the result (or the error) to the request's event loop; a request whose client has gone
        (its future cancelled, or its event loop closed) is skipped."""
        def settle():
            if self.future.done():
                return
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result)

        try:
            self.loop.call_soon_threadsafe(settle)
        except RuntimeError:  # the loop is closed: nobody waits for this answer
            pass


class RequestBatcher:
    """Model calls of array requests, merged in the model thread when they wait together.

    Parameters
    ----------
    executor : concurrent.futures.Executor
        The model's one thread: calls run there, in the order they came.
    max_rows : int
        Most rows of one merged call (the service's --max-batch).
    merge_rows : int, default 256
        Requests of at most this many rows may be merged; 0 runs every request alone.

    Attributes
    ----------
    model_calls : int
        Model calls made for the requests run here (a merged batch counts once).
    requests : int
        Requests run here; ``requests - model_calls`` of them shared a call.

    Examples
    --------
    >>> import asyncio
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> batcher = RequestBatcher(ThreadPoolExecutor(1), max_rows=100)
    >>> async def two():
    ...     return await asyncio.gather(batcher.run(np.negative, np.ones((2, 3))), batcher.run(np.negative, np.zeros((1, 3))))
    >>> [a.shape for a in asyncio.run(two())]
    [(2, 3), (1, 3)]
    """

    def __init__(self, executor: Executor, *, max_rows: int, merge_rows: int = DEFAULT_MERGE_ROWS):
        self.executor, self.max_rows, self.merge_rows = executor, int(max_rows), int(merge_rows)
        self.lock = threading.Lock()
        self.waiting: deque[Waiting] = deque()
        self.model_calls = self.requests = 0

    async def run(self, fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray):
        """fn(X) in the model thread: merged with other waiting requests of the same kind when X has
        at most `merge_rows` rows; fn must answer one item per row (scores, codes, reconstructions)."""
        loop = asyncio.get_running_loop()
        if not 0 < len(X) <= self.merge_rows:
            self.count(1, 1)
            return await loop.run_in_executor(self.executor, fn, X)
        item = Waiting(fn, X, loop.create_future(), loop)
        with self.lock:
            self.waiting.append(item)
        # one drain per request: every waiting request is taken by one of them (a drain that finds
        # its request already merged into an earlier batch returns at once)
        loop.run_in_executor(self.executor, self.drain)
        return await item.future

    def take(self) -> list[Waiting]:
        """The oldest waiting request and the waiting ones that merge with it, within max_rows."""
        with self.lock:
            if not self.waiting:
                return []
            batch, rest = [self.waiting.popleft()], deque()
            rows = len(batch[0].X)
            while self.waiting:
                item = self.waiting.popleft()
                if item.same_kind(batch[0]) and rows + len(item.X) <= self.max_rows:
                    batch.append(item)
                    rows += len(item.X)
                else:
                    rest.append(item)
            self.waiting = rest
            return batch

    def drain(self) -> None:
        """Run in the model thread: one call for the requests `take` gives."""
        batch = self.take()
        if not batch:
            return
        self.count(1, len(batch))
        if len(batch) == 1:
            self.run_alone(batch[0])
            return
        try:
            out = batch[0].fn(np.concatenate([item.X for item in batch]))
            if len(out) != sum(len(item.X) for item in batch):
                raise ValueError(f"{batch[0].fn!r} answered {len(out)} items for {sum(len(i.X) for i in batch)} rows")
            ends = np.cumsum([len(item.X) for item in batch])
            parts = [out[end - len(item.X):end] for item, end in zip(batch, ends)]
        except Exception:  # each request alone: its own answer or its own error
            self.count(len(batch), 0)  # the failed merged call was one more
            for item in batch:
                self.run_alone(item)
            return
        for item, part in zip(batch, parts):
            item.answer(part)

    def count(self, calls: int, requests: int) -> None:
        with self.lock:  # counted from the event loop and from the model thread
            self.model_calls += calls
            self.requests += requests

    @staticmethod
    def run_alone(item: Waiting) -> None:
        try:
            result = item.fn(item.X)
        except BaseException as exc:  # the request's own error, raised in its endpoint (none is left waiting)
            item.answer(error=exc)
        else:
            item.answer(result)

    def stats(self) -> dict:
        """What /metadata says of it."""
        return {"merge_rows": self.merge_rows, "max_rows": self.max_rows, "model_calls": self.model_calls,
                "requests": self.requests}


__all__ = ["DEFAULT_MERGE_ROWS", "RequestBatcher", "Waiting"]
