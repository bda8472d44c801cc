"""`sti check` and `sti load`: validate statisticians' files, then publish them atomically.

check  read each file (sources/upload.py), check it against the catalogue, the published data and the
       Great Expectations suites (sti_portal/checks.py), and report every problem. Writes nothing but
       the report.
load   under the write lock: the same checks, against a fresh build of every input (bundled snapshots +
       archived uploads + the new files). Rejected: each faulty file goes to quarantine/ with its report,
       the published state is untouched. Accepted: the files are archived with their sha256, a new
       generation (warehouse.duckdb, sti.db, downloads) is built and switched in with one rename
       (sti_portal/generations.py). A batch is all or nothing; loading a file already loaded is a no-op.
"""
from __future__ import annotations

import os
import shutil
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pandas as pd

from sti_portal.uploads.read import Problem, Release, UploadRead, read_upload
from sti_portal.publish import archive
from sti_portal.uploads import checks
from sti_portal.publish import generations
from sti_portal.publish import incremental
from sti_portal.core.settings import Paths
from sti_portal.transform.harmonise import HarmonisedBatch, HarmoniseError, harmonise

DERIVED_SOURCE_ID = "sti_portal_derived"


# ------------------------------------------------------------------------------------------ outcome

@dataclass
class FileOutcome:
    path: Path
    name: str = ""
    sha256: str = ""
    size: int = 0
    release: str = ""
    read: UploadRead | None = None
    status: str = ""             # check: valid | invalid; load: accepted | rejected | unchanged | held
    note: str = ""
    moved_to: Path | None = None
    reports: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.name = self.name or self.path.name

    @property
    def problems(self) -> list[Problem]:
        if self.read is None:
            return []
        order = {"error": 0, "warning": 1}
        return sorted(self.read.problems, key=lambda p: (order[p.severity], p.sheet, p.row or 0, p.column))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def summary(self) -> str:
        if self.read is None or not self.read.rows:
            return "no values read"
        rows = pd.DataFrame(self.read.rows)
        years = f"{rows['year'].min()}–{rows['year'].max()}" if rows["year"].nunique() > 1 else str(rows["year"].iloc[0])
        indicators = ", ".join(sorted(rows["indicator_id"].unique())[:5]) + (" ..." if rows["indicator_id"].nunique() > 5 else "")
        gaps = int((rows["obs_status"] == "m").sum())
        return (f"{len(rows)} value(s): {indicators}; {years}; {rows['region_code'].nunique()} region(s)"
                + (f"; {gaps} gap(s) flagged m" if gaps else ""))


@dataclass
class Outcome:
    mode: str                                   # "check" | "load"
    started_at: datetime
    files: list[FileOutcome]
    suites: list = field(default_factory=list)  # validate.SuiteOutcome on the combined data
    foreign: list[str] = field(default_factory=list)   # blocking failures no file caused
    base_description: str = ""
    generation: str | None = None
    publication: str = ""                        # how an accepted batch was published: incremental | rebuild
    elapsed: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    error: str = ""                              # the run itself failed (lock busy, internal error)
    report_txt: Path | None = None
    report_html: Path | None = None

    @property
    def rejected(self) -> bool:
        return bool(self.error or self.foreign or any(f.errors for f in self.files))

    @property
    def exit_code(self) -> int:
        if self.error:
            return 2
        return 1 if self.rejected else 0

    @property
    def verdict(self) -> str:
        if self.error:
            return "error"
        if self.mode == "check":
            return "invalid" if self.rejected else "valid"
        if self.rejected:
            return "rejected"
        return "accepted" if any(f.status == "accepted" for f in self.files) else "unchanged"


# ------------------------------------------------------------------------------------------ the published base

@dataclass
class Base:
    observations: pd.DataFrame            # harmonised rows of every release, derived rows excluded
    description: str
    batch: HarmonisedBatch | None = None  # when built from the inputs: aliases and dropped rows too


BASE_SQL = """
SELECT f.source_id, f.release, r.release_kind, CAST(r.vintage AS VARCHAR) AS vintage, f.indicator_id,
       CAST(f.year AS BIGINT) AS year, CAST(f.value AS DOUBLE) AS value, i.unit, f.obs_status, f.source_ref,
       f.note, f.region_code
FROM observation_fact f JOIN releases r ON r.release_id = f.release JOIN indicators i USING (indicator_id)
WHERE f.source_id <> ?
"""


