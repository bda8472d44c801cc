-- sti-portal warehouse (DuckDB). Dimensions, one long fact table holding every release's value,
-- and views for the current value and the revisions. Written fresh by every build.

CREATE TABLE regions (
    region_code   VARCHAR PRIMARY KEY,   -- GB/T 2260 six digits (100000 = national total) or ISO 3166 alpha-3
    name_zh       VARCHAR NOT NULL,
    name_zh_full  VARCHAR NOT NULL,
    name_en       VARCHAR NOT NULL,
    level         VARCHAR NOT NULL,      -- national | province | sar_or_taiwan | country | world
    macro_region  VARCHAR
);

CREATE TABLE region_aliases (
    alias        VARCHAR NOT NULL,       -- a spelling as printed by a source
    region_code  VARCHAR NOT NULL REFERENCES regions (region_code),
    source_id    VARCHAR NOT NULL
);

CREATE TABLE sources (
    source_id  VARCHAR PRIMARY KEY,
    title_zh   VARCHAR, title_en VARCHAR, publisher VARCHAR, url VARCHAR, license VARCHAR,
    snapshot   VARCHAR, caveats VARCHAR
);

CREATE TABLE indicators (
    indicator_id      VARCHAR PRIMARY KEY,
    name_zh           VARCHAR NOT NULL,
    name_en           VARCHAR NOT NULL,
    unit              VARCHAR NOT NULL,
    unit_en           VARCHAR NOT NULL,
    category          VARCHAR,
    stock_or_flow     VARCHAR,
    additive          BOOLEAN,
    min_value         DOUBLE,
    max_value         DOUBLE,
    yoy_max_ratio     DOUBLE,
    full_coverage     BOOLEAN,
    derived           BOOLEAN,
    derivation        VARCHAR,
    display_decimals  INTEGER,
    source_ids        VARCHAR,
    definition        VARCHAR,
    caveats           VARCHAR
);

CREATE TABLE releases (
    release_id    VARCHAR PRIMARY KEY,
    source_id     VARCHAR NOT NULL,
    release_kind  VARCHAR NOT NULL,      -- first_release | revision | compilation | yearbook | upload
    vintage       DATE,                  -- publication date where known (yearbooks: end of edition year)
    precedence    INTEGER NOT NULL       -- breaks ties between releases of the same vintage
);

-- No PRIMARY KEY / REFERENCES here, on purpose: the key (region_code, indicator_id, year, release) is
-- unique and every code is in its dimension because the blocking `observations` suite says so before
-- anything is written (expectations/observations.json), and an ART index over 10 M four-column keys
-- made writing the table four times slower and the file five times larger (docs/benchmarks.md).
CREATE TABLE observation_fact (
    region_code   VARCHAR NOT NULL,      -- regions.region_code
    indicator_id  VARCHAR NOT NULL,      -- indicators.indicator_id
    year          INTEGER NOT NULL,
    release       VARCHAR NOT NULL,      -- releases.release_id
    value         DOUBLE,                -- in the indicator's unit, full precision; NULL only when obs_status = 'm'
    obs_status    VARCHAR NOT NULL,      -- SDMX codes: '' normal, p provisional, e estimated, b break, m missing
    source_id     VARCHAR NOT NULL,
    source_ref    VARCHAR NOT NULL,      -- file#sheet!cell (or file#row=,col=) the value was read from
    note          VARCHAR NOT NULL
);

CREATE TABLE release_differences (       -- bulletin first release against the first yearbook edition
    region_code VARCHAR, indicator_id VARCHAR, year INTEGER,
    first_release VARCHAR, first_release_value DOUBLE,
    yearbook_release VARCHAR, yearbook_value DOUBLE,
    difference DOUBLE, tolerance VARCHAR, verdict VARCHAR,
    first_release_ref VARCHAR, yearbook_ref VARCHAR
);

CREATE TABLE validation_results (
    suite VARCHAR, expectation VARCHAR, severity VARCHAR, passed BOOLEAN, failing_rows INTEGER, detail VARCHAR
);

CREATE TABLE dropped_rows (              -- source rows left out on purpose (macro-regions, aggregates)
    source_ref VARCHAR, region_label VARCHAR, region_label_en VARCHAR, indicator_id VARCHAR, reason VARCHAR
);

CREATE TABLE partition_digests (          -- sha256 of each (indicator, year) partition of observation_fact
    indicator_id VARCHAR, year INTEGER, digest VARCHAR   -- (warehouse/store.py content_digest)
);

CREATE TABLE build_info (key VARCHAR PRIMARY KEY, value VARCHAR);
