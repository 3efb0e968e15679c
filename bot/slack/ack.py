"""Answer Slack the moment a listener calls `ack()`, not at Bolt's next 10 ms poll.

Bolt's `AsyncioListenerRunner` starts a listener as a task and then polls `ack.response` with
`asyncio.sleep(0.01)` until it is set (slack_bolt 1.x, `listener/asyncio_runner.py`): every
command's and button's answer waits up to 10 ms after our `ack()` for nothing, and under load each
waiting request wakes the event loop 100 times a second. `PromptAckRunner` runs the same steps
(start handler, the listener as a task, error and completion handlers) but waits on an event that
`ack()` sets, or the listener's end. Lazy listeners and `process_before_response` (neither is
used here) keep Bolt's own path.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.listener.async_listener import AsyncListener
from slack_bolt.listener.asyncio_runner import AsyncioListenerRunner
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse


class PromptAck(AsyncAck):
    """Bolt's `ack()`, which also says it was called."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.called = asyncio.Event()

    async def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        try:
            return await super().__call__(*args, **kwargs)
        finally:
            self.called.set()


class PromptAckRunner(AsyncioListenerRunner):
    def __init__(self, runner: AsyncioListenerRunner) -> None:
        super().__init__(
            logger=runner.logger,
            process_before_response=runner.process_before_response,
            listener_error_handler=runner.listener_error_handler,
            listener_start_handler=runner.listener_start_handler,
            listener_completion_handler=runner.listener_completion_handler,
            lazy_listener_runner=runner.lazy_listener_runner,
        )
        self._running: set[asyncio.Task[None]] = set()  # held until done (tasks are weak refs)

    async def run(
        self,
        request: AsyncBoltRequest,
        response: BoltResponse,
        listener_name: str,
        listener: AsyncListener,
        starting_time: float | None = None,
    ) -> BoltResponse | None:
        if self.process_before_response or listener.lazy_functions or request.lazy_only:
            return await super().run(request, response, listener_name, listener, starting_time)
        started = starting_time if starting_time is not None else time.time()
        ack = PromptAck()
        request.context["ack"] = ack  # before the listener's arguments are built from it
        if listener.auto_acknowledgement:
            await ack()
        task = asyncio.ensure_future(self._listen(ack, request, response, listener))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        remaining = listener.ack_timeout - (time.time() - started)
        if ack.response is None:
            try:
                async with asyncio.timeout(max(remaining, 0)):
                    await ack.called.wait()
            except TimeoutError:
                pass
        if response is None and ack.response is None:
            self.logger.warning(f"{listener_name} did not call ack() in time")
            return None
        return response if response is not None else ack.response  # as Bolt's runner does

    async def _listen(
        self,
        ack: PromptAck,
        request: AsyncBoltRequest,
        response: BoltResponse | None,
        listener: AsyncListener,
    ) -> None:
        """Bolt's `run_ack_function_asynchronously`, which also wakes the waiter at the end."""
        try:
            await self.listener_start_handler.handle(request=request, response=response)
            await listener.run_ack_function(request=request, response=response)  # type: ignore[arg-type]
        except Exception as e:
            if response is None:
                response = BoltResponse(status=500)
            response.status = 500
            if ack.response is not None:  # already acknowledged
                response = None
            await self.listener_error_handler.handle(
                error=e,
                request=request,
                response=response,
            )
            ack.response = response
        finally:
            await self.listener_completion_handler.handle(request=request, response=response)
            ack.called.set()


def install(bolt: Any) -> None:
    """Swap the app's listener runner for `PromptAckRunner` (Bolt has no setting for it)."""
    bolt._async_listener_runner = PromptAckRunner(bolt._async_listener_runner)
