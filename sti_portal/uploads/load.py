"""`sti check` and `sti load`: validate statisticians' files, then publish them atomically.

check  read each file (sti_portal/uploads/read.py, within the limits of limits.py), check it against the
       catalogue, the published data and the Great Expectations suites (checks.py), and report every
       problem. Writes nothing but the report.
load   the same checks, without the write lock, against the published generation (the series the files
       touch; or a fresh build of every input with --rebuild). Rejected: each faulty file goes to
       quarantine/ with its report, the published state is untouched. Accepted: after a free-space
       check (resources.py), the lock is taken, the files are checked again if another writer published
       meanwhile, archived with their sha256, and a new generation (warehouse.duckdb, sti.db, downloads)
       is written and switched in with one rename (sti_portal/publish/generations.py). A batch is all or
       nothing; loading a file already loaded is a no-op. A full disk or no memory is exit 2, "could not
       run", with nothing half-written.
"""

from __future__ import annotations

import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from sti_portal.core.settings import Paths
from sti_portal.publish import archive, assemble, downloads, generations, incremental
from sti_portal.quality.validate import GROUP_FRAMES, validate_all
from sti_portal.store.warehouse import releases_frame
from sti_portal.transform import steps
from sti_portal.transform.harmonise import HarmonisedBatch, HarmoniseError, harmonise
from sti_portal.uploads import checks, report, resources
from sti_portal.uploads.base import Base, BaseUnreadable, base_from_inputs, incremental_base
from sti_portal.uploads.outcome import FileOutcome, Outcome
from sti_portal.uploads.read import Release, UploadRead, read_upload

# ------------------------------------------------------------------------------------------ evaluation


@dataclass
class Evaluation:
    candidate: pd.DataFrame
    new_batch: HarmonisedBatch


def _prepare(file: FileOutcome, now: datetime) -> bool:
    """Checksum and release id; False (with the problem recorded) when there is no file to read."""
    if file.path.is_symlink():  # never hash, read or archive what a link points to
        file.read = UploadRead(file.name)
        file.read.error(
            "the file is a symbolic link, not a file; links are not followed",
            found=file.name,
            expected="the file itself (copy it, do not link it)",
            rule="symlink",
        )
        return False
    if not file.path.is_file():
        file.read = UploadRead(file.name)
        file.read.error(
            "no such file" if not file.path.exists() else "this is a folder, not a file",
            found=str(file.path),
            expected="the path of a .csv, .xlsx or .xls file",
            rule="missing_file",
        )
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
    if not tidy:  # nothing could be read: the suites would only re-validate the published data
        return None
    new_tidy = pd.concat(tidy, ignore_index=True)
    try:
        return harmonise(new_tidy)
    except HarmoniseError as exc:  # the reader resolved every label, so this is a bug, not the file's fault
        outcome.foreign.append(f"harmonisation of the uploaded rows failed: {exc}")
        empty = pd.DataFrame(columns=columns)
        return HarmonisedBatch(empty, new_tidy.iloc[0:0], pd.DataFrame())


def evaluate(
    files: list[FileOutcome],
    base: Base | None,
    now: datetime,
    outcome: Outcome,
    scope_of: Callable[[pd.DataFrame], Base] | None = None,
) -> Evaluation | None:
    """Read, check and validate the files against `base` (every published row), or against the rows
    `scope_of(new rows)` returns (the series the files touch: the incremental path)."""

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
    outcome.suites = validate_all(
        candidate,
        suites=[n for n in GROUP_FRAMES if n != "coverage"] if scope_of is not None else None,
        first_releases=[file.release for file in files],
    )  # the files' rows shown first
    outcome.foreign += checks.gx_problems(outcome.suites, {file.release: file.read for file in files})
    outcome.timings["Great Expectations suites"] = time.perf_counter() - tick
    return Evaluation(candidate, new_batch)


def scope_reader(warehouse: Path, generation_name: str) -> Callable[[pd.DataFrame], Base]:
    def scope_of(new_rows: pd.DataFrame) -> Base:
        series = incremental.touched_series(new_rows)
        frame = incremental.read_series(warehouse, series)
        return Base(
            frame,
            f"the published data (generation {generation_name}): the {len(series):,} series the "
            f"file(s) touch, {len(frame):,} values",
        )

    return scope_of


# ------------------------------------------------------------------------------------------ check