def _incremental_base(paths: Paths, rebuild: bool = False) -> Path | None:
    """The published generation a batch can be appended to, or None when only a rebuild will do
    (nothing published yet, or a generation from before incremental loads, or `--rebuild`)."""
    if rebuild or os.environ.get("STI_LOAD_REBUILD") == "1":
        return None
    generation = generations.current_generation(paths)
    if generation is None or not incremental.appendable(generation):
        return None
    return generation


class BaseUnreadable(RuntimeError):
    pass


def base_from_inputs(paths: Paths, uploads: list[archive.ArchivedUpload]) -> Base:
    """Every input read afresh: bundled snapshots + archived uploads (what the new warehouse is built from)."""
    from sources.common import SourceFormatError
    from sti_portal.uploads.read import extract_archived
    from sti_portal.transform import steps

    try:
        frames = _snapshot_frames()
        uploaded, problems = extract_archived(uploads, lambda entry: archive.locate(paths, entry))
        if problems:
            raise BaseUnreadable("archived uploads no longer read cleanly:\n  " + "\n  ".join(problems))
        batch = steps.harmonise_sources(frames + [uploaded])
    except (SourceFormatError, HarmoniseError, FileNotFoundError) as exc:
        raise BaseUnreadable(f"the bundled sources or archived uploads cannot be read: {exc}") from exc
    return Base(batch.observations, f"a fresh build of the bundled sources and {len(uploads)} archived upload(s) "
                                    f"({len(batch.observations):,} values)", batch)


_SNAPSHOT_MEMO: dict[tuple, list[pd.DataFrame]] = {}


def _snapshot_frames() -> list[pd.DataFrame]:
    """Every source adapter's tidy frame. Memoised within the process on the snapshot files' names, sizes and
    modification times (a long-lived process, e.g. the test session, reads them once)."""
    from sti_portal.core import settings as config
    from sti_portal.transform import steps

    folder = config.snapshot_dir()
    fingerprint = (str(folder), tuple(sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                                             for p in folder.rglob("*") if p.is_file())))
    if fingerprint not in _SNAPSHOT_MEMO:
        _SNAPSHOT_MEMO.clear()
        _SNAPSHOT_MEMO[fingerprint] = [steps.extract_source(name, folder) for name in steps.SOURCE_ADAPTERS]
    return [frame.copy() for frame in _SNAPSHOT_MEMO[fingerprint]]


# ------------------------------------------------------------------------------------------ evaluation

@dataclass
class Evaluation:
    candidate: pd.DataFrame
    new_batch: HarmonisedBatch


def _prepare(file: FileOutcome, now: datetime) -> bool:
    """Checksum and release id; False (with the problem recorded) when there is no file to read."""
    if not file.path.is_file():
        file.read = UploadRead(file.name)
        file.read.error("no such file" if not file.path.exists() else "this is a folder, not a file",
                        found=str(file.path), expected="the path of a .csv, .xlsx or .xls file", rule="missing_file")
        return False
    file.sha256 = archive.sha256_of(file.path)
    file.size = file.path.stat().st_size
    file.release = archive.release_for(file.sha256, now)
    return True


def read_files(files: list[FileOutcome], now: datetime, outcome: Outcome) -> list[UploadRead]:
    """Read every file and run the checks that need only the files (keys, years)."""
    tick = time.perf_counter()
    for file in files:
        ref = f"archive/{archive.archived_name_for(file.release, file.name)}"
        file.read = read_upload(file.path, Release(file.release, now.date().isoformat(), ref), name=file.name)
    reads = [file.read for file in files]
    checks.key_checks(reads)
    checks.year_checks(reads, now.date())
    outcome.timings["read and check files"] = time.perf_counter() - tick
    return reads


def harmonise_reads(reads: list[UploadRead], outcome: Outcome, columns: list[str]) -> HarmonisedBatch | None:
    """The files' rows harmonised; None when nothing could be read."""
    tidy = [read.tidy() for read in reads if read.rows]
    if not tidy:   # nothing could be read: the suites would only re-validate the published data
        return None
    new_tidy = pd.concat(tidy, ignore_index=True)
    try:
        return harmonise(new_tidy)
    except HarmoniseError as exc:   # the reader resolved every label, so this is a bug, not the file's fault
        outcome.foreign.append(f"harmonisation of the uploaded rows failed: {exc}")
        empty = pd.DataFrame(columns=columns)
        return HarmonisedBatch(empty, new_tidy.iloc[0:0], pd.DataFrame())


