-- Policy documents and the quantitative targets extracted from them (sti_portal/targets/tables.py).
-- Written by write_warehouse in the same file and the same atomic swap as the statistics.

CREATE TABLE policy_documents (
    doc_id         VARCHAR PRIMARY KEY,  -- file name without extension
    doc            VARCHAR NOT NULL,     -- file name (the extractor's `doc`)
    title          VARCHAR NOT NULL,
    issuer         VARCHAR,
    region         VARCHAR,              -- as in the sidecar
    region_code    VARCHAR,              -- GB/T 2260 when the region is province-level (全国 100000), else NULL
    province_code  VARCHAR,              -- the province the region lies in, where it can be told
    date           VARCHAR,              -- YYYY-MM-DD (or YYYY-MM, YYYY) as in the sidecar
    year           INTEGER,
    url            VARCHAR,
    kind           VARCHAR,              -- implementation plan, progress report, …
    format         VARCHAR NOT NULL,     -- txt | html
    n_chars        INTEGER NOT NULL,
    text_sha256    VARCHAR NOT NULL,
    source_ref     VARCHAR NOT NULL,     -- snapshot-relative path
    text           VARCHAR NOT NULL      -- the text offsets refer to (HTML reduced to its body text)
);

CREATE TABLE policy_statements (         -- every extracted statement: kind target or achieved
    statement_id        VARCHAR PRIMARY KEY,   -- doc_id:char_offset-char_end
    doc_id              VARCHAR NOT NULL,
    doc                 VARCHAR NOT NULL,
    doc_title           VARCHAR,
    doc_date            VARCHAR,
    kind                VARCHAR NOT NULL,      -- target | achieved (after review)
    span                VARCHAR NOT NULL,      -- the evidence: exact substring of policy_documents.text
    char_offset         INTEGER,               -- text[char_offset:char_end] = span (0-based, characters)
    char_end            INTEGER,
    indicator_text      VARCHAR,
    indicator           VARCHAR NOT NULL,      -- extractor id (sources/snapshots/policy_docs/README.md)
    value               DOUBLE,                -- as written
    unit                VARCHAR,
    value_base          DOUBLE,                -- 亿 ×1e8, 万 ×1e4, 成 ×10
    comparator          VARCHAR,               -- eq | ge | le | approx | growth
    target_year         INTEGER,
    region              VARCHAR,
    region_code         VARCHAR,               -- province-level regions only
    province_code       VARCHAR,
    warehouse_indicator VARCHAR NOT NULL,      -- catalogue id, or 'none'
    comparability       VARCHAR NOT NULL,      -- same | broader | estimate | none
    indicator_caveat    VARCHAR,
    review_status       VARCHAR NOT NULL,      -- extracted | confirmed | rejected
    corrections         VARCHAR,               -- fields the review changed: "col: old → new; …"
    reviewer            VARCHAR,
    reviewed_on         VARCHAR,
    review_note         VARCHAR,
    baseline_year       INTEGER,               -- set by the review where the document names one
    progress_rule       VARCHAR,               -- how target_progress judges this target
    extracted           VARCHAR NOT NULL       -- the extractor's output, JSON, before review
);

CREATE VIEW targets AS
SELECT * FROM policy_statements WHERE kind = 'target';

CREATE TABLE target_progress (           -- targets with an indicator (not rejected), against the statistics
    statement_id           VARCHAR PRIMARY KEY,
    doc_id                 VARCHAR NOT NULL,
    doc_title              VARCHAR,
    doc_date               VARCHAR,
    region_code            VARCHAR,
    region_zh              VARCHAR,
    region                 VARCHAR,
    indicator              VARCHAR NOT NULL,
    indicator_text         VARCHAR,
    warehouse_indicator    VARCHAR,
    indicator_zh           VARCHAR,
    unit                   VARCHAR,        -- the warehouse indicator's unit: values below are in it
    stock_or_flow          VARCHAR,
    comparability          VARCHAR,
    comparator             VARCHAR,
    target_value           DOUBLE,         -- in `target_unit` (growth: % a year)
    target_unit            VARCHAR,
    target_year            INTEGER,
    target_level           DOUBLE,         -- level to reach in the target year, in `unit` (growth: implied)
    baseline_year          INTEGER,
    baseline_value         DOUBLE,
    baseline_source_ref    VARCHAR,
    latest_year            INTEGER,
    latest_value           DOUBLE,
    latest_source_ref      VARCHAR,
    path_value             DOUBLE,         -- where the path to the target stands in latest_year
    gap                    DOUBLE,         -- target_level - latest_value
    realised_growth_pct    DOUBLE,         -- average annual growth baseline -> latest, %
    growth_needed_pct      DOUBLE,         -- average annual growth latest -> target_level, %
    change_needed_per_year DOUBLE,         -- (target_level - latest_value) / years left, in `unit`
    status                 VARCHAR NOT NULL,  -- met | on_track | off_track | no_data
    rule                   VARCHAR NOT NULL,  -- the rule applied, with this row's numbers
    caveat                 VARCHAR,
    span                   VARCHAR,        -- the evidence in the document
    related_indicator      VARCHAR,        -- no comparable series: what the warehouse has instead
    related_year           INTEGER,
    related_value          DOUBLE,
    target_kind            VARCHAR,        -- level | rate | total_growth | points | multiple | increase | cumulative
    judged_against         VARCHAR,        -- official series | broader official series | estimate (obs_status e)
    review_status          VARCHAR         -- confirmed | extracted (rejected targets are not judged)
);

CREATE TABLE reported_vs_official (      -- achieved figures in the documents against the statistics
    statement_id        VARCHAR PRIMARY KEY,
    doc_id              VARCHAR NOT NULL,
    doc_title           VARCHAR,
    doc_date            VARCHAR,
    region_code         VARCHAR,
    region_zh           VARCHAR,
    indicator           VARCHAR NOT NULL,      -- extractor id
    warehouse_indicator VARCHAR,
    indicator_zh        VARCHAR,
    year                INTEGER,               -- the year the figure is for
    year_basis          VARCHAR,               -- stated | assumed: the year before the document | none
    span                VARCHAR,               -- the evidence in the document
    reported_value      DOUBLE,                -- as written
    reported_unit       VARCHAR,
    comparator          VARCHAR,               -- eq | ge | le | approx | growth
    unit                VARCHAR,               -- the series' unit (growth: %)
    reported_in_unit    DOUBLE,                -- the reported value in `unit`
    official_value      DOUBLE,                -- the release compared with: the one that agrees, else the current
    official_release    VARCHAR,
    official_source_ref VARCHAR,               -- file#sheet!cell of the official value
    official_obs_status VARCHAR,               -- e: an estimate (hightech_enterprises_valid_est)
    current_value       DOUBLE,
    current_release     VARCHAR,
    difference          DOUBLE,                -- reported_in_unit - official_value
    difference_pct      DOUBLE,                -- difference / official_value, %
    tolerance           DOUBLE,                -- half a unit of the last printed digit, in `unit`
    verdict             VARCHAR NOT NULL,      -- agrees within rounding | differs | not comparable
    reason              VARCHAR,
    judged_against      VARCHAR                -- official series | estimate (obs_status e)
);

CREATE TABLE target_region_summary (     -- per province: how its targets are judged (city targets under it)
    region_code       VARCHAR PRIMARY KEY,
    region_zh         VARCHAR,
    targets           INTEGER NOT NULL,
    met               INTEGER NOT NULL,
    on_track          INTEGER NOT NULL,
    off_track         INTEGER NOT NULL,
    no_data           INTEGER NOT NULL,
    judged            INTEGER NOT NULL,        -- met + on_track + off_track
    no_data_reasons   VARCHAR,                 -- "reason: count; …"
    reported_figures  INTEGER NOT NULL,        -- comparable achieved figures (reported_vs_official)
    reported_agree    INTEGER NOT NULL         -- of which agree within rounding
);

CREATE TABLE target_indicators (         -- the extractor's indicator ids -> warehouse indicators
    indicator             VARCHAR PRIMARY KEY,
    name_zh               VARCHAR,
    warehouse_indicator   VARCHAR NOT NULL,
    comparability         VARCHAR NOT NULL,
    caveat                VARCHAR,
    progress_rule_level   VARCHAR,
    progress_rule_growth  VARCHAR
);
