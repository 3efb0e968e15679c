"""Group commit: writes asked for while one is being written go together in the next one."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Write items in batches: the first is written at once, and whatever is asked for while a
    batch is being written goes together in the next one (at most `batch` a time).

    A lone item still costs one write; a burst costs a few instead of one transaction each in a
    row (SQLite has a single writer: each waits for the one before). `write` gets the items in
    the order they came and returns a result for each, in that order; when it raises, every
    item of that batch gets the exception, and the next item asked for writes again. An item
    whose caller gave up (was cancelled) before its batch began is not written.

    `context`: the context the writing task runs in (`contextvars.Context`, empty, when the
    items are several callers' and none is its owner; `contextvars.copy_context` to run in the
    first caller's).
    """

    def __init__(
        self,
        write: Callable[[list[Item]], Awaitable[Sequence[Result]]],
        *,
        batch: int,
        context: Callable[[], contextvars.Context] = contextvars.Context,
    ) -> None:
        self._write_batch = write
        self._batch = batch
        self._context = context
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def __call__(self, item: Item) -> Result:
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(
                self._write(), context=self._context()
            )
        return await done

    async def _write(self) -> None:
        try:
            while self._waiting:
                taken, self._waiting = self._waiting[: self._batch], self._waiting[self._batch :]
                batch = [(item, future) for item, future in taken if not future.done()]
                if not batch:
                    continue
                try:
                    results = await self._write_batch([item for item, _ in batch])
                except BaseException as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():  # its caller may have been cancelled meanwhile
                        future.set_result(result)
        finally:
            self._writing = None
            for _, future in self._waiting:  # only when cancelled: none may wait forever
                future.cancel()
            self._waiting.clear()