def evaluate(files: list[FileOutcome], base: Base | None, now: datetime, outcome: Outcome,
             scope_of: Callable[[pd.DataFrame], Base] | None = None) -> Evaluation | None:
    """Read, check and validate the files against `base` (every published row), or against the rows
    `scope_of(new rows)` returns (the series the files touch: the incremental path)."""
    from sti_portal.transform import steps
    from sti_portal.quality.validate import GROUP_FRAMES, validate_all

    reads = read_files(files, now, outcome)
    columns = list(base.observations.columns) if base is not None else list(incremental.HARMONISED_COLUMNS)
    new_batch = harmonise_reads(reads, outcome, columns)
    if new_batch is None:
        return None
    tick = time.perf_counter()
    if scope_of is not None:
        base = scope_of(new_batch.observations)
        outcome.base_description = base.description
        outcome.timings["read the touched series"] = time.perf_counter() - tick
    tick = time.perf_counter()
    checks.published_checks(reads, checks.published_current(base.observations))
    outcome.timings["read and check files"] += time.perf_counter() - tick

    tick = time.perf_counter()
    combined = pd.concat([base.observations, new_batch.observations[base.observations.columns]], ignore_index=True)
    candidate = steps.candidate_observations(HarmonisedBatch(combined, pd.DataFrame(), pd.DataFrame()))
    # Coverage is judged per release and uploads claim no coverage (validate.coverage_frame), so on a
    # scope of touched series it could only see partial old releases: it is not run there.
    outcome.suites = validate_all(candidate, suites=[n for n in GROUP_FRAMES if n != "coverage"]
                                  if scope_of is not None else None,
                                  first_releases=[file.release for file in files])   # the files' rows shown first
    outcome.foreign += checks.gx_problems(outcome.suites, {file.release: file.read for file in files})
    outcome.timings["Great Expectations suites"] = time.perf_counter() - tick
    return Evaluation(candidate, new_batch)


def scope_reader(warehouse: Path, generation_name: str) -> Callable[[pd.DataFrame], Base]:
    def scope_of(new_rows: pd.DataFrame) -> Base:
        series = incremental.touched_series(new_rows)
        frame = incremental.read_series(warehouse, series)
        return Base(frame, f"the published data (generation {generation_name}): the {len(series):,} series the "
                           f"file(s) touch, {len(frame):,} values")
    return scope_of


# ------------------------------------------------------------------------------------------ check

def check_files(paths: Paths, files: list[Path], now: datetime | None = None) -> Outcome:
    """Validate without loading (no lock: reads the published generation, which never changes in place)."""
    started = time.perf_counter()
    now = now or datetime.now(timezone.utc)
    outcome = Outcome("check", now, [FileOutcome(Path(f)) for f in files])
    try:
        published = {u.sha256: u for u in archive.published_uploads(paths)}
        todo = []
        for file in outcome.files:
            if not _prepare(file, now):
                continue
            if file.sha256 in published:
                done = published[file.sha256]
                file.note = (f"already loaded as release {done.release} on {done.loaded_at[:10]} "
                             f"({done.archived_name}); loading it again changes nothing")
                file.read = UploadRead(file.name, format="already loaded")
                continue
            todo.append(file)
        if todo:
            published_generation = _incremental_base(paths)
            if published_generation is not None:
                evaluate(todo, None, now, outcome, scope_of=scope_reader(
                    published_generation / "warehouse.duckdb", published_generation.name))
            else:
                tick = time.perf_counter()
                base = base_from_inputs(paths, archive.published_uploads(paths))
                outcome.base_description = base.description
                outcome.timings["read every input"] = time.perf_counter() - tick
                evaluate(todo, base, now, outcome)
        for file in outcome.files:
            file.status = "invalid" if file.errors else "valid"
    except BaseUnreadable as exc:
        outcome.foreign.append(str(exc))
    except Exception as exc:   # the statistician gets a sentence and the log path, never a traceback
        outcome.error = _internal_error(paths, exc)
    outcome.elapsed = time.perf_counter() - started
    from sti_portal.uploads import report

    report.write_batch_reports(paths, outcome)
    return outcome


# ------------------------------------------------------------------------------------------ load

