"""sti-portal's downloads: ``/downloads/<path>`` streams the files pre-built at publish time.

A download is composed from the parts of the published version (``sti_portal/publish/downloads/``: a head,
part files, a tail, as ``manifest.json`` lists them): the CSV, the CSV for Excel and the JSON of every
table, indicator and region, with their exact Content-Length, and the bulk ZIP, deflated while it is
sent. The bytes are produced by a worker thread, one 1 MB chunk at a time, and handed to the event loop
through a queue of a few chunks, so the server's memory stays flat whatever the file size and the
event loop stays free (zlib and file reads run outside it). Only paths the manifest lists are served,
so nothing else under STI_HOME can be reached.

The ``/downloads`` page itself is in ``sti_site.py``.
"""

import asyncio
import os
import threading
from pathlib import Path

from datasette import hookimpl
from datasette.utils.asgi import NotFound, Response

from sti_portal.publish import downloads as built

DATABASE = "sti"
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "csv_bom": "text/csv; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "zip": "application/zip",
}
QUEUED_CHUNKS = 4  # chunks read ahead of the client: memory per download = this x 1 MB
# The ZIP is deflated while it is sent (a core at work for the whole download): at most this many at once,
# the next ones wait for a slot.
ZIP_SLOTS = threading.BoundedSemaphore(2)


def downloads_dir(datasette):
    """The downloads built with the sti.db being served (beside it, in the same generation)."""
    db = datasette.databases.get(DATABASE)
    if db is None or not db.path:
        return None
    folder = Path(os.path.realpath(db.path)).parent / "downloads"
    return folder if folder.is_dir() else None


def download_name(relative: str, stamp: str) -> str:
    """sti-portal_tables_observations_2026-11-22.csv, sti-portal-data_2026-11-22.zip."""
    folder, _, name = relative.rpartition("/")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    prefix = "" if relative.startswith("sti-portal") else "sti-portal_"
    return f"{prefix}{folder + '_' if folder else ''}{stem}_{stamp}{'.' + suffix if suffix else ''}"


class StreamedDownload:
    """One composed download, produced by a worker thread and sent in large chunks."""

    def __init__(self, folder, manifest, entry, filename, receive, head_only):
        self.folder, self.manifest, self.entry = folder, manifest, entry
        self.filename, self.receive, self.head_only = filename, receive, head_only

    def headers(self):
        stamp = self.manifest.get("retrieved", "")
        headers = {
            "content-type": CONTENT_TYPES.get(self.entry["kind"], "application/octet-stream"),
            "content-disposition": f'attachment; filename="{self.filename}"',
            "cache-control": "max-age=300",
            "x-sti-retrieved": stamp,
        }
        size = built.content_length(self.entry)
        if size is not None:
            headers["content-length"] = str(size)
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def asgi_send(self, send):
        await send({"type": "http.response.start", "status": 200, "headers": self.headers()})
        if self.head_only:
            await send({"type": "http.response.body", "body": b""})
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        slots = threading.Semaphore(QUEUED_CHUNKS)
        stop = threading.Event()
        zip_slot = self.entry["kind"] == "zip"

        def hand_over(item) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def produce() -> None:
            if zip_slot:
                while not ZIP_SLOTS.acquire(timeout=1):
                    if stop.is_set():
                        return
            try:
                for chunk in built.iter_download(self.folder, self.manifest, self.entry):
                    if not chunk:
                        continue
                    while not slots.acquire(timeout=1):
                        if stop.is_set():
                            return
                    if stop.is_set():
                        return
                    hand_over(chunk)
                hand_over(None)
            except BaseException as error:  # the client sees a cut-off body; the log says why
                hand_over(error)
            finally:
                if zip_slot:
                    ZIP_SLOTS.release()

        async def watch_disconnect() -> None:
            while True:
                message = await self.receive()
                if message["type"] == "http.disconnect":
                    stop.set()
                    queue.put_nowait(None)
                    return

        worker = threading.Thread(target=produce, name="sti-download", daemon=True)
        watcher = asyncio.ensure_future(watch_disconnect())
        worker.start()
        try:
            while True:
                item = await queue.get()
                if item is None or stop.is_set():
                    break
                if isinstance(item, BaseException):
                    raise item
                slots.release()
                await send({"type": "http.response.body", "body": item, "more_body": True})
            if not stop.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            stop.set()
            watcher.cancel()


async def download_file(datasette, request):
    folder = downloads_dir(datasette)
    relative = request.url_vars["path"]
    manifest = built.read_manifest(folder) if folder is not None else None
    entry = built.find_file(manifest, relative)
    if entry is None:
        raise NotFound("No such download")
    return StreamedDownload(
        folder,
        manifest,
        entry,
        download_name(relative, manifest.get("retrieved", "")),
        request.receive,
        request.method == "HEAD",
    )


async def downloads_redirect(datasette, request):
    return Response.redirect("/downloads")


@hookimpl
def register_routes(datasette):
    return [
        (r"^/downloads/$", downloads_redirect),
        (r"^/downloads/(?P<path>.+)$", download_file),
    ]