def check_files(paths: Paths, files: list[Path], now: datetime | None = None) -> Outcome:
    """Validate without loading (no lock: reads the published generation, which never changes in place)."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    outcome = Outcome("check", now, [FileOutcome(Path(f)) for f in files])
    try:
        published = {u.sha256: u for u in generations.published_uploads(paths)}
        todo = []
        for file in outcome.files:
            if not _prepare(file, now):
                continue
            if file.sha256 in published:
                done = published[file.sha256]
                file.note = (
                    f"already loaded as release {done.release} on {done.loaded_at[:10]} "
                    f"({done.archived_name}); loading it again changes nothing"
                )
                file.read = UploadRead(file.name, format="already loaded")
                continue
            todo.append(file)
        if todo:
            published_generation = incremental_base(paths)
            if published_generation is not None:
                evaluate(
                    todo,
                    None,
                    now,
                    outcome,
                    scope_of=scope_reader(published_generation / "warehouse.duckdb", published_generation.name),
                )
            else:
                tick = time.perf_counter()
                base = base_from_inputs(paths, generations.published_uploads(paths))
                outcome.base_description = base.description
                outcome.timings["read every input"] = time.perf_counter() - tick
                evaluate(todo, base, now, outcome)
        for file in outcome.files:
            file.status = "invalid" if file.errors else "valid"
    except BaseUnreadable as exc:
        outcome.foreign.append(str(exc))
    except Exception as exc:  # the statistician gets a sentence and the log path, never a traceback
        outcome.error = resources.fault_sentence(exc, paths) or _internal_error(paths, exc)
    outcome.elapsed = time.perf_counter() - started
    _write_reports(paths, outcome)
    return outcome


# ------------------------------------------------------------------------------------------ load


def load_files(
    paths: Paths,
    files: list[Path],
    *,
    now: datetime | None = None,
    lock_timeout: float | None = None,
    from_inbox: bool = False,
    rebuild: bool = False,
) -> Outcome:
    """Load a batch. By default it is appended to the published generation (sti_portal/publish/incremental.py);
    `rebuild` (or STI_LOAD_REBUILD=1, or nothing published yet) builds from every input instead.

    The files are read and checked without the write lock (a published generation never changes in place);
    the lock is taken only to publish, so a slow or hostile file never holds up another writer."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    outcome = Outcome("load", now, [FileOutcome(Path(f)) for f in files])
    try:
        _load(paths, outcome, now, from_inbox, rebuild, lock_timeout)
    except generations.WriterBusy as exc:
        outcome.error = str(exc)
    except Exception as exc:  # a full disk or no memory is a sentence (exit 2); anything else is logged for an engineer
        outcome.error = resources.fault_sentence(exc, paths) or _internal_error(paths, exc)
    outcome.elapsed = time.perf_counter() - started
    _write_reports(paths, outcome)
    return outcome


def _write_reports(paths: Paths, outcome: Outcome) -> None:
    """The reports, or a sentence saying why they could not be written (the verdict is printed all the same)."""
    try:
        report.write_batch_reports(paths, outcome)
        if outcome.mode == "load":
            report.write_file_reports(outcome)
    except OSError as exc:
        outcome.report_txt = outcome.report_html = None  # not there: no path to show
        sentence = resources.fault_sentence(exc, paths) or f"{exc.strerror or exc}"
        outcome.notes.append(f"the report could not be written: {sentence}")
        if not outcome.error and outcome.verdict not in ("accepted", "unchanged"):
            outcome.error = f"the report could not be written: {sentence}"


@dataclass
class _Plan:
    """A batch read and checked against one published generation (`base_id`), ready to publish."""

    published: list[archive.ArchivedUpload]
    base_id: str | None
    todo: list[FileOutcome] = field(default_factory=list)
    appended_to: Path | None = None
    base: Base | None = None
    evaluation: Evaluation | None = None


def _load(
    paths: Paths, outcome: Outcome, now: datetime, from_inbox: bool, rebuild: bool, lock_timeout: float | None
) -> None:
    if _killed_writer_left_work(paths):  # e.g. a load killed after its switch: finish its archiving first
        try:
            with generations.writer_lock(paths, purpose="sti load: recover", timeout=0):
                pass  # writer_lock runs generations.recover on entry
        except generations.WriterBusy:
            pass  # a writer is at work: what looked unfinished is its own, and it recovers on its next entry
    plan = _plan(paths, outcome, now, rebuild)
    if plan.todo and not outcome.rejected:
        generations.checkpoint("after_check", paths)
        resources.preflight(paths)
        names = ", ".join(f.name for f in outcome.files)
        with generations.writer_lock(paths, purpose=f"sti load {names}"[:200], timeout=lock_timeout):
            if generations.current_id(paths) != plan.base_id:
                # Another writer published while these files were checked: check them again against that.
                _forget_checks(outcome)
                plan = _plan(paths, outcome, now, rebuild)
            if plan.todo and not outcome.rejected:
                _publish_plan(paths, outcome, plan, now)
    if outcome.rejected:
        _set_aside(paths, outcome, plan.todo, now)
    for file in outcome.files:
        if file.status == "unchanged" and from_inbox and file.path.is_file():
            file.path.unlink()  # an identical copy is in the archive; the inbox only holds what is pending