def load_files(paths: Paths, files: list[Path], *, now: datetime | None = None, lock_timeout: float | None = None,
               from_inbox: bool = False, rebuild: bool = False) -> Outcome:
    """Load a batch. By default it is appended to the published generation (sti_portal/incremental.py);
    `rebuild` (or STI_LOAD_REBUILD=1, or nothing published yet) builds from every input instead."""
    started = time.perf_counter()
    now = now or datetime.now(timezone.utc)
    outcome = Outcome("load", now, [FileOutcome(Path(f)) for f in files])
    try:
        names = ", ".join(f.name for f in outcome.files)
        with generations.writer_lock(paths, purpose=f"sti load {names}"[:200], timeout=lock_timeout):
            _load_locked(paths, outcome, now, from_inbox, rebuild)
    except generations.WriterBusy as exc:
        outcome.error = str(exc)
    except Exception as exc:
        outcome.error = _internal_error(paths, exc)
    outcome.elapsed = time.perf_counter() - started
    from sti_portal.uploads import report

    report.write_batch_reports(paths, outcome)
    report.write_file_reports(outcome)
    return outcome


def _load_locked(paths: Paths, outcome: Outcome, now: datetime, from_inbox: bool, rebuild: bool = False) -> None:
    published = archive.published_uploads(paths)
    base_id = generations.current_id(paths)
    by_sha = {entry.sha256: entry for entry in published}
    todo: list[FileOutcome] = []
    in_batch: dict[str, FileOutcome] = {}
    for file in outcome.files:
        if not _prepare(file, now):
            file.status = "rejected"
        elif file.sha256 in by_sha:
            done = by_sha[file.sha256]
            file.status = "unchanged"
            file.release = done.release
            file.note = (f"already loaded as release {done.release} on {done.loaded_at[:10]} "
                         f"(archive/{done.archived_name}); nothing to do")
        elif file.sha256 in in_batch:
            file.status = "unchanged"
            file.note = f"the same bytes as {in_batch[file.sha256].name} in this batch; loaded once"
        else:
            todo.append(file)
            in_batch[file.sha256] = file
    if todo:
        appended_to = _incremental_base(paths, rebuild)
        base = evaluation = None
        if appended_to is not None:
            evaluation = evaluate(todo, None, now, outcome, scope_of=scope_reader(
                appended_to / "warehouse.duckdb", appended_to.name))
        else:
            tick = time.perf_counter()
            try:
                base = base_from_inputs(paths, published)
            except BaseUnreadable as exc:
                outcome.foreign.append(str(exc))
            outcome.timings["read every input"] = time.perf_counter() - tick
            if base is not None:
                outcome.base_description = base.description
                evaluation = evaluate(todo, base, now, outcome)
        if appended_to is not None or base is not None:
            if evaluation is None and not outcome.rejected:
                outcome.foreign.append("no value could be read from the file(s)")
            generations.fault_point("after_check", paths)
        if outcome.rejected:
            for file in todo:
                if file.errors:
                    file.status = "rejected"
                    _quarantine(paths, file, now)
                else:
                    file.status = "held"
                    file.note = ("valid, but not loaded: the batch is loaded whole or not at all"
                                 if any(f.errors for f in outcome.files) else
                                 "valid, but not loaded: the published data fail validation (see above)")
            return
        if appended_to is not None:
            _publish_incremental(paths, outcome, todo, published, appended_to, evaluation, base_id, now)
        else:
            _publish(paths, outcome, todo, published, base, evaluation, base_id, now)
    for file in outcome.files:
        if file.status == "unchanged" and from_inbox and file.path.is_file():
            file.path.unlink()   # an identical copy is in the archive; the inbox only holds what is pending


def _publish(paths: Paths, outcome: Outcome, todo: list[FileOutcome], published: list[archive.ArchivedUpload],
             base: Base, evaluation: Evaluation, base_id: str | None, now: datetime) -> None:
    from sti_portal.transform import steps
    from sti_portal.publish.portal_db import publish
    from sti_portal.store.warehouse import write_warehouse

    entries = _stage_archive(paths, todo, now)
    tick = time.perf_counter()
    generation = generations.new_generation(paths, "load")
    candidate = evaluation.candidate
    aliases = (pd.concat([base.batch.aliases, evaluation.new_batch.aliases]).drop_duplicates()
               .sort_values(["region_code", "alias", "source_id"]).reset_index(drop=True))
    dropped = pd.concat([base.batch.dropped, evaluation.new_batch.dropped], ignore_index=True)
    dropped = dropped.rename(columns={"drop_reason": "reason"})
    digest = write_warehouse(
        generation / "warehouse.duckdb",
        observations=candidate,
        regions=steps.regions_table(candidate),
        aliases=aliases,
        dropped=dropped[["source_ref", "region_label", "region_label_en", "indicator_id", "reason"]],
        release_differences=steps.release_differences(candidate),
        validation_results=steps.validation_table([row for suite in outcome.suites for row in suite.table_rows()]),
        build_info=steps.build_info(candidate),
    )
    outcome.timings["write the warehouse"] = time.perf_counter() - tick
    generations.fault_point("warehouse_written", paths)
    tick = time.perf_counter()
    publish(generation / "warehouse.duckdb", generation / "sti.db")
    outcome.timings["write sti.db and downloads"] = time.perf_counter() - tick
    _switch_in(paths, outcome, todo, published, entries, generation, digest, base_id, "rebuild")


