"""The published base a batch of uploads is checked against and added to: the published generation (when a
batch can be appended to it) or every input read afresh (bundled snapshots + archived uploads, for a rebuild).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sources.common import SourceFormatError
from sti_portal.core.settings import Paths, load_settings, snapshot_dir
from sti_portal.publish import archive, generations, incremental
from sti_portal.transform import steps
from sti_portal.transform.harmonise import HarmonisedBatch, HarmoniseError
from sti_portal.uploads.read import extract_archived


@dataclass
class Base:
    observations: pd.DataFrame  # harmonised rows of every release, derived rows excluded
    description: str
    batch: HarmonisedBatch | None = None  # when built from the inputs: aliases and dropped rows too


def incremental_base(paths: Paths, rebuild: bool = False) -> Path | None:
    """The published generation a batch can be appended to, or None when only a rebuild will do
    (nothing published yet, or a generation from before incremental loads, or `--rebuild`)."""
    if rebuild or load_settings().load_rebuild:
        return None
    generation = generations.current_generation(paths)
    if generation is None or not incremental.appendable(generation):
        return None
    return generation


class BaseUnreadable(RuntimeError):
    pass


def base_from_inputs(paths: Paths, uploads: list[archive.ArchivedUpload]) -> Base:
    """Every input read afresh: bundled snapshots + archived uploads (what the new warehouse is built from)."""
    try:
        frames = snapshot_frames()
        uploaded, problems = extract_archived(uploads, lambda entry: archive.locate(paths, entry))
        if problems:
            raise BaseUnreadable("archived uploads no longer read cleanly:\n  " + "\n  ".join(problems))
        batch = steps.harmonise_sources(frames + [uploaded])
    except (SourceFormatError, HarmoniseError, FileNotFoundError) as exc:
        raise BaseUnreadable(f"the bundled sources or archived uploads cannot be read: {exc}") from exc
    return Base(
        batch.observations,
        f"a fresh build of the bundled sources and {len(uploads)} archived upload(s) "
        f"({len(batch.observations):,} values)",
        batch,
    )


_SNAPSHOT_MEMO: dict[tuple, list[pd.DataFrame]] = {}


def snapshot_frames() -> list[pd.DataFrame]:
    """Every source adapter's tidy frame. Memoised within the process on the snapshot files' names, sizes and
    modification times (a long-lived process, e.g. the test session, reads them once)."""
    folder = snapshot_dir()
    fingerprint = (
        str(folder),
        tuple(
            sorted(
                (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                for p in folder.rglob("*")
                if p.is_file()
            )
        ),
    )
    if fingerprint not in _SNAPSHOT_MEMO:
        _SNAPSHOT_MEMO.clear()
        _SNAPSHOT_MEMO[fingerprint] = [steps.extract_source(name, folder) for name in steps.SOURCE_ADAPTERS]
    return [frame.copy() for frame in _SNAPSHOT_MEMO[fingerprint]]
