-- Which consumers left the most source values unmapped, and in which syncs?
-- Grain: one row per consumer and sync with at least one unmapped value, most unmapped
-- first; with a top, chift_frames adds LIMIT top.
WITH consumer_names AS (
    SELECT consumer_id, min(name) AS consumer_name FROM consumers GROUP BY consumer_id
),
incomplete AS (
    SELECT consumer_id, sync_id, sync_name, status, unmapped_count, value_count
    FROM consumer_syncs
    WHERE unmapped_count > 0
)
SELECT
    CAST(i.consumer_id AS VARCHAR) AS consumer_id,
    CAST(cn.consumer_name AS VARCHAR) AS consumer_name,
    CAST(i.sync_id AS VARCHAR) AS sync_id,
    CAST(i.sync_name AS VARCHAR) AS sync_name,
    CAST(i.status AS VARCHAR) AS status,
    CAST(i.unmapped_count AS BIGINT) AS unmapped_count,
    CAST(i.value_count AS BIGINT) AS value_count
FROM incomplete AS i
LEFT JOIN consumer_names AS cn ON cn.consumer_id = i.consumer_id
ORDER BY i.unmapped_count DESC, i.consumer_id, i.sync_id
