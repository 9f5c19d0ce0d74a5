"""Hot reload: watch the stubs directory and reload the route table when anything in it changes.

watchfiles (Rust `notify`, inotify on Linux) batches a burst of events; each batch is one reload,
so a file rewritten 100 times in 2 s costs a handful of reloads and always ends on its last
content. A bad file leaves the previous table serving (see Server.reload).
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

from watchfiles import Change, awatch

from .settings import Settings

SETTLE_TRIES, SETTLE_PAUSE = 20, 0.05  # a truncated file gets up to 1 s to be written again


class Reloadable(Protocol):
    """What `watch` needs of the server (stuntman.server.Server)."""

    @property
    def settings(self) -> Settings: ...

    def reload(self, why: str, settle: bool = False) -> bool | None: ...

    def contract_files(self) -> list[Path]: ...

    def contract_dirs(self) -> list[Path]: ...


async def start_watching(server: Reloadable) -> asyncio.Task:
    """Start `watch` and return once its watches are in place (or it failed to start), so that a
    change made after the server says it is up is never missed. The task runs until cancelled."""
    watching = asyncio.Event()
    task = asyncio.ensure_future(watch(server, watching.set))
    waiter = asyncio.ensure_future(watching.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()  # why it could not watch
    return task


async def watch(server: Reloadable, watching: Callable[[], None] = lambda: None) -> None:
    """Reload on any change under the stubs directory, or to a contract file outside it (an
    --openapi spec and the files it refers to, a --pact file: their directories are watched, not
    recursively), or to a *.json file in a --pact directory. `watching()` is called once every
    watch is in place."""
    root = server.settings.stubs.resolve()
    outside = sorted({path.parent for path in server.contract_files() if not path.is_relative_to(root)})
    watches = [awatch(root, debounce=50, step=20)]
    dirs = [d for d in server.contract_dirs() if not d.is_relative_to(root)]
    if outside or dirs:
        files = {str(path) for path in server.contract_files()}
        folders = {str(d) for d in dirs}

        def wanted(_: Change, path: str) -> bool:
            return path in files or (path.endswith(".json") and str(Path(path).parent) in folders)
        watches.append(awatch(*sorted({*outside, *dirs}), debounce=50, step=20, recursive=False,
                              watch_filter=wanted))
    # awatch puts its watches in place in the first step of its first __anext__, which runs in
    # the awaiting task before it next yields: once each task has started, all are watching.
    tasks = [asyncio.ensure_future(_reload_on(server, root, changes)) for changes in watches]
    await asyncio.sleep(0)
    if not any(task.done() for task in tasks):
        watching()
    await asyncio.gather(*tasks)


async def _reload_on(server: Reloadable, root: Path, batches: AsyncIterator[set[tuple[Change, str]]]) -> None:
    async for changes in batches:
        await _reload(server, root, changes)


async def _reload(server: Reloadable, root: Path, changes: set[tuple[Change, str]]) -> None:
    names = sorted({_relative(Path(path), root) for _, path in changes})
    why = f"changed: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
    for _ in range(SETTLE_TRIES):
        if server.reload(why, settle=True) is not None:
            break
        await asyncio.sleep(SETTLE_PAUSE)
    else:  # it stayed empty: the user emptied it
        server.reload(why)


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
