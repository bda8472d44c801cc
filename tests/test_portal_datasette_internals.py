"""The Datasette internals the portal relies on (portal/site/datasette_internals.py), checked against the installed
Datasette: an upgrade that changes one of them fails here, naming it, instead of breaking the served portal quietly."""

from __future__ import annotations

import inspect
import threading

import datasette
import datasette.database
import datasette.handle_exception
from datasette.app import Datasette
from datasette.database import Database

from portal.site import datasette_internals


def test_pinned_datasette_version_is_the_one_installed():
    from datasette.version import __version__

    assert __version__.startswith(datasette_internals.PINNED_DATASETTE + "."), (
        f"Datasette {__version__} installed, portal/site/datasette_internals.py was written for "
        f"{datasette_internals.PINNED_DATASETTE}.x: re-check every internal listed there"
    )


def test_error_handler_still_prints_through_a_module_level_rich():
    source = inspect.getsource(datasette.handle_exception)
    assert hasattr(datasette.handle_exception, "rich") and "if rich is not None" in source, (
        "datasette.handle_exception no longer uses a module-level `rich`: silence_rich_tracebacks() has no effect"
    )
    saved = datasette.handle_exception.rich
    try:
        datasette_internals.silence_rich_tracebacks()
        assert datasette.handle_exception.rich is None
    finally:
        datasette.handle_exception.rich = saved


def test_per_thread_connections_are_still_stored_by_database_name():
    assert isinstance(datasette.database.connections, threading.local), "datasette.database.connections changed"
    source = inspect.getsource(Database.execute_fn)
    for piece in (
        "self.ds.executor",
        "getattr(connections, self.name, None)",
        "self.connect()",
        "self.ds._prepare_connection(conn, self.name)",
        "setattr(connections, self.name, conn)",
    ):
        assert piece in source, f"Database.execute_fn no longer contains {piece!r}: OwnConnectionsDatabase copies it"
    assert callable(getattr(Datasette, "_prepare_connection", None)), "Datasette._prepare_connection is gone"


def test_inspect_data_and_cached_counts_are_still_read_by_database():
    ds = Datasette(memory=True)
    assert hasattr(ds, "inspect_data"), "Datasette.inspect_data is gone"
    db = Database(ds, is_memory=True)
    for name in ("cached_hash", "cached_size", "_cached_table_counts"):
        assert hasattr(db, name), f"Database.{name} is gone: install_inspect_data() sets it"
    assert "self._cached_table_counts" in inspect.getsource(Database.table_counts)
    assert "inspect_data" in inspect.getsource(Database.hash.fget)


async def _counts_through_the_internals(path):
    ds = Datasette(memory=True)
    db = datasette_internals.OwnConnectionsDatabase(ds, path=str(path), is_mutable=False)
    db.connection_key = "test_internals"
    ds.add_database(db, name="t")
    info = {"hash": "abc", "size": 1, "file": "x", "tables": {"observations": {"count": 7}}}
    datasette_internals.install_inspect_data(ds, "t", db, info)
    counts = await db.table_counts(1)
    rows = (await db.execute("select 41 + 1")).rows
    datasette_internals.forget_inspect_data(ds, "t")
    return counts, db.hash, rows[0][0], ds.inspect_data


def test_installed_counts_are_what_datasette_reports_and_own_connections_answer(tmp_path):
    import asyncio
    import sqlite3

    path = tmp_path / "t.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE observations (x)")  # empty: the count 7 can only come from the inspect data
    counts, content_hash, answer, after = asyncio.run(_counts_through_the_internals(path))
    assert counts == {"observations": 7} and content_hash == "abc" and answer == 42
    assert "t" not in (after or {})


def test_datasette_base_template_is_the_one_portal_base_html_copies():
    """portal/templates/base.html is Datasette 0.65.x's base.html plus <html lang> and the portal's navigation:
    when Datasette's changes, the copy must be redone from the new one."""
    import hashlib
    from pathlib import Path

    theirs = Path(datasette.__file__).parent / "templates" / "base.html"
    digest = hashlib.sha256(theirs.read_bytes()).hexdigest()
    assert digest == "bb22df33caea147e1db3b238878f2716ab698c81be89a66d9dabd5649e899dc2", (
        f"Datasette's templates/base.html changed ({theirs}): redo portal/templates/base.html from it"
    )


def test_databases_are_still_replaced_not_mutated_so_a_request_can_pin_them():
    """Internal 4: add_database / remove_database assign a new dict; a pinned request keeps the old one."""
    ds = Datasette([], memory=True)
    token = datasette_internals.pin_databases(ds)
    try:
        pinned = ds.databases
        ds.add_database(Database(ds, is_memory=True), name="newer")
        assert "newer" not in pinned and "newer" not in ds.databases, (
            "Datasette.add_database changed the dict in place (or a pinned request sees new databases): "
            "pin_databases no longer isolates a request from a publication switch"
        )
    finally:
        datasette_internals.unpin_databases(token)
    assert "newer" in ds.databases  # outside the request: the live dict
    assert type(ds).__mro__[1] is datasette_internals._PinnedDatabases and isinstance(ds, Datasette)
