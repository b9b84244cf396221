"""C-CANCEL on the SCP side (PS3.7 9.3.2.3): stop a stream of responses promptly, even mid-wait.

The association sets :attr:`~dicomkit.net.handlers.RequestContext.cancelled` when a C-CANCEL-RQ names a
request being performed. A C-FIND, C-MOVE or C-GET SCP checks it between responses; but a source may take a
long time to produce its next match (a slow database, a big folder), so :class:`CancelWatch` also interrupts
the wait itself: while the SCP awaits the source through :meth:`CancelWatch.wait`, a C-CANCEL cancels that
await (the source's async generator is closed there, its ``finally`` runs) and :class:`CancelRequested` is
raised instead. One watcher task per request; nothing per match.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from ..net.handlers import RequestContext

T = TypeVar("T")


class CancelRequested(Exception):
    """The requestor sent C-CANCEL-RQ for the request being performed."""


class CancelWatch:
    """Watches one request for C-CANCEL; use as an async context manager inside the SCP handler's task."""

    def __init__(self, rc: RequestContext) -> None:
        self.rc = rc
        self._task: asyncio.Task[object] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._waiting = False
        self._interrupted = False  # we cancelled the task: its CancelledError is ours to absorb

    @property
    def requested(self) -> bool:
        return self.rc.cancelled.is_set()

    async def __aenter__(self) -> CancelWatch:
        self._task = asyncio.current_task()
        self._watcher = asyncio.ensure_future(self._watch())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    async def _watch(self) -> None:
        await self.rc.cancelled.wait()
        if self._waiting and self._task is not None and not self._interrupted:
            self._interrupted = True
            self._task.cancel()

    def check(self) -> None:
        """Raise :class:`CancelRequested` if a C-CANCEL arrived."""
        if self.rc.cancelled.is_set():
            raise CancelRequested()

    async def wait(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable``; raise :class:`CancelRequested` if a C-CANCEL arrives first (or came before)."""
        self.check()
        self._waiting = True
        try:
            return await awaitable
        except asyncio.CancelledError:
            if self._interrupted and self._task is not None and self._task.uncancel() == 0:
                raise CancelRequested() from None
            raise
        finally:
            self._waiting = False

    async def next(self, iterator: AsyncIterator[T]) -> T:
        """The next item of ``iterator`` (StopAsyncIteration at its end), or :class:`CancelRequested`."""
        return await self.wait(anext(iterator))


async def close_iterator(iterator: object) -> None:
    """Close an async iterator (a source's generator) if it can be closed; its errors are not ours."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


__all__ = ["CancelRequested", "CancelWatch", "close_iterator"]
