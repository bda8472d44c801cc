"""Dagster definitions for policy targets: the `policy_targets` asset (group `targets`) and its check.

policy_targets: the documents in sources/snapshots/policy_docs (sources/policy_docs.py), every
statement the extractor finds in them, and the curated reviews (catalogue/target_reviews.csv)
applied. The `warehouse` asset stores them, with their progress against the current statistics, in
the same atomic swap as everything else.
"""

import dagster as dg

from sti_portal.targets.tables import PolicyTargets, build_policy_targets, integrity_problems, review_warnings


@dg.asset(
    group_name="targets",
    kinds={"pandas"},
    description="Policy documents (sources/snapshots/policy_docs), the quantitative statements the "
    "extractor finds in them, and the reviews of catalogue/target_reviews.csv.",
)
def policy_targets(context: dg.AssetExecutionContext) -> PolicyTargets:
    pt = build_policy_targets()
    targets = pt.targets
    context.add_output_metadata(
        {
            "rows": len(pt.statements),
            "documents": len(pt.documents),
            "targets": len(targets),
            "achieved": int((pt.statements["kind"] == "achieved").sum()),
            "confirmed": int((targets["review_status"] == "confirmed").sum()),
            "rejected": int((targets["review_status"] == "rejected").sum()),
            "unreviewed": int((targets["review_status"] == "extracted").sum()),
        }
    )
    return pt


@dg.asset_check(
    asset=policy_targets,
    name="policy_targets_integrity",
    blocking=True,
    description="Blocking: every span sits at its offset in the stored text and ids are unique. "
    "Warning: reviews that match no extracted statement, units that do not convert.",
)
def policy_targets_integrity(policy_targets: PolicyTargets) -> dg.AssetCheckResult:
    errors = integrity_problems(policy_targets)
    warnings = review_warnings(policy_targets)
    lines = [f"ERROR {e}" for e in errors] + [f"WARNING {w}" for w in warnings]
    report = "\n".join(lines) if lines else "all spans at their offsets; every review matches a statement"
    return dg.AssetCheckResult(
        passed=not lines,
        severity=dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN,
        metadata={
            "report": dg.MetadataValue.md(f"```\n{report}\n```"),
            "errors": len(errors),
            "warnings": len(warnings),
        },
    )


TARGET_ASSETS = [policy_targets]
TARGET_CHECKS = [policy_targets_integrity]
