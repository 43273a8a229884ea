"""The SIP server's background tasks, and which of them must finish at shutdown.

A task that archives a finished call holds a BYE waiting for its answer (the
durability promise), so shutdown lets those run to the end and cancels the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["BackgroundTasks"]


class BackgroundTasks:
    """The server's tasks; those finishing a call are let run to the end at shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._finishing: set[asyncio.Task[Any]] = set()

    def spawn(
        self, coro: Coroutine[Any, Any, Any], *, finishing: bool = False
    ) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if finishing:
            self._finishing.add(task)
            task.add_done_callback(self._finishing.discard)
        return task

    async def shutdown(self, timeout_s: float) -> None:
        """Cancel all but the finishing tasks, then wait (at most ``timeout_s``) for all."""
        for task in list(self._tasks):
            if task not in self._finishing:
                task.cancel()
        pending = list(self._tasks)
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
