"""What a suite run gives: its failures (with the failing rows), a report, the rows of validation_results."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from sti_portal.quality.suites import load_suite


@dataclass
class Failure:
    expectation: str
    rule: str
    severity: str
    n_rows: int
    rows: pd.DataFrame = field(repr=False)
    observed: str = ""

    def describe(self, limit: int = 10) -> str:
        head = f"{self.expectation} ({self.rule})" if self.rule else self.expectation
        lines = [f"{head}: {self.n_rows} row(s) fail" if self.n_rows else f"{head}: {self.observed}"]
        for rec in self.rows.head(limit).to_dict("records"):
            lines.append("    " + ", ".join(f"{k}={_fmt(v)}" for k, v in rec.items()))
        if self.n_rows > limit:
            lines.append(f"    ... and {self.n_rows - limit} more")
        return "\n".join(lines)


def _fmt(value) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


@dataclass
class SuiteOutcome:
    suite: str
    n_expectations: int
    failures: list[Failure]
    frame_rows: int

    @property
    def blocking_failures(self) -> list[Failure]:
        return [f for f in self.failures if f.severity == "critical"]

    @property
    def success(self) -> bool:
        return not self.blocking_failures

    def table_rows(self) -> list[dict]:
        """One row per expectation of the suite, passed or not (for the validation_results table)."""
        failed = {f.expectation: f for f in self.failures}
        rows = []
        for spec in load_suite(self.suite)["expectations"]:
            label = expectation_label(spec["type"], spec["kwargs"])
            failure = failed.get(label)
            rows.append(
                {
                    "suite": self.suite,
                    "expectation": label,
                    "severity": spec.get("severity", "critical"),
                    "passed": failure is None,
                    "failing_rows": failure.n_rows if failure else 0,
                    "detail": failure.describe() if failure else "",
                }
            )
        return rows

    def report(self) -> str:
        if not self.failures:
            return f"{self.suite}: {self.n_expectations} expectation(s) passed on {self.frame_rows} row(s)"
        return "\n".join(
            [f"{self.suite}: {len(self.failures)} of {self.n_expectations} expectation(s) failed"]
            + [f.describe() for f in self.failures]
        )


def expectation_label(kind: str, kwargs: dict) -> str:
    """A name unique within a suite: type, column and row condition."""
    column = kwargs.get("column") or kwargs.get("column_list")
    condition = kwargs.get("row_condition")
    if condition is not None and not isinstance(condition, (dict, str)):
        condition = condition.dict()  # a GX Condition object (a pydantic model)
    if isinstance(condition, dict):
        condition = f'{condition["column"]["name"]}{condition["operator"]}"{condition["parameter"]}"'
    return kind + (f"[{column}]" if column else "") + (f" where {condition}" if condition else "")


def severity_of(config) -> str:
    severity = getattr(config, "severity", None)
    return str(getattr(severity, "value", severity) or "critical")
