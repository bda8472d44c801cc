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

CREATE VIEW observations AS
SELECT * EXCLUDE (release_seq, n_releases, precedence), n_releases
FROM observation_history_ranked
WHERE release_seq = n_releases;

-- Every changed value between one release and the next of the same region, indicator and year.
-- "Changed" is judged at the indicator's display precision: the 2020 and 2021 editions store
-- unrounded floats (5.650849...) for values other editions print as 5.65, which is not a revision.
CREATE VIEW revisions AS
WITH ordered AS (
    SELECT *,
           lag(value)   OVER w AS old_value,
           lag(release) OVER w AS old_release,
           lag(source_ref) OVER w AS old_source_ref
    FROM observation_history_ranked
    WINDOW w AS (PARTITION BY region_code, indicator_id, year ORDER BY release_seq)
)
SELECT region_code, region_zh, region_en, indicator_id, indicator_zh, indicator_en, year, ordered.unit,
       old_release, release AS new_release, old_value, value AS new_value,
       value - old_value AS difference, old_source_ref, source_ref AS new_source_ref
FROM ordered
JOIN indicators USING (indicator_id)
WHERE release_seq > 1
  AND round(old_value, display_decimals) IS DISTINCT FROM round(value, display_decimals);
