"""Resource faults (a full disk, no memory) are verdicts too: `sti check`/`sti load` exit 2, "could not run".

A load writes a whole new generation (warehouse.duckdb, sti.db, downloads) before switching it in, so it
needs about the published generation's size again in free space; `preflight` checks that before anything
is written and says how much is missing. A fault that happens anyway (another process filled the disk
meanwhile) is turned into the same kind of sentence by `fault_sentence`, the unfinished generation is
removed (generations.recover), and the next run works once space is freed.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from sti_portal.core.settings import Paths, load_settings

MB = 1024 * 1024
DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
DISK_FULL_TEXTS = ("no space left on device", "database or disk is full", "disk quota exceeded", "disk is full")
# With nothing published yet, a first generation from the bundled sources takes about this much.
FIRST_GENERATION_BYTES = 200 * MB


class ResourceFault(Exception):
    """The run could not be done for want of a resource; the message is the sentence the user reads."""


def tree_bytes(folder: Path) -> int:
    """Bytes of the regular files under `folder` (links are not followed: they point into other generations)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                stat = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += stat.st_size if not os.path.islink(os.path.join(root, name)) else 0
    return total


def needed_bytes(paths: Paths) -> int:
    current = paths.current.resolve() if paths.current.is_symlink() else None
    size = tree_bytes(current) if current is not None and current.is_dir() else FIRST_GENERATION_BYTES
    return size + int(load_settings().free_space_margin_mb * MB)


def free_bytes(folder: Path) -> int:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def preflight(paths: Paths, what: str = "a new generation") -> None:
    """Raise ResourceFault unless the disk of STI_HOME has room for `what` (the published size + margin)."""
    needed = needed_bytes(paths)
    free = free_bytes(paths.home)
    if free < needed:
        raise ResourceFault(
            f"not enough free disk space to write {what} in {paths.home}: {free / MB:,.0f} MB free, "
            f"{needed / MB:,.0f} MB needed (the published generation's size plus STI_FREE_SPACE_MARGIN_MB); "
            f"free at least {(needed - free) / MB:,.0f} MB and run again. Nothing was written or published"
        )


def is_disk_full(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        if any(text in str(exc).lower() for text in DISK_FULL_TEXTS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def fault_sentence(exc: BaseException, paths: Paths) -> str | None:
    """The sentence for a resource fault, or None when `exc` is not one."""
    if isinstance(exc, ResourceFault):
        return str(exc)
    if isinstance(exc, MemoryError):
        return (
            "out of memory while checking or loading; nothing was published. Free memory (or lower "
            "STI_UPLOAD_MAX_ROWS / split the file) and run again"
        )
    if is_disk_full(exc):
        needed = needed_bytes(paths)
        try:
            free = free_bytes(paths.home)
        except OSError:
            free = 0
        return (
            f"the disk holding {paths.home} is full ({free / MB:,.0f} MB free; a load needs about "
            f"{needed / MB:,.0f} MB); nothing was published and nothing half-written is left. Free at least "
            f"{max(needed - free, 0) / MB:,.0f} MB and run again"
        )
    return None