def _killed_writer_left_work(paths: Paths) -> bool:
    staging = archive.staging_dir(paths)
    unfinished = paths.generations.is_dir() and any(
        g.is_dir() and not (g / generations.MANIFEST).exists() for g in paths.generations.iterdir()
    )
    return unfinished or (staging.is_dir() and any(staging.iterdir()))


def _forget_checks(outcome: Outcome) -> None:
    outcome.foreign, outcome.suites, outcome.base_description = [], [], ""
    for file in outcome.files:
        file.read, file.status, file.note = None, "", ""


def _plan(paths: Paths, outcome: Outcome, now: datetime, rebuild: bool) -> _Plan:
    plan = _Plan(generations.published_uploads(paths), generations.current_id(paths))
    by_sha = {entry.sha256: entry for entry in plan.published}
    in_batch: dict[str, FileOutcome] = {}
    for file in outcome.files:
        if not _prepare(file, now):
            file.status = "rejected"
        elif file.sha256 in by_sha:
            done = by_sha[file.sha256]
            file.status = "unchanged"
            file.release = done.release
            file.note = (
                f"already loaded as release {done.release} on {done.loaded_at[:10]} "
                f"(archive/{done.archived_name}); nothing to do"
            )
        elif file.sha256 in in_batch:
            file.status = "unchanged"
            file.note = f"the same bytes as {in_batch[file.sha256].name} in this batch; loaded once"
        else:
            plan.todo.append(file)
            in_batch[file.sha256] = file
    if not plan.todo:
        return plan
    plan.appended_to = incremental_base(paths, rebuild)
    if plan.appended_to is not None:
        plan.evaluation = evaluate(
            plan.todo,
            None,
            now,
            outcome,
            scope_of=scope_reader(plan.appended_to / "warehouse.duckdb", plan.appended_to.name),
        )
    else:
        tick = time.perf_counter()
        try:
            plan.base = base_from_inputs(paths, plan.published)
        except BaseUnreadable as exc:
            outcome.foreign.append(str(exc))
        outcome.timings["read every input"] = time.perf_counter() - tick
        if plan.base is not None:
            outcome.base_description = plan.base.description
            plan.evaluation = evaluate(plan.todo, plan.base, now, outcome)
    if (plan.appended_to is not None or plan.base is not None) and plan.evaluation is None and not outcome.rejected:
        outcome.foreign.append("no value could be read from the file(s)")
    return plan


def _publish_plan(paths: Paths, outcome: Outcome, plan: _Plan, now: datetime) -> None:
    try:
        if plan.appended_to is not None:
            _publish_incremental(
                paths, outcome, plan.todo, plan.published, plan.appended_to, plan.evaluation, plan.base_id, now
            )
        else:
            _publish(paths, outcome, plan.todo, plan.published, plan.base, plan.evaluation, plan.base_id, now)
    except Exception as exc:
        if resources.fault_sentence(exc, paths) is not None and outcome.generation is None:
            try:  # nothing half-written: the unfinished generation and the staged copies go now
                generations.recover(paths)
            except OSError:
                pass  # the next writer's recover() removes them
        raise


def _set_aside(paths: Paths, outcome: Outcome, todo: list[FileOutcome], now: datetime) -> None:
    """A rejected batch: faulty files to quarantine/ with their report, valid ones stay where they are."""
    if outcome.error:
        return
    for file in todo:
        if file.errors:
            file.status = "rejected"
            _quarantine(paths, file, now)
        else:
            file.status = "held"
            file.note = (
                "valid, but not loaded: the batch is loaded whole or not at all"
                if any(f.errors for f in outcome.files)
                else "valid, but not loaded: the published data fail validation (see above)"
            )


