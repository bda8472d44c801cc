"""Every Datasette internal the portal relies on, in one place (Datasette is pinned at 0.65.x).

Public plugin hooks and documented methods (``render_template``, ``add_database``, ``metadata``,
``absolute_url``) are used where they are needed. What is *not* public API, and therefore may change
in any Datasette release, is touched only here:

1. ``datasette.handle_exception.rich``: set to None so a 404 is not printed with ``rich`` and all local
   variables (0.3-3 s of blocking CPU per bad URL; without ``rich`` only real errors are printed).
2. ``datasette.database.connections`` (the per-thread connection store), ``Database.execute_fn``'s
   structure, ``Datasette.executor`` and ``Datasette._prepare_connection``: a published database keeps
   its own per-thread connections under a key of its own (see ``hotswap.PublishedDatabase``).
3. ``Datasette.inspect_data`` and ``Database.cached_hash`` / ``cached_size`` / ``_cached_table_counts``:
   row counts and hash per publication, what ``datasette inspect`` would give for a file at startup.

tests/test_portal_datasette_internals.py checks each of these against the installed Datasette and
fails loudly, naming the internal, when an upgrade changes it.
"""

from __future__ import annotations

import asyncio

import datasette.handle_exception as datasette_errors
from datasette.database import Database
from datasette.database import connections as datasette_thread_connections

PINNED_DATASETTE = "0.65"


def silence_rich_tracebacks() -> None:
    """No `rich` tracebacks with locals for every exception (404s included): see item 1 above."""
    datasette_errors.rich = None


class OwnConnectionsDatabase(Database):
    """A Database whose per-thread connections are stored under `connection_key`, not under its name.

    Datasette keys a thread's connection by the database's *name*; two files served one after the other
    under the same name would share (and mix) connections. This is Database.execute_fn of 0.65 with
    the key changed."""

    connection_key = "sti_own_connections"

    async def execute_fn(self, fn):
        if self.ds.executor is None:
            return await super().execute_fn(fn)
        key = self.connection_key

        def in_thread():
            conn = getattr(datasette_thread_connections, key, None)
            if not conn:
                conn = self.connect()
                self.ds._prepare_connection(conn, self.name)
                setattr(datasette_thread_connections, key, conn)
            return fn(conn)

        return await asyncio.get_event_loop().run_in_executor(self.ds.executor, in_thread)


def forget_inspect_data(datasette, name: str) -> None:
    """Drop a database's counts from Datasette's inspect data (it counts per request until new ones come)."""
    if datasette.inspect_data:
        datasette.inspect_data = {k: v for k, v in datasette.inspect_data.items() if k != name}


def install_inspect_data(datasette, name: str, db: Database, info: dict) -> None:
    """Install {"hash", "size", "file", "tables": {table: {"count": n}}} as Datasette's inspect data of `db`."""
    datasette.inspect_data = {**(datasette.inspect_data or {}), name: info}
    db.cached_hash, db.cached_size = info["hash"], info["size"]
    db._cached_table_counts = {table: entry["count"] for table, entry in info["tables"].items()}
