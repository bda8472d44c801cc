"""The archive of accepted uploads: every published upload value traces to one file kept here.

    archive/upload_20261122T150102_3f9a1c2e__hebei_2023.csv               the file, byte for byte
    archive/upload_20261122T150102_3f9a1c2e__hebei_2023.csv.source.json   original name, sha256, load time

The release id is the load time plus the first 8 hex digits of the file's sha256, so releases loaded
later sort later, and loading the same bytes again is recognised (the published manifest lists every
archived file's sha256) and is a no-op.

A load copies its files to `archive/.staging/` before it builds; they move to `archive/` once the new
generation is published. If the load is killed, `recover` finishes the move (the generation was
published) or deletes the staged copies (it was not). The published generation's manifest.json lists
the uploads it was built from; `sti build` rebuilds from exactly those (or, in a home without any
published generation, from everything in `archive/`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from sti_portal.core.settings import Paths

STAGING = ".staging"
SIDECAR_SUFFIX = ".source.json"


@dataclass(frozen=True)
class ArchivedUpload:
    release: str  # upload_<UTC time>_<sha8>
    sha256: str
    original_name: str  # the name the statistician gave the file
    archived_name: str  # the name under archive/
    loaded_at: str  # UTC, ISO 8601
    vintage: str  # YYYY-MM-DD (the load date): orders this release among the others
    size: int
    values: int  # values read from the file
    format: str  # "csv (GBK/GB18030)", "xlsx", "yearbook table", ...

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, body: dict) -> ArchivedUpload:
        return cls(**{key: body[key] for key in cls.__dataclass_fields__})

    @property
    def source_prefix(self) -> str:
        """How source_ref names the file: relative to STI_HOME."""
        return f"archive/{self.archived_name}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def release_for(sha256: str, when: datetime) -> str:
    return f"upload_{when:%Y%m%dT%H%M%S}_{sha256[:8]}"


def archived_name_for(release: str, original_name: str) -> str:
    safe = re.sub(r"[^\w.\-]+", "_", original_name, flags=re.UNICODE).strip("._") or "upload"
    return f"{release}__{safe[-120:]}"


def _sidecar(folder: Path, archived_name: str) -> Path:
    return folder / f"{archived_name}{SIDECAR_SUFFIX}"


def staging_dir(paths: Paths) -> Path:
    return paths.archive / STAGING


def stage(paths: Paths, source: Path, entry: ArchivedUpload) -> Path:
    """Copy `source` into archive/.staging with its sidecar, durably."""
    folder = staging_dir(paths)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / entry.archived_name
    tmp = folder / f".{entry.archived_name}.tmp"
    shutil.copyfile(source, tmp)
    _fsync(tmp)
    os.replace(tmp, target)
    sidecar = _sidecar(folder, entry.archived_name)
    tmp = folder / f".{sidecar.name}.tmp"
    tmp.write_text(json.dumps(entry.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, sidecar)
    return target


def locate(paths: Paths, entry: ArchivedUpload) -> Path:
    for folder in (paths.archive, staging_dir(paths)):
        if (folder / entry.archived_name).exists():
            return folder / entry.archived_name
    raise FileNotFoundError(
        f"archived upload {entry.archived_name} (release {entry.release}) is missing from {paths.archive}"
    )


def settle(paths: Paths, entries: list[ArchivedUpload]) -> None:
    """Move published entries from archive/.staging to archive/ (data first, then the sidecar)."""
    folder = staging_dir(paths)
    for entry in entries:
        for name in (entry.archived_name, _sidecar(folder, entry.archived_name).name):
            if (folder / name).exists():
                os.replace(folder / name, paths.archive / name)


def recover(paths: Paths, published: list[dict] | None) -> list[str]:
    """Finish or undo the archiving of a killed load (call with the write lock held)."""
    folder = staging_dir(paths)
    if not folder.is_dir():
        return []
    published_names = {body["archived_name"] for body in (published or [])}
    actions = []
    for path in sorted(folder.iterdir()):
        if path.name.endswith(SIDECAR_SUFFIX) or path.name.startswith("."):
            continue
        if path.name in published_names:
            settle(paths, [ArchivedUpload.from_dict(next(b for b in published if b["archived_name"] == path.name))])
            actions.append(f"archived {path.name} (its load was published)")
        else:
            path.unlink(missing_ok=True)
            _sidecar(folder, path.name).unlink(missing_ok=True)
            actions.append(f"discarded staged {path.name} (its load was not published)")
    for leftover in folder.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)
    return actions


def listed(paths: Paths) -> list[ArchivedUpload]:
    """Every upload in archive/ (not the staging area), oldest release first."""
    if not paths.archive.is_dir():
        return []
    entries = [
        ArchivedUpload.from_dict(json.loads(path.read_text(encoding="utf-8")))
        for path in paths.archive.glob(f"*{SIDECAR_SUFFIX}")
    ]
    return sorted(entries, key=lambda entry: entry.release)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
