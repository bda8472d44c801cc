"""Extract quantitative STI targets and achieved figures from Chinese policy documents.

The pipeline is a sequence of small rules, each in the module of its concern:

1. ``context.build_context``  resolved once per document: date, default kind (plan → target,
                              news/report → achieved), plan year, base region (sidecar or text);
2. ``text.mask_text``         blank out page furniture, dates, URLs, phone and registration numbers,
                              list numbers, quoted names (《60条》, “四个一批”), rankings, ratios, 1+N;
   ``text.split_*``           paragraphs (lines) → sentences (。；！？) → clauses (，：);
3. ``numbers.find_quantities`` every number + unit;
4. ``candidates``             keep figures about a measurable indicator, drop scope counts, list sums,
                              thresholds, subsidy rules;
5. ``phrases``                the indicator as worded and the span; ``vocabulary.map_indicator`` → id;
6. ``kinds`` / ``regions``    kind, year and region from clause, sentence, paragraph, section, document;
7. ``indicator_tables``       rows of indicator tables (指标（单位） 2020年值 2025年值).

Documents in traditional script are matched on a simplified copy of the same length (``numbers.
normalize_text``, OpenCC), so spans are always cut from the document's own characters.
Output dicts carry exactly the gold fields described in ``sources/snapshots/policy_docs/README.md``.
"""

from __future__ import annotations

from pathlib import Path

from sources.policy_docs import html_to_text, read_meta, read_text

from .statements import extract_statements
from .vocabulary import map_indicator

__all__ = [
    "extract_statements",
    "extract_file",
    "html_to_text",
    "map_indicator",
    "INDICATOR_IDS",
    "FIELDS",
    "read_text",
    "read_meta",
]

FIELDS = [
    "doc",
    "kind",
    "span",
    "indicator_text",
    "indicator",
    "value",
    "unit",
    "value_base",
    "comparator",
    "target_year",
    "region",
]

INDICATOR_IDS = (
    "rd_intensity",
    "rd_expenditure",
    "rd_expenditure_growth",
    "hightech_enterprises",
    "hightech_enterprises_new",
    "tech_contract_turnover",
    "invention_patents_per_10k",
    "hightech_output_share",
    "rd_personnel_per_10k_labour",
    "tech_progress_contribution",
    "incubators",
    "sci_tech_achievements_transformed",
    "other",
)


def extract_file(path: str | Path) -> list[dict]:
    """Statements of one ``.txt`` (UTF-8) or ``.html`` file, using its ``NAME.meta.json`` sidecar.

    Raises ``OSError`` for unreadable files and ``UnicodeDecodeError`` for undecodable bytes.
    """
    path = Path(path)
    return extract_statements(read_text(path), read_meta(path), path.name)
