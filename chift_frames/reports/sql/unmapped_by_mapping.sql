-- Which mappings are left incomplete by the most consumers?
-- Grain: one row per sync name, mapping and sub-mapping with unmapped values, most unmapped
-- values first; with a top, chift_frames adds LIMIT top.
WITH per_mapping AS (
    SELECT
        cs.sync_name, m.name AS mapping_name, m.sub_mapping_name,
        count(DISTINCT m.consumer_id) AS consumers,
        count(*) FILTER (WHERE m.unmapped_count > 0) AS consumers_incomplete,
        coalesce(sum(m.unmapped_count), 0) AS unmapped_values
    FROM mappings AS m
    JOIN consumer_syncs AS cs ON cs.consumer_id = m.consumer_id AND cs.sync_id = m.sync_id
    GROUP BY cs.sync_name, m.name, m.sub_mapping_name
)
SELECT
    CAST(sync_name AS VARCHAR) AS sync_name,
    CAST(mapping_name AS VARCHAR) AS mapping_name,
    CAST(sub_mapping_name AS VARCHAR) AS sub_mapping_name,
    CAST(consumers AS BIGINT) AS consumers,
    CAST(consumers_incomplete AS BIGINT) AS consumers_incomplete,
    CAST(unmapped_values AS BIGINT) AS unmapped_values
FROM per_mapping
WHERE unmapped_values > 0
ORDER BY
    unmapped_values DESC, mapping_name, sync_name NULLS LAST, sub_mapping_name NULLS LAST