def _switch_in(paths: Paths, outcome: Outcome, todo: list[FileOutcome], published: list[archive.ArchivedUpload],
               entries: list[archive.ArchivedUpload], generation: Path, digest: str, base_id: str | None,
               mode: str) -> None:
    """Publish the written generation, then archive the files (they are the inputs it was built from)."""
    generations.commit(paths, generation, {
        "kind": "load",
        "mode": mode,
        "uploads": [entry.to_dict() for entry in [*published, *entries]],
        "loaded": [entry.release for entry in entries],
        "content_sha256": digest,
    }, expected_base=base_id)
    outcome.generation = generation.name
    outcome.publication = mode
    generations.fault_point("after_switch", paths)
    archive.settle(paths, entries)
    for file, entry in zip(todo, entries):
        file.status = "accepted"
        file.moved_to = paths.archive / entry.archived_name
        file.path.unlink(missing_ok=True)


def _stage_archive(paths: Paths, todo: list[FileOutcome], now: datetime) -> list[archive.ArchivedUpload]:
    entries = []
    for file in todo:
        entry = archive.ArchivedUpload(
            release=file.release, sha256=file.sha256, original_name=file.name,
            archived_name=archive.archived_name_for(file.release, file.name),
            loaded_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"), vintage=now.date().isoformat(), size=file.size,
            values=len(file.read.rows), format=file.read.format)
        archive.stage(paths, file.path, entry)
        entries.append(entry)
    return entries


def _publish_incremental(paths: Paths, outcome: Outcome, todo: list[FileOutcome],
                         published: list[archive.ArchivedUpload], appended_to: Path, evaluation: Evaluation,
                         base_id: str | None, now: datetime) -> None:
    """The batch appended to copies of the published files (sti_portal/incremental.py), then switched in."""
    from sti_portal.publish import downloads
    from sti_portal.transform import steps
    from sti_portal.store.warehouse import releases_frame

    entries = _stage_archive(paths, todo, now)
    timings = outcome.timings
    generation = generations.new_generation(paths, "load")
    releases = [file.release for file in todo]
    change = incremental.change_of(evaluation.candidate, releases)
    with incremental.timed(timings, "write the warehouse"):
        previous_results = incremental.previous_validation_results(appended_to / "warehouse.duckdb", skipped=("coverage",))
        results = pd.concat([steps.validation_table([row for suite in outcome.suites for row in suite.table_rows()]),
                             previous_results], ignore_index=True)
        digest = incremental.write_warehouse_copy(
            appended_to / "warehouse.duckdb", generation / "warehouse.duckdb", change,
            releases=releases_frame(change.new_rows), aliases=evaluation.new_batch.aliases,
            validation_results=results, built_at_utc=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    generations.fault_point("warehouse_written", paths)
    with incremental.timed(timings, "write sti.db"):
        incremental.write_portal_copy(appended_to / "sti.db", generation / "sti.db", generation / "warehouse.duckdb",
                                      change)
    with incremental.timed(timings, "write the downloads"):
        version_dir = downloads.prepare_incremental(
            generation / "sti.db", generation, previous=(appended_to / "downloads").resolve(),
            partitions=change.partitions, regions=change.regions)
        downloads.activate(generation, version_dir)
    _switch_in(paths, outcome, todo, published, entries, generation, digest, base_id, "incremental")


def _quarantine(paths: Paths, file: FileOutcome, now: datetime) -> None:
    if not file.path.is_file():
        return
    paths.quarantine.mkdir(parents=True, exist_ok=True)
    target = paths.quarantine / archive.archived_name_for(f"{now:%Y%m%dT%H%M%S}_{file.sha256[:8]}", file.name)
    shutil.move(str(file.path), target)
    file.moved_to = target


def _internal_error(paths: Paths, exc: Exception) -> str:
    log_dir = paths.reports / "errors"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}.log"
    log.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    return f"internal error ({type(exc).__name__}: {exc}); nothing was published; details for an engineer in {log}"
