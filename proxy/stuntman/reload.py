"""Hot reload: watch the stubs directory and reload the route table when anything in it changes.

watchfiles (Rust `notify`, inotify on Linux) batches a burst of events; each batch is one reload,
so a file rewritten 100 times in 2 s costs a handful of reloads and always ends on its last
content. A bad file leaves the previous table serving (see Server.reload).
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from watchfiles import awatch

from .settings import Settings

SETTLE_TRIES, SETTLE_PAUSE = 20, 0.05  # a truncated file gets up to 1 s to be written again


class Reloadable(Protocol):
    """What `watch` needs of the server (stuntman.server.Server)."""

    @property
    def settings(self) -> Settings: ...

    def reload(self, why: str, settle: bool = False) -> bool | None: ...

    def contract_files(self) -> list[Path]: ...

    def contract_dirs(self) -> list[Path]: ...


async def watch(server: Reloadable) -> None:
    """Reload on any change under the stubs directory, or to a contract file outside it (an
    --openapi spec and the files it refers to, a --pact file: their directories are watched, not
    recursively), or to a *.json file in a --pact directory."""
    root = server.settings.stubs.resolve()
    outside = sorted({path.parent for path in server.contract_files() if not path.is_relative_to(root)})
    watchers = [_reload_on_changes(server, root, [root], recursive=True)]
    dirs = [d for d in server.contract_dirs() if not d.is_relative_to(root)]
    if outside or dirs:
        files = {str(path) for path in server.contract_files()}
        folders = {str(d) for d in dirs}
        watchers.append(_reload_on_changes(
            server, root, sorted({*outside, *dirs}), recursive=False,
            only=lambda _, path: path in files or (path.endswith(".json") and str(Path(path).parent) in folders)))
    await asyncio.gather(*watchers)


async def _reload_on_changes(server: Reloadable, root: Path, paths: list[Path], recursive: bool,
                             only=None) -> None:
    async for changes in awatch(*paths, debounce=50, step=20, recursive=recursive, watch_filter=only):
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
