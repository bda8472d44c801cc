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
4. ``Datasette.databases``, which ``add_database``/``remove_database`` replace by a new dict (copy on
   write) and every view reads: ``pin_databases`` makes each request read the dict that was current
   when it started, so a publication switch by another request never reaches a request half-way.

tests/test_portal_datasette_internals.py checks each of these against the installed Datasette and
fails loudly, naming the internal, when an upgrade changes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars

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


# (id of the Datasette, its databases dict) for the request running in this context; None outside requests.
_pinned_databases: contextvars.ContextVar[tuple[int, dict] | None] = contextvars.ContextVar(
    "sti_pinned_databases", default=None
)


class _PinnedDatabases:
    """Mixin: `databases` reads the request's pinned dict, else the live one; writes go to the live one.

    Sound because Datasette never mutates the dict it exposes: add_database / remove_database build a
    new one and assign it (internal 4), so the dict a request pinned stays as it was for the request."""

    @property
    def databases(self):
        pinned = _pinned_databases.get()
        if pinned is not None and pinned[0] == id(self):
            return pinned[1]
        return self.__dict__["_sti_live_databases"]

    @databases.setter
    def databases(self, value):
        self.__dict__["_sti_live_databases"] = value


def enable_database_pinning(datasette) -> None:
    """Give this Datasette instance the `_PinnedDatabases` behaviour (once; other instances untouched)."""
    if isinstance(datasette, _PinnedDatabases):
        return
    live = datasette.__dict__.pop("databases")
    cls = type(datasette)
    datasette.__class__ = type(f"Pinned{cls.__name__}", (_PinnedDatabases, cls), {})
    datasette.databases = live


def pin_databases(datasette) -> contextvars.Token:
    """From now on in this request (its task and the tasks it starts), `datasette.databases` is the
    dict current at this moment. Undo with `unpin_databases(token)`."""
    enable_database_pinning(datasette)
    return _pinned_databases.set((id(datasette), datasette.__dict__["_sti_live_databases"]))


def unpin_databases(token: contextvars.Token) -> None:
    _pinned_databases.reset(token)


@contextlib.contextmanager
def unpinned():
    """Within: `databases` is the live dict even inside a pinned request (to read or replace what is served now)."""
    token = _pinned_databases.set(None)
    try:
        yield
    finally:
        _pinned_databases.reset(token)
