-- Views over the fact table. The release order here is the one in sti_portal/releases.py.

CREATE VIEW observation_history AS
SELECT f.region_code, r.name_zh AS region_zh, r.name_en AS region_en, r.level AS region_level,
       f.indicator_id, i.name_zh AS indicator_zh, i.name_en AS indicator_en,
       f.year, f.value, i.unit, f.obs_status, f.source_id, f.release,
       rl.release_kind, rl.vintage, rl.precedence, f.source_ref, f.note
FROM observation_fact f
JOIN regions r USING (region_code)
JOIN indicators i USING (indicator_id)
JOIN releases rl ON rl.release_id = f.release;

CREATE VIEW observation_history_ranked AS
SELECT *,
       row_number() OVER (PARTITION BY region_code, indicator_id, year
                          ORDER BY vintage ASC NULLS FIRST, precedence ASC, release ASC) AS release_seq,
       count(*) OVER (PARTITION BY region_code, indicator_id, year) AS n_releases
FROM observation_history;

-- The current series, with series breaks flagged `b` (SDMX). A current value is a break when the
-- previous year's current value of the same region and indicator comes from ANOTHER release and the
-- change between them is beyond the indicator's year-on-year bound (indicators.yoy_max_ratio, the
-- `year_on_year` suite's rule): two editions joined, e.g. Tianjin R&D intensity 2011 (2019 edition,
-- 2.63) -> 2012 (2024 edition, after the GDP revision, 3.99). The source's own status (p, e, m) is
-- kept when it has one: it says what the value is; `b` says only how it joins the year before.
-- observation_history keeps every source's status as printed.
CREATE VIEW observations AS
WITH current_values AS (
    SELECT * EXCLUDE (release_seq, n_releases, precedence), n_releases
    FROM observation_history_ranked
    WHERE release_seq = n_releases
), joined AS (
    SELECT c.*,
           lag(c.year)    OVER w AS previous_year,
           lag(c.value)   OVER w AS previous_value,
           lag(c.release) OVER w AS previous_release,
           i.yoy_max_ratio
    FROM current_values c
    JOIN indicators i USING (indicator_id)
    WINDOW w AS (PARTITION BY c.region_code, c.indicator_id ORDER BY c.year)
)
SELECT * EXCLUDE (previous_year, previous_value, previous_release, yoy_max_ratio)
         REPLACE (CASE WHEN obs_status = '' AND previous_year = year - 1 AND previous_release <> release
                            AND previous_value > 0 AND abs(value / previous_value - 1) > yoy_max_ratio
                       THEN 'b' ELSE obs_status END AS obs_status)
FROM joined;

-- Every changed value between one release and the next of the same region, indicator and year.
-- "Changed" is judged at the indicator's display precision: the 2020 and 2021 editions store
-- unrounded floats (5.650849...) for values other editions print as 5.65, which is not a revision.
-- A first release (bulletin) prints fewer digits than the yearbook (2947.1 亿元 vs 2947.0733): it is
-- revised only when the later value lies more than half a unit of its last printed digit away from it.
CREATE VIEW revisions AS
WITH ordered AS (
    SELECT *,
           lag(value)   OVER w AS old_value,
           lag(release) OVER w AS old_release,
           lag(source_ref) OVER w AS old_source_ref,
           lag(release_kind) OVER w AS old_release_kind
    FROM observation_history_ranked
    WINDOW w AS (PARTITION BY region_code, indicator_id, year ORDER BY release_seq)
)
SELECT region_code, region_zh, region_en, indicator_id, indicator_zh, indicator_en, year, ordered.unit,
       old_release, release AS new_release, old_value, value AS new_value,
       value - old_value AS difference, old_source_ref, source_ref AS new_source_ref
FROM ordered
JOIN indicators USING (indicator_id)
WHERE release_seq > 1
  AND round(old_value, display_decimals) IS DISTINCT FROM round(value, display_decimals)
  AND NOT (old_release_kind = 'first_release' AND old_value IS NOT NULL AND value IS NOT NULL
           AND abs(value - old_value) <= 0.5 * pow(10, -least(display_decimals,
                                       length(split_part(CAST(old_value AS VARCHAR), '.', 2)))) + 1e-9);
