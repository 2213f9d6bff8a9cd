"""Micro-batching: requests that arrive together are answered by one model call.

    request a ──┐                         ┌──> answer a
    request b ──┼─ pending ─> function([a, b, c]) ─┼──> answer b     (in the worker thread)
    request c ──┘                         └──> answer c

Requests that arrive while the worker is busy wait for it anyway, so under load each
call takes everything that queued meanwhile (up to `max_batch`) and no request costs a
model call of its own. Before each call the batcher lets the event loop run once (and
waits `max_wait` seconds more if asked), so requests already sent join in. The default
waits no longer: on two busy cores a 1-2 ms timer wakes late and cost concurrency 1
more than it gained at 8 or 64 (benchmarks/serve.py, --batch-wait-ms).

`function(items) -> results` runs in one worker thread, off the event loop, one call
at a time (a model is called by one thread). A result that is an exception fails
only its own request; an exception raised by `function` fails the whole batch.
With `enabled=False` every request is a call of its own (the yardstick of
benchmarks/serve.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

DEFAULT_MAX_WAIT = 0.0  # seconds a batch waits for company after one pass of the event loop
DEFAULT_MAX_BATCH = 256


class MicroBatcher:
    def __init__(
        self,
        function: Callable[[list[Any]], Sequence[Any]],
        *,
        max_wait: float = DEFAULT_MAX_WAIT,
        max_batch: int = DEFAULT_MAX_BATCH,
        enabled: bool = True,
        executor: ThreadPoolExecutor | None = None,
    ):
        if max_wait < 0 or max_batch < 1:
            raise ValueError(f"max_wait must be >= 0 and max_batch >= 1, got {max_wait} and {max_batch}")
        self.function = function
        self.max_wait = max_wait
        self.max_batch = max_batch if enabled else 1
        self.executor = executor or ThreadPoolExecutor(1, thread_name_prefix="model")
        self._pending: list[tuple[Any, asyncio.Future]] = []
        self._draining: asyncio.Task | None = None
        self.calls = 0  # model calls made, for tests and the benchmark
        self.answered = 0

    async def submit(self, item: Any) -> Any:
        """The result of `function` for `item`, computed together with whatever else waits."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((item, future))
        if self._draining is None or self._draining.done():
            self._draining = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        """Call `function` on what is pending until nothing is."""
        loop = asyncio.get_running_loop()
        while self._pending:
            if self.max_batch > 1:
                await asyncio.sleep(self.max_wait)  # even 0 lets the loop read requests already sent
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            batch = [(item, future) for item, future in batch if not future.done()]  # left: cancelled
            if batch:
                await self._call(loop, batch)

    async def _call(self, loop, batch: list[tuple[Any, asyncio.Future]]) -> None:
        items = [item for item, _ in batch]
        self.calls += 1
        try:
            results = await loop.run_in_executor(self.executor, self.function, items)
            if len(results) != len(items):
                raise RuntimeError(f"the batch function answered {len(results)} of {len(items)} items")
        except Exception as error:  # the whole call failed: every request of it hears why
            results = [error] * len(items)
        for (_, future), result in zip(batch, results):
            if future.done():  # its client left while the model ran
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
            self.answered += 1

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
