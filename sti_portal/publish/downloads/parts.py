"""Writing a version's parts with DuckDB COPY: per part (incremental), or one file per table cut into
parts at record ends in a background thread (full build), each part hashed on the way.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sti_portal.publish.citation import DERIVED_SOURCE_TITLE, source_title
from sti_portal.publish.downloads import layout  # layout.CHUNK read at call time: one setting for all readers
from sti_portal.publish.downloads.compose import read_manifest
from sti_portal.publish.downloads.layout import (
    LAYOUT,
    PARTITIONED,
    REGION_LEVELS_WITH_FILES,
    REGION_ORDER,
    BuildStamp,
    State,
    TableInfo,
    metadata,
    part_key,
    region_key,
    retrieved_pattern,
    sort_key,
    sql_ident,
    sql_literal,
    table_key,
)
from sti_portal.publish.downloads.manifest import write_manifest
from sti_portal.publish.downloads.rows import Rows, SqliteRows, StagedRows, sqlite_count
from sti_portal.publish.formula_guard import FormulaCounter
from sti_portal.publish.generations import link_or_copy
from sti_portal.transform.derive import DERIVED_SOURCE_ID

# Significant digits every DOUBLE is written with (see _Writer._value): every digit a source prints (万元 461469.749575
# is 46.1469749575 亿元), none of the binary noise of a division (the 16th-17th digit: 229.56437999999997 is written
# 229.56438). portal/site/formatting.py without_float_noise() is the same rule.
SIGNIFICANT_DIGITS = 15


class _Writer:
    """Writes parts with DuckDB COPY: per part, or one file per table split into parts; hashes in a thread."""

    def __init__(self, rows: Rows, out_dir: Path, state: State):
        self.rows = rows
        self.con = rows.con
        self.out = out_dir
        self.state = state
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sti-downloads-split")
        self.jobs: list = []
        titles = {sid: source_title(state.sources, sid) for sid in state.sources}
        titles.setdefault(DERIVED_SOURCE_ID, DERIVED_SOURCE_TITLE)
        # The `source` column without a join, so a scan keeps its order: a CASE over the few sources.
        self.source_expr = (
            "CASE t.source_id "
            + " ".join(f"WHEN {sql_literal(k)} THEN {sql_literal(v)}" for k, v in titles.items())
            + " ELSE t.source_id END"
        )
        self._precedence = False

    @property
    def date(self) -> str:
        return self.state.stamp.date

    # -- SQL
    @staticmethod
    def _value(name: str, type_: str, for_csv: bool) -> str:
        column = f"t.{sql_ident(name)}"
        declared = type_.upper()
        if declared == "BOOLEAN":  # SQLite has no booleans: 0/1, as sti.db serves them
            return f"CAST({column} AS INTEGER)"
        if declared in ("DOUBLE", "FLOAT", "REAL") or declared.startswith("DECIMAL"):
            # 15 significant digits, read back as a double: no float noise (see SIGNIFICANT_DIGITS; as fast as
            # DuckDB's own shortest form); + 0.0: no -0.0 (SQLite cannot keep it either).
            return f"(CAST(printf('%.{SIGNIFICANT_DIGITS}g', CAST({column} AS DOUBLE)) AS DOUBLE) + 0.0)"
        if declared in ("DATE", "TIME") or declared.startswith("TIMESTAMP"):
            return f"CAST({column} AS VARCHAR)"
        if declared == "VARCHAR" and for_csv:
            return f"NULLIF({column}, '')"  # an empty string and a NULL are both an empty field
        return column

    def precedence_table(self) -> None:
        if not self._precedence:
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE _dl_precedence AS SELECT CAST(release_id AS VARCHAR) "
                f"AS release_id, CAST(precedence AS BIGINT) AS precedence FROM {self.rows.whole('releases')}"
            )
            self._precedence = True

    def select(self, info: TableInfo, relation: str, order: str, for_csv: bool) -> str:
        """The rows as written: `relation` (alias t) in `order` ('' = as the relation yields them)."""
        items = [f"{self._value(n, ty, for_csv)} AS {sql_ident(n)}" for n, ty in info.columns]
        if for_csv:
            source = self.source_expr if info.has_source_id else sql_literal(info.table_source)
            items.append(f"NULLIF({source}, '') AS source")
            items.append(f"{sql_literal(self.date)} AS retrieved")
        join = ""
        if "_precedence" in order:
            self.precedence_table()
            join = " LEFT JOIN _dl_precedence r ON r.release_id = t.release"
        keys = [k.strip() for k in order.split(",") if k.strip()]
        order_sql = ", ".join(
            k.replace("_precedence", "r.precedence") if k.startswith("_precedence") else f"t.{k}" for k in keys
        )
        return f"SELECT {', '.join(items)} FROM {relation} t{join}" + (f" ORDER BY {order_sql}" if order_sql else "")

    @staticmethod
    def _quoted(info: TableInfo) -> str:
        """Text columns are always quoted in CSV parts: the Excel CSV's formula guard relies on it
        (sti_portal/publish/formula_guard.py)."""
        text = [sql_ident(n) for n, ty in info.columns if ty.upper().startswith(("VARCHAR", "TEXT"))]
        return ", ".join([*text, "source", "retrieved"])

    def _copy(self, select: str, path: Path, kind: str, quoted: str = "retrieved") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        options = (
            f"FORMAT csv, HEADER false, NEW_LINE '\r\n', FORCE_QUOTE ({quoted})" if kind == "csv" else "FORMAT json"
        )
        self.con.execute(f"COPY ({select}) TO {sql_literal(str(path))} ({options})")

    def _new_part(self, key: str, rows: int, sources: list[str]) -> None:
        self.state.parts[key] = {"rows": rows, "sources": sources, "retrieved": self.date, "csv": {}, "json": {}}

    # -- writing
    def write_part(self, key: str, info: TableInfo, relation: str, order: str, rows: int, sources: list[str]) -> None:
        """One part: its rows (`relation`, in `order`) as CSV body and NDJSON."""
        self._new_part(key, rows, sources)
        for kind, suffix in (("csv", ".csv"), ("json", ".ndjson")):
            path = self.out / (key + suffix)
            self._copy(self.select(info, relation, order, kind == "csv"), path, kind, self._quoted(info))
            self.jobs.append(self.pool.submit(_hash_job, path, key, kind))

    def write_segmented(
        self, info: TableInfo, relation: str, order: str, segments: list[tuple[str, int, list]], name: str
    ) -> None:
        """Many parts in one COPY per format: `relation` in `order` yields the segments' rows one segment
        after the other; the file is then cut into the part files at record ends (in the background)."""
        if not segments:
            return
        for key, rows, sources in segments:
            self._new_part(key, rows, sources)
        cuts = [(key, rows) for key, rows, _ in segments]
        for kind, suffix, end in (("csv", ".csv", retrieved_pattern(self.date)), ("json", ".ndjson", b"\n")):
            scratch = self.out / "scratch" / f"{name}{suffix}"
            self._copy(self.select(info, relation, order, kind == "csv"), scratch, kind, self._quoted(info))
            self.jobs.append(self.pool.submit(_split_job, scratch, self.out, cuts, suffix, end, kind))

    def link_part(self, key: str, previous_dir: Path, previous: dict) -> None:
        for suffix in (".csv", ".ndjson"):
            target = self.out / (key + suffix)
            target.parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(previous_dir / (key + suffix), target)
        self.state.parts[key] = previous

    def finish(self) -> None:
        for job in self.jobs:
            for key, kind, size, digest, formulas in job.result():
                self.state.parts[key][kind] = {"bytes": size, "sha256": digest}
                if kind == "csv":  # text cells the Excel CSV neutralises (sti_portal/publish/formula_guard.py)
                    self.state.parts[key][kind]["formulas"] = formulas
        self.jobs = []
        shutil.rmtree(self.out / "scratch", ignore_errors=True)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _formula_counter(kind: str) -> FormulaCounter | _NoCount:
    """Formula-like cells matter only in the CSV (the Excel download neutralises them), not in NDJSON."""
    return FormulaCounter() if kind == "csv" else _NoCount()


class _NoCount:
    count = 0

    def update(self, chunk: bytes) -> None:
        pass


def _hash_job(path: Path, key: str, kind: str) -> list[tuple]:
    digest, size, formulas = hashlib.sha256(), 0, _formula_counter(kind)
    with open(path, "rb") as handle:
        while chunk := handle.read(layout.CHUNK):
            digest.update(chunk)
            size += len(chunk)
            formulas.update(chunk)
    return [(key, kind, size, digest.hexdigest(), formulas.count)]


def _split_job(
    source: Path, out_dir: Path, cuts: list[tuple[str, int]], suffix: str, end: bytes, kind: str
) -> list[tuple]:
    """Cut `source` into one file per (key, records), in order; every record ends with `end` (and no
    record contains it: see the module doc). Removes `source`."""
    results = []
    width = len(end)
    buffer = b""
    with open(source, "rb") as handle:
        for key, records in cuts:
            path = out_dir / (key + suffix)
            path.parent.mkdir(parents=True, exist_ok=True)
            digest, size, formulas = hashlib.sha256(), 0, _formula_counter(kind)
            with open(path, "wb") as target:
                remaining = records
                while remaining > 0:
                    found = buffer.count(end)
                    if found >= remaining:
                        position = 0
                        for _ in range(remaining):
                            position = buffer.index(end, position) + width
                        piece, buffer, remaining = buffer[:position], buffer[position:], 0
                    else:
                        cut = buffer.rindex(end) + width if found else 0
                        piece, buffer, remaining = buffer[:cut], buffer[cut:], remaining - found
                        chunk = handle.read(layout.CHUNK)
                        if not chunk:
                            raise ValueError(f"{source.name}: {key} lacks {remaining} of its {records} records")
                        buffer += chunk
                    if piece:
                        target.write(piece)
                        digest.update(piece)
                        size += len(piece)
                        formulas.update(piece)
            results.append((key, kind, size, digest.hexdigest(), formulas.count))
        if buffer or handle.read(1):
            raise ValueError(f"{source.name}: more records than its parts hold")
    source.unlink()
    return results


def _read_state(rows: Rows, meta: dict) -> State:
    info = dict(rows.fetch(f"SELECT key, value FROM {rows.whole('build_info')}"))
    built = info.get("built_at_utc") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stamp = BuildStamp(built, info.get("content_sha256", "") or "")
    sources = {
        row[0]: {
            "source_id": row[0],
            "title_zh": row[1],
            "title_en": row[2],
            "publisher": row[3],
            "url": row[4],
            "license": row[5],
            "caveats": row[6],
        }
        for row in rows.fetch(
            "SELECT source_id, title_zh, title_en, publisher, url, license, caveats "
            f"FROM {rows.whole('sources')} t ORDER BY t._row"
        )
    }
    tables_meta = meta["databases"]["sti"]["tables"]
    tables = []
    for name in rows.tables():
        table_meta = tables_meta.get(name, {})
        columns = rows.columns(name)
        tables.append(
            TableInfo(
                name=name,
                columns=columns,
                title=table_meta.get("title", name),
                description=table_meta.get("description", ""),
                table_source=table_meta.get("source") or meta.get("source", ""),
                license=table_meta.get("license", meta.get("license", "")),
                column_descriptions=dict(table_meta.get("columns") or {}),
                has_source_id=any(c == "source_id" for c, _ in columns),
            )
        )
    indicators = rows.fetch(
        "SELECT indicator_id, name_zh, name_en, unit, unit_en, stock_or_flow, caveats "
        f"FROM {rows.whole('indicators')} ORDER BY indicator_id"
    )
    return State(stamp=stamp, sources=sources, tables=tables, indicators=indicators, regions=[])


def _region_candidates(rows: Rows) -> list[tuple]:
    levels = ", ".join(sql_literal(level) for level in REGION_LEVELS_WITH_FILES)
    return rows.fetch(
        f"SELECT region_code, name_zh, name_en FROM {rows.whole('regions')} "
        f"WHERE level IN ({levels}) ORDER BY region_code"
    )


def _titles(state: State, info: TableInfo, counts: dict) -> list[str]:
    if not info.has_source_id:
        return [info.table_source]
    return sorted({source_title(state.sources, source_id) for source_id in counts})


def _counts(rows: Rows, relation: str, keys: list[str], has_source: bool) -> dict:
    """{key values: {source_id: rows}} over `relation`."""
    source = "source_id" if has_source else "NULL"
    found: dict = {}
    # HAVING: with constant keys only, GROUP BY gives one row (count 0) even for no rows at all.
    for *key, source_id, n in rows.fetch(
        f"SELECT {', '.join(keys)}, {source} AS source_id, count(*) FROM {relation} GROUP BY ALL HAVING count(*) > 0"
    ):
        found.setdefault(tuple(key), {})[source_id] = n
    return found


def _partition(key: tuple) -> tuple:
    indicator_id, year = key
    return indicator_id, None if year is None else int(year)


def _write_small_table(writer: _Writer, state: State, info: TableInfo) -> None:
    counts = _counts(writer.rows, writer.rows.whole(info.name), ["1"], info.has_source_id).get((1,), {})
    writer.write_part(
        table_key(info.name),
        info,
        writer.rows.whole(info.name),
        "_row",
        sum(counts.values()),
        _titles(state, info, counts),
    )


def build_full(rows: StagedRows, out_dir: Path) -> dict:
    """Write every part and the manifest into `out_dir` (must not exist) from staged tables: the three
    big ones in their published order (which starts with indicator_id, year), so that one COPY per
    table and format writes all its partitions, one after the other."""
    out_dir.mkdir(parents=True)
    meta = metadata()
    state = _read_state(rows, meta)
    writer = _Writer(rows, out_dir, state)
    try:
        by_name = {info.name: info for info in state.tables}
        for info in state.tables:
            if info.name not in PARTITIONED:
                _write_small_table(writer, state, info)
                continue
            table = f"{rows.schema}.{sql_ident(info.name)}"
            counts = _counts(rows, table, ["indicator_id", "year"], info.has_source_id)
            partitions = sorted((_partition(k) for k in counts), key=lambda p: sort_key(*p))
            segments = []
            entries = []
            for indicator_id, year in partitions:
                by_source = counts[(indicator_id, year)]
                key = part_key(info.name, indicator_id, year)
                segments.append((key, sum(by_source.values()), _titles(state, info, by_source)))
                entries.append([indicator_id, year, key])
            state.partitions[info.name] = entries
            writer.write_segmented(info, table, "", segments, info.name)  # "": the staged order
        observations = by_name.get("observations")
        if observations is not None:
            codes = [row for row in _region_candidates(rows)]
            wanted = ", ".join(sql_literal(code) for code, _, _ in codes) or "NULL"
            relation = f"(SELECT * FROM {rows.schema}.observations WHERE region_code IN ({wanted}))"
            counts = _counts(rows, relation, ["region_code"], True)
            state.regions = [row for row in codes if (row[0],) in counts]
            segments = [
                (region_key(code), sum(counts[(code,)].values()), _titles(state, observations, counts[(code,)]))
                for code, _, _ in state.regions
            ]
            writer.write_segmented(observations, relation, REGION_ORDER, segments, "regions")
        writer.finish()
    finally:
        writer.close()
    return write_manifest(out_dir, state, meta)


def build_incremental(
    rows: SqliteRows, out_dir: Path, previous_dir: Path, partitions: Iterable[tuple[str, int]], regions: Iterable[str]
) -> dict:
    """See prepare_incremental."""
    previous = read_manifest(previous_dir)
    if not previous or previous.get("layout") != LAYOUT:
        raise ValueError(f"{previous_dir} holds no parts-based downloads: build them in full")
    touched = {(p[0], None if p[1] is None else int(p[1])) for p in partitions}
    out_dir.mkdir(parents=True)
    meta = metadata()
    state = _read_state(rows, meta)
    writer = _Writer(rows, out_dir, state)
    try:
        for info in state.tables:
            if info.name in PARTITIONED:
                _relink_partitions(writer, state, info, previous_dir, previous, touched)
            else:
                _write_small_table(writer, state, info)
        observations = next((info for info in state.tables if info.name == "observations"), None)
        if observations is not None:
            state.regions = _relink_regions(writer, state, observations, previous_dir, previous, set(regions))
        writer.finish()
    finally:
        writer.close()
    return write_manifest(out_dir, state, meta)


def _relink_partitions(
    writer: _Writer, state: State, info: TableInfo, previous_dir: Path, previous: dict, touched: set[tuple]
) -> None:
    """A big table's parts: the untouched ones hard-linked from `previous`, the touched ones written anew."""
    rows = writer.rows
    entries = []
    for indicator_id, year, key in previous.get("partitions", {}).get(info.name, []):
        if (indicator_id, year) not in touched:
            writer.link_part(key, previous_dir, previous["parts"][key])
            entries.append([indicator_id, year, key])
    for indicator_id, year in sorted(touched, key=lambda p: sort_key(*p)):
        relation = rows.where(info.name, [("indicator_id", indicator_id), ("year", year)])
        by_source = _counts(rows, relation, ["1"], info.has_source_id).get((1,), {})
        if by_source:
            key = part_key(info.name, indicator_id, year)
            writer.write_part(
                key, info, relation, PARTITIONED[info.name], sum(by_source.values()), _titles(state, info, by_source)
            )
            entries.append([indicator_id, year, key])
    entries.sort(key=lambda e: sort_key(e[0], e[1]))
    state.partitions[info.name] = entries
    # The contract (only the declared partitions changed) checked where it is cheap: row counts.
    total = sqlite_count(rows, info.name)
    listed = sum(state.parts[e[2]]["rows"] for e in entries)
    if total != listed:
        raise ValueError(
            f"{info.name}: {total} rows in the database but {listed} in the parts: partitions "
            "changed that were not declared touched; build the downloads in full"
        )


def _relink_regions(
    writer: _Writer,
    state: State,
    observations: TableInfo,
    previous_dir: Path,
    previous: dict,
    touched_regions: set[str],
) -> list[tuple]:
    """Region files: hard-linked when untouched and already there, else written; returns the regions with files."""
    rows = writer.rows
    had = {entry["region_code"] for entry in previous.get("regions", [])}
    kept = []
    for row in _region_candidates(rows):
        code, key = row[0], region_key(row[0])
        if code in had and code not in touched_regions:
            writer.link_part(key, previous_dir, previous["parts"][key])
            kept.append(row)
            continue
        relation = rows.where("observations", [("region_code", code)])
        by_source = _counts(rows, relation, ["1"], True).get((1,), {})
        if by_source:
            writer.write_part(
                key,
                observations,
                relation,
                REGION_ORDER,
                sum(by_source.values()),
                _titles(state, observations, by_source),
            )
            kept.append(row)
    return kept
