"""The one way a generation is written: the warehouse, then sti.db and the downloads, from validated inputs.

`sti build` (the Dagster assets `warehouse` and `portal_db`, pipelines/definitions.py) and `sti load`
when it rebuilds (sti_portal/uploads/load.py) both call these functions with the same kind of inputs, so
a load and a build cannot assemble a warehouse differently. Switching the written generation in is
sti_portal/publish/generations.py's `commit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sti_portal.publish.portal_db import publish
from sti_portal.store.warehouse import write_warehouse
from sti_portal.targets.tables import PolicyTargets
from sti_portal.transform import steps

WAREHOUSE_FILE = "warehouse.duckdb"
PORTAL_DB_FILE = "sti.db"
DROPPED_COLUMNS = ["source_ref", "region_label", "region_label_en", "indicator_id", "reason"]


@dataclass
class GenerationInputs:
    """What a generation is written from."""

    candidate: pd.DataFrame  # every value of every release, derived indicators included, validated
    aliases: pd.DataFrame  # region labels seen in the sources and the codes they were given
    dropped: pd.DataFrame  # source rows harmonise set aside, with their `drop_reason`
    validation_rows: list[dict]  # the Great Expectations suites' results, one row per expectation
    policy_targets: PolicyTargets | None = None  # None: read afresh from the snapshots by the writer


def write_warehouse_into(generation: Path, inputs: GenerationInputs) -> str:
    """Write `generation`/warehouse.duckdb; returns its content digest."""
    candidate = inputs.candidate
    dropped = inputs.dropped.rename(columns={"drop_reason": "reason"})
    return write_warehouse(
        generation / WAREHOUSE_FILE,
        observations=candidate,
        regions=steps.regions_table(candidate),
        aliases=inputs.aliases,
        dropped=dropped[DROPPED_COLUMNS],
        release_differences=steps.release_differences(candidate),
        validation_results=steps.validation_table(inputs.validation_rows),
        build_info=steps.build_info(candidate),
        policy_targets=inputs.policy_targets,
    )


def write_portal_into(generation: Path) -> dict[str, int]:
    """Write `generation`/sti.db and the downloads from the generation's warehouse; returns row counts."""
    return publish(generation / WAREHOUSE_FILE, generation / PORTAL_DB_FILE)
