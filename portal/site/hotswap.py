"""Following a newly published sti.db while serving: new connections, new row counts, no restart.

`sti build` / `sti load` publish by switching symlinks (STI_HOME/sti.db -> current/sti.db ->
generations/<id>/sti.db) or by replacing the file. `follow_publication` (run on every request) notices
and swaps in a `PublishedDatabase` pinned to the new file; `install_counts` gives Datasette that file's
table row counts (its inspect data, per publication).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import urllib.parse

from portal.site.constants import DATABASE
from portal.site.datasette_internals import (
    OwnConnectionsDatabase,
    forget_inspect_data,
    install_inspect_data,
    unpinned,
)


def identity_of(path: str | None) -> tuple:
    """Which file is published: its real path (through the `sti.db -> current/sti.db` links) and inode."""
    if not path:
        return ("memory",)
    real = os.path.realpath(path)
    stat = os.stat(real)
    return (real, stat.st_ino, stat.st_mtime_ns, stat.st_size)


class PublishedDatabase(OwnConnectionsDatabase):
    """sti.db of one publication, opened by its real path, with per-thread connections of its own.

    `sti build` / `sti load` publish by switching symlinks (STI_HOME/sti.db -> current/sti.db ->
    generations/<id>/sti.db) or by replacing the file. Datasette opens an immutable database once per
    SQL thread and keeps the connection under the database's *name*, so after a switch it would go on
    serving the old file, or a mix. `follow_publication` (run on every request) swaps in a new
    PublishedDatabase when the published file changes: new connections, pinned to the new file; the
    old ones are closed a minute later, after any query still running on them. A request that started
    before the swap goes on reading the old database to its end (cache.py pins `datasette.databases`
    per request, datasette_internals.pin_databases), so no response mixes two publications.
    """

    def __init__(self, ds, link_path: str, identity: tuple):
        super().__init__(ds, path=identity[0], is_mutable=False)
        self.link_path = link_path
        self.identity = identity
        self.counted: asyncio.Future | None = None  # install_counts for this publication
        self.connection_key = f"sti_published_{abs(hash(identity))}"


def follow_publication(datasette) -> None:
    """Swap in the newly published file if the link now points at another one (on the live databases:
    a request pinned to an older publication keeps it, and does not swap a second time)."""
    with unpinned():
        _follow_publication(datasette)


def _follow_publication(datasette) -> None:
    db = datasette.databases.get(DATABASE)
    if db is None or not db.path:
        return
    link = getattr(db, "link_path", db.path)
    try:
        identity = identity_of(link)
    except OSError:  # mid-switch or gone: keep serving what is open
        return
    if getattr(db, "identity", None) == identity:
        return
    replacement = PublishedDatabase(datasette, link, identity)
    # No await between these calls: no request sees the portal without its database, or the new
    # database with the old one's row counts.
    datasette.remove_database(DATABASE)
    datasette.add_database(replacement, name=DATABASE)
    forget_inspect_data(datasette, DATABASE)
    try:
        replacement.counted = asyncio.ensure_future(install_counts(datasette, replacement))
    except RuntimeError:  # no event loop running (called outside the server): Datasette counts per request
        pass
    if isinstance(db, PublishedDatabase):
        try:
            asyncio.get_running_loop().call_later(60, db.close)
        except RuntimeError:
            pass


def _count_tables(path: str) -> tuple[dict, str | None]:
    """Exact row counts of every table of one published file, and its build's content hash."""
    conn = sqlite3.connect(f"file:{urllib.parse.quote(path)}?immutable=1", uri=True)
    try:
        counts = {}
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            try:
                counts[name] = conn.execute(f"SELECT count(*) FROM [{name}]").fetchone()[0]
            except sqlite3.Error:
                pass
        try:
            row = conn.execute("SELECT value FROM build_info WHERE key = 'content_sha256'").fetchone()
        except sqlite3.Error:
            row = None
        return counts, (row[0] if row else None)
    finally:
        conn.close()


async def install_counts(datasette, db: PublishedDatabase) -> None:
    """Datasette's "inspect" data for this publication, so table pages do not count millions of rows per request.

    What `datasette inspect` + `--inspect-file` give, but per publication: a switch to a new sti.db
    (follow_publication) drops the old counts at once and installs the new ones when counted (about a
    second for 11 M rows), in a thread outside Datasette's SQL threads. The hash is the build's
    content_sha256 (build_info), not a SHA-256 of a multi-GB file, which Datasette would otherwise compute
    on the event loop the first time /-/databases.json is asked for.
    """
    try:
        counts, content_hash = await asyncio.to_thread(_count_tables, db.path)
    except Exception:  # unreadable: Datasette counts per request, as it would without this
        return
    if datasette.databases.get(DATABASE) is not db:
        return  # a newer publication replaced this one meanwhile
    info = {
        "hash": content_hash or f"{db.identity[2]:x}-{db.identity[3]:x}",
        "size": db.identity[3],
        "file": db.path,
        "tables": {name: {"count": n} for name, n in counts.items()},
    }
    install_inspect_data(datasette, DATABASE, db, info)
