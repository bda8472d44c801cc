"""Where the rows of a downloads version come from: the tables publish stages in memory, or a sti.db file
read through DuckDB's sqlite extension.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb

from sti_portal.publish.downloads.layout import PARTITIONED, TABLE_ORDER, sql_ident, sql_literal
from sti_portal.publish.sqlite_extension import sqlite_extension_path


class Rows:
    """The published tables as DuckDB relations: staged tables (publish) or the sti.db file."""

    def __init__(self, con):
        self.con = con
        self._tables: list[str] = []
        self._columns: dict[str, list[tuple[str, str]]] = {}

    def tables(self) -> list[str]:
        return self._tables

    def relation(self, table: str) -> str:
        """The DuckDB name of a published table."""
        raise NotImplementedError

    def columns(self, table: str) -> list[tuple[str, str]]:
        if table not in self._columns:
            rel = self.con.sql(f"SELECT * FROM {self.relation(table)}")
            self._columns[table] = [(name, str(type_)) for name, type_ in zip(rel.columns, rel.types)]
        return self._columns[table]

    def whole(self, table: str) -> str:
        """Every row, with `_row`: the published order (the order the rows were inserted in)."""
        raise NotImplementedError

    def where(self, table: str, conditions: list[tuple[str, object]]) -> str:
        """The rows with column = value for every (column, value)."""
        raise NotImplementedError

    def fetch(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()

    @staticmethod
    def _condition(column: str, value) -> str:
        if value is None:
            return f"{sql_ident(column)} IS NULL"
        if isinstance(value, int):
            return f"{sql_ident(column)} = {int(value)}"
        return f"{sql_ident(column)} = {sql_literal(value)}"

    def ordered_tables(self, names: Iterable[str]) -> list[str]:
        names = set(names)
        return [t for t in TABLE_ORDER if t in names] + sorted(names - set(TABLE_ORDER))


class StagedRows(Rows):
    """Tables staged by sti_portal.publish.portal_db in the main schema of an in-memory DuckDB database."""

    def __init__(self, con, tables: Iterable[str], schema: str = "memory.main"):
        super().__init__(con)
        self.schema = schema
        self._tables = self.ordered_tables(tables)

    def relation(self, table: str) -> str:
        return f"{self.schema}.{sql_ident(table)}"

    def whole(self, table: str) -> str:
        return f"(SELECT *, rowid AS _row FROM {self.schema}.{sql_ident(table)})"

    def where(self, table: str, conditions: list[tuple[str, object]]) -> str:
        test = " AND ".join(self._condition(c, v) for c, v in conditions)
        return f"(SELECT * FROM {self.schema}.{sql_ident(table)} WHERE {test})"


class SqliteRows(Rows):
    """The tables of a sti.db file, read through the sqlite extension.

    Filters go to SQLite itself (`sqlite_query`, so the (indicator_id, year) and (region_code, ...) indexes
    are used: the attached tables' scans do not push filters down). sqlite_query returns text, so doubles
    travel as `printf('%!.20e')` (exact) and are cast back to the declared types.
    """

    ALIAS = "sti_src"

    def __init__(self, con, path: Path):
        super().__init__(con)
        con.execute(f"LOAD {sql_literal(sqlite_extension_path())}")
        con.execute(f"ATTACH {sql_literal(str(path))} AS {self.ALIAS} (TYPE sqlite, READ_ONLY)")
        master = "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        found = dict(
            self.fetch(f"SELECT name, sql FROM sqlite_query({sql_literal(self.ALIAS)}, {sql_literal(master)})")
        )
        virtual = [name for name, sql in found.items() if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
        hidden = {name for name in found if any(name == v or name.startswith(v + "_") for v in virtual)}
        self._tables = self.ordered_tables(set(found) - hidden)

    def relation(self, table: str) -> str:
        return f"{self.ALIAS}.{sql_ident(table)}"

    def _query(self, table: str, tail: str, row: bool = False) -> str:
        columns = self.columns(table)
        inner = ["rowid AS _row"] if row else []
        for name, type_ in columns:
            if type_ in ("DOUBLE", "FLOAT", "REAL"):
                inner.append(
                    f"CASE WHEN {sql_ident(name)} IS NULL THEN NULL ELSE printf('%!.20e', {sql_ident(name)}) END "
                    f"AS {sql_ident(name)}"
                )
            else:
                inner.append(sql_ident(name))
        sql = f"SELECT {', '.join(inner)} FROM {sql_ident(table)} {tail}"
        outer = ", ".join(
            f"CAST({sql_ident(n)} AS {t}) AS {sql_ident(n)}" for n, t in ([("_row", "BIGINT")] if row else []) + columns
        )
        return f"(SELECT {outer} FROM sqlite_query({sql_literal(self.ALIAS)}, {sql_literal(sql)}))"

    def whole(self, table: str) -> str:
        return self._query(table, "", row=True)

    def where(self, table: str, conditions: list[tuple[str, object]]) -> str:
        return self._query(table, "WHERE " + " AND ".join(self._condition(c, v) for c, v in conditions))


def stage_sqlite(con, rows: SqliteRows) -> StagedRows:
    """Copy a sti.db's tables into memory in their published order (what publish stages), for a full build."""
    writer_order = PARTITIONED
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _dl_precedence AS SELECT CAST(release_id AS VARCHAR) AS release_id, "
        f"CAST(precedence AS BIGINT) AS precedence FROM {rows.whole('releases')}"
    )
    for table in rows.tables():
        if table in writer_order:
            keys = ["indicator_id NULLS LAST", "year NULLS LAST"] + [k.strip() for k in writer_order[table].split(",")]
            order = ", ".join(
                k.replace("_precedence", "r.precedence") if k.startswith("_precedence") else f"t.{k}" for k in keys
            )
            con.execute(
                f"CREATE TABLE memory.main.{sql_ident(table)} AS SELECT t.* EXCLUDE (_row) FROM {rows.whole(table)} t "
                f"LEFT JOIN _dl_precedence r ON r.release_id = t.release ORDER BY {order}"
                if "_precedence" in writer_order[table]
                else f"CREATE TABLE memory.main.{sql_ident(table)} AS SELECT t.* EXCLUDE (_row) FROM {rows.whole(table)} t "
                f"ORDER BY {order}"
            )
        else:
            con.execute(
                f"CREATE TABLE memory.main.{sql_ident(table)} AS SELECT t.* EXCLUDE (_row) "
                f"FROM {rows.whole(table)} t ORDER BY t._row"
            )
    return StagedRows(con, rows.tables())


def sqlite_count(rows: SqliteRows, table: str) -> int:
    sql = f"SELECT count(*) FROM {sql_ident(table)}"
    return int(rows.fetch(f"SELECT * FROM sqlite_query({sql_literal(rows.ALIAS)}, {sql_literal(sql)})")[0][0])


def open_sti_db(portal_db: Path):
    """An in-memory DuckDB connection reading the sti.db file at `portal_db`, and its tables as Rows."""
    con = duckdb.connect()
    return con, SqliteRows(con, portal_db)


def staged_tables(con) -> list[str]:
    return [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'memory' AND table_schema = 'main'"
        ).fetchall()
    ]