def _publish(
    paths: Paths,
    outcome: Outcome,
    todo: list[FileOutcome],
    published: list[archive.ArchivedUpload],
    base: Base,
    evaluation: Evaluation,
    base_id: str | None,
    now: datetime,
) -> None:
    """Rebuild: write a whole new generation from every input (the same assembly as `sti build`)."""
    entries = _stage_archive(paths, todo, now)
    tick = time.perf_counter()
    generation = generations.new_generation(paths, "load")
    aliases = (
        pd.concat([base.batch.aliases, evaluation.new_batch.aliases])
        .drop_duplicates()
        .sort_values(["region_code", "alias", "source_id"])
        .reset_index(drop=True)
    )
    inputs = assemble.GenerationInputs(
        candidate=evaluation.candidate,
        aliases=aliases,
        dropped=pd.concat([base.batch.dropped, evaluation.new_batch.dropped], ignore_index=True),
        validation_rows=[row for suite in outcome.suites for row in suite.table_rows()],
    )
    digest = assemble.write_warehouse_into(generation, inputs)
    outcome.timings["write the warehouse"] = time.perf_counter() - tick
    generations.checkpoint("warehouse_written", paths)
    tick = time.perf_counter()
    assemble.write_portal_into(generation)
    outcome.timings["write sti.db and downloads"] = time.perf_counter() - tick
    _switch_in(paths, outcome, todo, published, entries, generation, digest, base_id, "rebuild")


def _switch_in(
    paths: Paths,
    outcome: Outcome,
    todo: list[FileOutcome],
    published: list[archive.ArchivedUpload],
    entries: list[archive.ArchivedUpload],
    generation: Path,
    digest: str,
    base_id: str | None,
    mode: str,
) -> None:
    """Publish the written generation, then archive the files (they are the inputs it was built from)."""
    generations.commit(
        paths,
        generation,
        {
            "kind": "load",
            "mode": mode,
            "uploads": [entry.to_dict() for entry in [*published, *entries]],
            "loaded": [entry.release for entry in entries],
            "content_sha256": digest,
        },
        expected_base=base_id,
    )
    outcome.generation = generation.name
    outcome.publication = mode
    generations.checkpoint("after_switch", paths)
    archive.settle(paths, entries)
    for file, entry in zip(todo, entries):
        file.status = "accepted"
        file.moved_to = paths.archive / entry.archived_name
        file.path.unlink(missing_ok=True)


def _stage_archive(paths: Paths, todo: list[FileOutcome], now: datetime) -> list[archive.ArchivedUpload]:
    entries = []
    for file in todo:
        entry = archive.ArchivedUpload(
            release=file.release,
            sha256=file.sha256,
            original_name=file.name,
            archived_name=archive.archived_name_for(file.release, file.name),
            loaded_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            vintage=now.date().isoformat(),
            size=file.size,
            values=len(file.read.rows),
            format=file.read.format,
        )
        archive.stage(paths, file.path, entry)
        entries.append(entry)
    return entries


def _publish_incremental(
    paths: Paths,
    outcome: Outcome,
    todo: list[FileOutcome],
    published: list[archive.ArchivedUpload],
    appended_to: Path,
    evaluation: Evaluation,
    base_id: str | None,
    now: datetime,
) -> None:
    """The batch appended to copies of the published files (sti_portal/publish/incremental.py), then switched in."""

    entries = _stage_archive(paths, todo, now)
    timings = outcome.timings
    generation = generations.new_generation(paths, "load")
    releases = [file.release for file in todo]
    change = incremental.change_of(evaluation.candidate, releases)
    with incremental.timed(timings, "write the warehouse"):
        previous_results = incremental.previous_validation_results(
            appended_to / "warehouse.duckdb", skipped=("coverage",)
        )
        results = pd.concat(
            [steps.validation_table([row for suite in outcome.suites for row in suite.table_rows()]), previous_results],
            ignore_index=True,
        )
        digest = incremental.write_warehouse_copy(
            appended_to / "warehouse.duckdb",
            generation / "warehouse.duckdb",
            change,
            releases=releases_frame(change.new_rows),
            aliases=evaluation.new_batch.aliases,
            validation_results=results,
            built_at_utc=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    generations.checkpoint("warehouse_written", paths)
    with incremental.timed(timings, "write sti.db"):
        incremental.write_portal_copy(
            appended_to / "sti.db", generation / "sti.db", generation / "warehouse.duckdb", change
        )
    with incremental.timed(timings, "write the downloads"):
        version_dir = downloads.prepare_incremental(
            generation / "sti.db",
            generation,
            previous=(appended_to / "downloads").resolve(),
            partitions=change.partitions,
            regions=change.regions,
        )
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
    summary = f"internal error ({type(exc).__name__}: {str(exc)[:300]}); nothing was published"
    try:
        log_dir = paths.reports / "errors"
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}.log"
        log.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    except OSError as log_error:  # the log itself must not turn the sentence into a traceback
        return f"{summary}; the details could not be logged ({log_error.strerror or log_error})"
    return f"{summary}; details for an engineer in {log}"
