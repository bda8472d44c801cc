"""The Dagster side: a file dropped in STI_HOME/inbox is loaded by the run the sensor requests.

The sensor is evaluated with Dagster's own API (build_sensor_context) and each requested run is
executed with the RunRequest's config and tags on a Dagster instance; the verdict shows in the run
status, tags, asset check results and materialisation metadata.
"""

import os
import time

import dagster as dg
import pytest
from upload_helpers import BAD, GOOD, copy_home, published_state, query, stage


@pytest.fixture
def inbox_home(built_home, tmp_path, monkeypatch):
    home = copy_home(built_home, tmp_path / "home")
    monkeypatch.setenv("STI_HOME", str(home))
    monkeypatch.setenv("STI_INBOX_SETTLE_SECONDS", "0")
    return home


def evaluate(defs, instance, home, cursor=None):
    from pipelines.resources import StiHome

    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources={"sti_home": StiHome(home=str(home))}
    )
    return defs.get_sensor_def("inbox_sensor")(context)


def test_a_file_dropped_in_the_inbox_is_published_by_the_sensor_run(inbox_home):
    from pipelines.definitions import defs

    home = inbox_home
    inbox = home / "inbox"
    good = stage(GOOD / "beijing_2022_revision.csv", inbox)
    bad = stage(BAD / "wan_yuan_for_percent.csv", inbox)
    (inbox / "~$lock-file-of-excel.xlsx").write_bytes(b"")  # ignored: Excel's lock file
    before = published_state(home)

    with dg.DagsterInstance.ephemeral() as instance:
        result = evaluate(defs, instance, home)
        requests = {request.tags["sti/file"]: request for request in result.run_requests}
        assert set(requests) == {good.name, bad.name}
        assert all(request.tags["sti/writes"] == "warehouse" and request.run_key for request in requests.values())
        job = defs.resolve_job_def("load_upload")
        runs = {}
        for name, request in requests.items():
            runs[name] = job.execute_in_process(
                run_config=request.run_config, tags=request.tags, instance=instance, raise_on_error=False
            )

        # the good file: run succeeded, checks passed, the portal's sti.db has the value
        run = instance.get_run_by_id(runs[good.name].run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["sti/verdict"] == "accepted" and run.tags["sti/report"].endswith("report.html")
        checks = {e.check_name: e.passed for e in runs[good.name].get_asset_check_evaluations()}
        assert checks == {
            "file_checks": True,
            **{
                f"gx_{s}": True
                for s in (
                    "observations",
                    "value_ranges",
                    "coverage",
                    "additivity",
                    "year_on_year",
                    "bulletin_agreement",
                )
            },
        }
        metadata = runs[good.name].asset_materializations_for_node("statistician_upload")
        upload_meta = next(m.metadata for m in metadata if m.asset_key.to_user_string() == "statistician_upload")
        assert upload_meta["verdict"].value == "accepted" and os.path.exists(upload_meta["report_html"].value)
        assert "[LOADED] beijing_2022_revision.csv" in upload_meta["report"].value
        assert query(
            home,
            "SELECT value FROM observations WHERE region_code = '110000' AND indicator_id = 'rd_intensity' "
            "AND year = 2022",
        ) == [(6.99,)]
        assert published_state(home) != before
        assert not good.exists() and len(list((home / "archive").glob("*__beijing_2022_revision.csv"))) == 1

        # the bad file: blocking check failed, run failed, file quarantined with its report
        run = instance.get_run_by_id(runs[bad.name].run_id)
        assert run.status == dg.DagsterRunStatus.FAILURE and run.tags["sti/verdict"] == "rejected"
        evaluations = {e.check_name: e for e in runs[bad.name].get_asset_check_evaluations()}
        assert not evaluations["file_checks"].passed
        assert "unit '万元' does not fit rd_intensity" in evaluations["file_checks"].metadata["problems"].value
        assert not bad.exists()
        assert list((home / "quarantine").glob("*__wan_yuan_for_percent.csv.report.html"))

        # nothing new: the sensor skips; dropping the fixed file again (new mtime) requests a new run
        again = evaluate(defs, instance, home, cursor=result.cursor)
        assert not again.run_requests and "no new file" in again.skip_reason.skip_message
        stage(GOOD / "beijing_2022_revision.csv", inbox, "retry.csv")
        third = evaluate(defs, instance, home, cursor=again.cursor)
        assert [r.tags["sti/file"] for r in third.run_requests] == ["retry.csv"]


def test_writer_runs_are_limited_to_one_at_a_time(inbox_home):
    """The instance STI_HOME creates queues runs tagged sti/writes one at a time."""
    from pipelines.definitions import defs
    from sti_portal.core import settings as config

    paths = config.paths().ensure()
    with dg.DagsterInstance.from_config(str(paths.dagster_home)) as instance:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert {"key": "sti/writes", "limit": 1} in limits
    for job in ("build_all", "load_upload"):
        assert defs.resolve_job_def(job).tags.get("sti/writes") == "warehouse"
    schedules = {s.name: s for s in defs.schedules}
    assert schedules["release_calendar_cn_sti_yearbook"].cron_schedule == "0 6 20 12 *"
    assert schedules["release_calendar_nbs_rd_bulletin"].job_name == "build_all"


def test_a_rejected_run_shows_a_problem_table_and_materialises_nothing(inbox_home):
    """The statistician reads the verdict in the run: a table of problems, no materialisation, no warehouse or
    portal_db events (this asset runs the load itself; Dagster never ran those assets here)."""
    from pipelines.definitions import defs

    home = inbox_home
    good = stage(GOOD / "beijing_2022_revision.csv", home / "inbox")
    bad = stage(BAD / "wan_yuan_for_percent.csv", home / "inbox")
    with dg.DagsterInstance.ephemeral() as instance:
        requests = {r.tags["sti/file"]: r for r in evaluate(defs, instance, home).run_requests}
        job = defs.resolve_job_def("load_upload")
        runs = {
            name: job.execute_in_process(run_config=r.run_config, tags=r.tags, instance=instance, raise_on_error=False)
            for name, r in requests.items()
        }
        rejected = runs[bad.name]
        assert not rejected.success
        assert not rejected.asset_materializations_for_node("statistician_upload")
        failure = next(e for e in rejected.all_events if e.is_step_failure).step_failure_data.user_failure_data
        assert "REJECTED, nothing published" in failure.description
        table = failure.metadata["problems"].value
        assert table.startswith("| severity | sheet | row | column | found | expected | problem |")
        assert "| error |  | 2 | unit | '万元' | % |" in table
        assert "[REJECTED] wan_yuan_for_percent.csv" in failure.metadata["report"].value
        check = next(e for e in rejected.get_asset_check_evaluations() if e.check_name == "file_checks")
        assert check.metadata["file"].value == bad.name and "| unit |" in check.metadata["problem_table"].value

        accepted = runs[good.name]
        assert accepted.success
        keys = {
            m.asset_key.to_user_string()
            for m in accepted.get_asset_materialization_events()
            for m in [m.event_specific_data.materialization]
        }
        assert keys == {"statistician_upload"}
        # each run keeps its own verdict: the rejection is still on its run after the good file was loaded
        assert instance.get_run_by_id(rejected.run_id).tags["sti/verdict"] == "rejected"
        assert instance.get_run_by_id(accepted.run_id).tags["sti/verdict"] == "accepted"


def test_a_file_still_being_copied_is_not_requested_until_it_holds_still(inbox_home, monkeypatch):
    from pipelines.definitions import defs

    monkeypatch.setenv("STI_INBOX_SETTLE_SECONDS", "1")
    home = inbox_home
    inbox = home / "inbox"
    source = (GOOD / "beijing_2022_revision.csv").read_bytes()
    target = inbox / "slow_copy.csv"
    (inbox / "slow_copy.csv.part").write_bytes(source)  # the drop protocol: a .part name is never read
    target.write_bytes(source[:40])  # a slow writer, paused half-way
    old = time.time() - 10
    os.utime(target, (old, old))
    with dg.DagsterInstance.ephemeral() as instance:
        first = evaluate(defs, instance, home)
        assert not first.run_requests and "not yet complete" in first.skip_reason.skip_message
        with open(target, "ab") as handle:  # the writer goes on
            handle.write(source[40:])
        os.utime(target, (old + 1, old + 1))
        second = evaluate(defs, instance, home, cursor=first.cursor)
        assert not second.run_requests  # changed since last seen: still waiting
        third = evaluate(defs, instance, home, cursor=second.cursor)
        [request] = third.run_requests
        assert request.tags["sti/file"] == "slow_copy.csv"
        # if the file changes between the sensor and the run, the run loads nothing and says why
        with open(target, "ab") as handle:
            handle.write(b"110000,rd_intensity,2021,6.5,%,,,\n")
        run = defs.resolve_job_def("load_upload").execute_in_process(
            run_config=request.run_config, tags=request.tags, instance=instance, raise_on_error=False
        )
        assert not run.success and target.exists()
        failure = next(e for e in run.all_events if e.is_step_failure).step_failure_data.user_failure_data
        assert "still being written" in failure.description
