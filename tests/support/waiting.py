"""Polling until a condition holds, bounded in time (async and blocking flavours)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


async def eventually(cond: Callable[[], Any], timeout: float = 5.0,
                     what: str | Callable[[], str] = "condition", interval: float = 0.005) -> None:
    """Await until ``cond()`` is true; ``cond`` may be a coroutine function. The event loop
    runs between the polls. Raises TimeoutError naming ``what`` (a string, or a function
    called at the timeout to say what was seen)."""
    deadline = time.monotonic() + timeout
    while True:
        ok = cond()
        if inspect.isawaitable(ok):
            ok = await ok
        if ok:
            return
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise TimeoutError(f"timed out after {timeout}s waiting for {said}")
        await asyncio.sleep(interval)


def wait_for(cond: Callable[[], Any], timeout: float = 10.0, what: str = "condition",
             interval: float = 0.05) -> None:
    """Block until ``cond()`` is true (for code outside an event loop, e.g. daemons)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
