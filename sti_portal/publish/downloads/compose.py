"""Composing a download as the portal serves it: head + parts (+ tail), one chunk at a time; the bulk ZIP
deflated while it is sent (portal/plugins/sti_downloads.py).
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from sti_portal.publish.downloads import layout  # layout.CHUNK read at call time: one setting for all readers
from sti_portal.publish.downloads.layout import LAYOUT, MANIFEST, ZIP_LEVEL, ZIP_ROOT, retrieved_pattern
from sti_portal.publish.formula_guard import neutralised

_MANIFESTS: dict = {}


def read_manifest(folder: Path | None) -> dict | None:
    """A version's manifest (cached by path and modification time: the portal asks on every request)."""
    if folder is None:
        return None
    path = Path(folder) / MANIFEST
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    cached = _MANIFESTS.get(str(path))
    if cached and cached[0] == key:
        return cached[1]
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("layout") == LAYOUT:
        manifest["_by_path"] = {item["path"]: item for item in manifest["files"]}
    if len(_MANIFESTS) > 8:
        _MANIFESTS.clear()
    _MANIFESTS[str(path)] = (key, manifest)
    return manifest


def find_file(manifest: dict | None, path: str) -> dict | None:
    """The manifest's entry for a download path (None: not a download)."""
    if not manifest:
        return None
    if manifest.get("layout") != LAYOUT:
        # A version written before parts existed (until the next build): its files are whole on disk.
        for item in manifest.get("files", []):
            if item.get("path") == path:  # only what the manifest lists: nothing else is reachable
                return {**item, "file": path}
        return None
    return manifest["_by_path"].get(path)


def _part_chunks(folder: Path, manifest: dict, key: str, suffix: str) -> Iterator[bytes]:
    """A part file's bytes; a CSV part written on an earlier date gets this version's date."""
    old = manifest["parts"][key]["retrieved"]
    new = manifest["retrieved"]
    patch = suffix == ".csv" and old != new
    pattern, replacement = (retrieved_pattern(old), retrieved_pattern(new)) if patch else (b"", b"")
    keep = len(pattern) - 1
    carry = b""
    with open(folder / (key + suffix), "rb") as handle:
        while chunk := handle.read(layout.CHUNK):
            if not patch:
                yield chunk
                continue
            # A record end split between two reads is completed by the next one: hold back the last
            # len(pattern) - 1 bytes. (A replacement never creates a new match: the pattern cannot overlap
            # itself and the replacement differs from it.)
            data = (carry + chunk).replace(pattern, replacement)
            carry = data[-keep:]
            if len(data) > keep:
                yield data[:-keep]
            else:
                carry = data
    if carry:
        yield carry


def iter_download(folder: Path, manifest: dict, entry: dict) -> Iterator[bytes]:
    """The bytes of one download as served (constant memory: one chunk at a time)."""
    kind = entry["kind"]
    if "file" in entry:  # a whole file (versions written before parts existed)
        yield from _file_chunks(folder / entry["file"])
        return
    if kind == "zip":
        yield from _iter_zip(folder, manifest, entry)
        return
    yield entry["head"].encode("utf-8")
    if kind == "csv":
        for key in entry["parts"]:
            yield from _part_chunks(folder, manifest, key, ".csv")
    elif kind == "csv_bom":  # for spreadsheets: text that would run as a formula is made text
        for key in entry["parts"]:
            chunks = _part_chunks(folder, manifest, key, ".csv")
            # A part written before the guard (no "formulas" count) is served as written: its length is known.
            yield from neutralised(chunks) if "formulas" in manifest["parts"][key]["csv"] else chunks
    else:  # json: the parts' objects, one per line, joined with commas (no line ends inside JSON text)
        held = b""
        for key in entry["parts"]:
            for chunk in _part_chunks(folder, manifest, key, ".ndjson"):
                chunk = held + chunk.replace(b"\n", b",")
                held = chunk[-1:]
                if len(chunk) > 1:
                    yield chunk[:-1]
        # `held` is the comma that replaced the last object's line end (or nothing if there are no rows)
    yield entry.get("tail", "").encode("utf-8")


def _zip_moment(manifest: dict) -> tuple:
    try:
        return time.strptime(manifest.get("built_at_utc", ""), "%Y-%m-%dT%H:%M:%SZ")[:6]
    except ValueError:
        return (1980, 1, 1, 0, 0, 0)


class _Sink:
    """A write-only, non-seekable file for zipfile: what is written is collected and handed on."""

    def __init__(self):
        self.chunks: list[bytes] = []
        self.size = 0

    def write(self, data) -> int:
        if data:
            self.chunks.append(bytes(data))
            self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks, self.size = [], 0
        return data


def _iter_zip(folder: Path, manifest: dict, entry: dict, level: int = ZIP_LEVEL) -> Iterator[bytes]:
    moment = _zip_moment(manifest)
    sink = _Sink()
    files = manifest["_by_path"] if "_by_path" in manifest else {f["path"]: f for f in manifest["files"]}
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for member in entry["members"]:
            info = zipfile.ZipInfo(f"{ZIP_ROOT}/{member['name']}", date_time=moment)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.file_size = member["bytes"]  # zipfile decides on ZIP64 from it
            if "file" in member:
                chunks: Iterable[bytes] = _file_chunks(folder / member["file"])
            else:
                chunks = iter_download(folder, manifest, files[member["from"]])
            with archive.open(info, "w") as stream:
                for chunk in chunks:
                    stream.write(chunk)
                    if sink.size >= layout.CHUNK:
                        yield sink.take()
            if sink.size >= layout.CHUNK:
                yield sink.take()
    yield sink.take()


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(layout.CHUNK):
            yield chunk


def content_length(entry: dict) -> int | None:
    """The exact size of a download, or None when it is only known once sent (the ZIP)."""
    return entry.get("bytes")
