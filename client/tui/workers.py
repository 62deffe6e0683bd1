"""Start async workers from a function, so no coroutine exists before the worker runs.

A coroutine object passed to ``run_worker`` while the app shuts down is never awaited,
and Python warns about it. Passing the function instead makes the coroutine only when
the worker starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from textual.dom import DOMNode


def start(
    node: DOMNode,
    work: Callable[..., Awaitable[Any]],
    *arguments: Any,
    group: str,
    exclusive: bool = False,
) -> None:
    """Run ``work(*arguments)`` in a worker of ``node``."""
    call = partial(work, *arguments) if arguments else work
    node.run_worker(call, group=group, exclusive=exclusive)
