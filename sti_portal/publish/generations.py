"""Atomic publication: the warehouse, sti.db and the downloads switch together, or not at all.

Layout under STI_HOME::

    generations/<id>/warehouse.duckdb   a complete build (every build or load writes a new directory)
    generations/<id>/sti.db
    generations/<id>/downloads -> downloads.d/<version>
    generations/<id>/manifest.json      written last: a generation without it is incomplete
    current -> generations/<id>         the published generation: ONE symlink, replaced by a rename
    warehouse.duckdb -> current/warehouse.duckdb
    sti.db -> current/sti.db
    downloads -> current/downloads

Readers keep using $STI_HOME/sti.db and $STI_HOME/warehouse.duckdb. A writer builds a new generation
beside the published one and switches `current` with one rename(2), so readers see the old files or the
new ones, never a mix, also when the writer is killed (SIGKILL) at any moment. What a killed writer
leaves behind (a generation without manifest, a temporary link, staged archive files) is removed by
`recover`, which every writer runs as soon as it holds the lock.

Writers (`sti build`, `sti load`, the Dagster jobs) hold an exclusive file lock (flock, released by the
kernel when a process dies) for their whole run, so there is one writer at a time.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from sti_portal.core.settings import Paths, load_settings
from sti_portal.publish import archive

MANIFEST = "manifest.json"
PUBLISHED_NAMES = ("warehouse.duckdb", "sti.db", "downloads")


class WriterBusy(RuntimeError):
    """Another build or load holds the write lock."""


class PublicationConflict(RuntimeError):
    """The published generation changed while this writer was building (should not happen under the lock)."""


# ------------------------------------------------------------------------------------------ the lock

_LOCKS: dict[str, FileLock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(paths: Paths) -> FileLock:
    with _LOCKS_GUARD:
        # One re-entrant lock object per file and process: `sti build` holds it and the Dagster run it
        # executes in-process takes it again.
        return _LOCKS.setdefault(str(paths.lock), FileLock(str(paths.lock), thread_local=False))


def _owner_file(paths: Paths) -> Path:
    return paths.lock.with_name(paths.lock.name + ".owner")


@contextmanager
def writer_lock(paths: Paths, purpose: str, timeout: float | None = None):
    """Hold the exclusive write lock of STI_HOME; on first entry, clean up after any killed writer."""
    paths.home.mkdir(parents=True, exist_ok=True)
    lock = _lock_for(paths)
    outermost = not lock.is_locked
    timeout = load_settings().lock_timeout if timeout is None else timeout
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise WriterBusy(
            f"another build or load is writing to {paths.home} ({lock_owner(paths)}); "
            f"gave up after waiting {timeout:.0f} s"
        ) from None
    try:
        if outermost:
            _owner_file(paths).write_text(
                json.dumps({"pid": os.getpid(), "purpose": purpose, "since": _now_iso()}), encoding="utf-8"
            )
            recover(paths)
        yield
    finally:
        lock.release()


def lock_owner(paths: Paths) -> str:
    try:
        owner = json.loads(_owner_file(paths).read_text(encoding="utf-8"))
        return f"{owner.get('purpose', '?')}, pid {owner.get('pid', '?')}, since {owner.get('since', '?')}"
    except (OSError, ValueError):
        return "holder unknown"


def holds_lock(paths: Paths) -> bool:
    return _lock_for(paths).is_locked


# ------------------------------------------------------------------------------------------ generations


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def current_generation(paths: Paths) -> Path | None:
    link = paths.current
    if not link.is_symlink():
        return None
    target = link.parent / os.readlink(link)
    return target if (target / MANIFEST).exists() else None


def current_id(paths: Paths) -> str | None:
    generation = current_generation(paths)
    return generation.name if generation else None


def read_manifest(generation: Path | None) -> dict:
    if generation is None:
        return {}
    return json.loads((generation / MANIFEST).read_text(encoding="utf-8"))


def current_manifest(paths: Paths) -> dict:
    return read_manifest(current_generation(paths))


def published_uploads(paths: Paths) -> list[archive.ArchivedUpload]:
    """The uploads the published warehouse was built from (what `sti build` rebuilds from); in a home
    without any published generation, everything in archive/."""
    generation = current_generation(paths)
    if generation is None:
        return archive.listed(paths)
    return [archive.ArchivedUpload.from_dict(body) for body in read_manifest(generation).get("uploads", [])]


def new_generation(paths: Paths, label: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    generation = paths.generations / f"{stamp}-{label}"
    generation.mkdir(parents=True)
    return generation


def commit(paths: Paths, generation: Path, manifest: dict, expected_base: str | None) -> None:
    """Publish `generation`: make it durable, write its manifest, then switch `current` to it.

    `expected_base` is the generation the new one was built from; if `current` is no longer that one,
    nothing is switched (a compare-and-swap: the lock makes this a safety net, not the mechanism).
    """
    if not holds_lock(paths):
        raise RuntimeError("commit() needs the write lock (generations.writer_lock)")
    base = current_id(paths)
    if base != expected_base:
        raise PublicationConflict(
            f"the published generation changed from {expected_base} to {base} while this one was built; "
            "nothing was published, run again"
        )
    _fsync_tree(generation)
    body = {**manifest, "generation": generation.name, "base": base, "published_at": _now_iso()}
    _write_json_durably(generation / MANIFEST, body)
    checkpoint("before_switch", paths)
    _switch(paths, generation)
    _ensure_links(paths)
    _fsync_dir(paths.home)
    _collect_old_generations(paths)


def _switch(paths: Paths, generation: Path) -> None:
    tmp = paths.home / f".current.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(generation, paths.home), tmp)
    os.replace(tmp, paths.current)  # rename(2): atomic
    _fsync_dir(paths.home)


def _ensure_links(paths: Paths) -> None:
    """warehouse.duckdb, sti.db and downloads in STI_HOME point through `current` (created once, then stable)."""
    for name in PUBLISHED_NAMES:
        if not os.path.lexists(paths.current / name):
            continue
        link = paths.home / name
        wanted = f"{paths.current.name}/{name}"
        if link.is_symlink() and os.readlink(link) == wanted:
            continue
        tmp = paths.home / f".{name}.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        os.symlink(wanted, tmp)
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        os.replace(tmp, link)


# ------------------------------------------------------------------------------------------ recovery


def recover(paths: Paths) -> list[str]:
    """Clean up after a killed writer (call with the lock held). Returns what was done, for the log."""
    actions = []
    actions += _migrate_plain_files(paths)
    for tmp in paths.home.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
        actions.append(f"removed {tmp.name}")
    current = current_generation(paths)
    if paths.generations.is_dir():
        for generation in paths.generations.iterdir():
            if generation.is_dir() and generation != current and not (generation / MANIFEST).exists():
                shutil.rmtree(generation, ignore_errors=True)
                actions.append(f"removed unfinished generation {generation.name}")
    if current is not None:
        _ensure_links(paths)
        _collect_old_generations(paths)
    actions += archive.recover(paths, read_manifest(current).get("uploads") if current else None)
    return actions


def _collect_old_generations(paths: Paths) -> None:
    """Keep the current generation and the one before it (a reader may still have it open)."""
    current = current_generation(paths)
    if current is None:
        return
    keep = {current.name, read_manifest(current).get("base")}
    for generation in paths.generations.iterdir():
        if generation.is_dir() and generation.name not in keep and (generation / MANIFEST).exists():
            shutil.rmtree(generation, ignore_errors=True)


def _migrate_plain_files(paths: Paths) -> list[str]:
    """A home written before generations existed holds plain files: adopt them as the first generation.

    Every step leaves the old content visible at the old paths (hard links, then one rename per path),
    so a kill during the migration is harmless and the next writer finishes it.
    """
    if current_generation(paths) is not None:
        return []
    plain = [
        name
        for name in ("warehouse.duckdb", "sti.db")
        if (paths.home / name).is_file() and not (paths.home / name).is_symlink()
    ]
    if not plain:
        return []
    generation = new_generation(paths, "adopted")
    for name in plain:
        link_or_copy(paths.home / name, generation / name)
    downloads = paths.home / "downloads"
    old_versions = None
    if downloads.exists():
        source = downloads.resolve()
        target = generation / "downloads.d" / source.name
        shutil.copytree(source, target, copy_function=link_or_copy)
        os.symlink(f"downloads.d/{source.name}", generation / "downloads")
        old_versions = paths.home / "downloads.d"
    _fsync_tree(generation)
    _write_json_durably(
        generation / MANIFEST,
        {
            "kind": "adopted",
            "generation": generation.name,
            "base": None,
            "published_at": _now_iso(),
            "uploads": [],
            "note": "files of a home built before generations existed",
        },
    )
    _switch(paths, generation)
    _ensure_links(paths)
    if old_versions is not None and old_versions.is_dir():
        shutil.rmtree(old_versions, ignore_errors=True)
    return [f"adopted plain files {plain} as generation {generation.name}"]


def link_or_copy(source, target) -> None:
    """Hard-link `source` at `target` (a published file is never written again, so both may share its
    blocks); copy it where a link cannot be made (another file system, EXDEV, or no links allowed)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


# ------------------------------------------------------------------------------------------ durability


def _fsync_tree(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_durably(path: Path, body: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(body, handle, ensure_ascii=False, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


# ------------------------------------------------------------------------------------------ checkpoints


def checkpoint(name: str, paths: Paths) -> None:
    """A named moment of a writer's run (after_check, warehouse_written, before_switch, after_switch) at which
    a kill must leave the old state or the new one. Does nothing here: the atomicity tests stop a writer at
    one (tests/fault_injection/sitecustomize.py replaces this function in the `sti load` they kill)."""
