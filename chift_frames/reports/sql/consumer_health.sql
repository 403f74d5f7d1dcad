-- Where does each consumer stand with each sync, and did fetching its setup fail?
-- Grain: one row per consumer_syncs row, plus one per (consumer, sync) that only has a
-- fetch error (its setup columns null).
-- monitoring_states is the report of that name (the rule is in its SQL), which chift_frames
-- registers as a table (with one_apis) before running this query; `chift-frames report --sql`
-- prints both as CTEs ahead of this query's own.
WITH sync_names AS (
    SELECT sync_id, min(sync_name) AS sync_name FROM consumer_syncs GROUP BY sync_id
    UNION ALL
    SELECT s.sync_id, min(s.name) FROM syncs AS s
    WHERE NOT EXISTS (SELECT 1 FROM consumer_syncs AS cs WHERE cs.sync_id = s.sync_id)
    GROUP BY s.sync_id
),
consumer_names AS (
    SELECT consumer_id, min(name) AS consumer_name FROM consumers GROUP BY consumer_id
),
last_errors AS (
    -- each pair's latest fetch error; errors not tied to a pair are left out
    SELECT consumer_id, sync_id, occurred_at, http_status, error_code, message
    FROM fetch_errors
    WHERE consumer_id IS NOT NULL AND sync_id IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY consumer_id, sync_id ORDER BY occurred_at DESC NULLS LAST
    ) = 1
),
setups AS (
    SELECT
        consumer_id, sync_id, status, status_details, enabled, value_count, unmapped_count,
        skipped_mapping_count, enabled_flow_count
    FROM consumer_syncs
    UNION ALL
    SELECT
        e.consumer_id, e.sync_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM last_errors AS e
    WHERE NOT EXISTS (
        SELECT 1 FROM consumer_syncs AS cs
        WHERE cs.consumer_id = e.consumer_id AND cs.sync_id = e.sync_id
    )
)
SELECT
    CAST(s.consumer_id AS VARCHAR) AS consumer_id,
    CAST(cn.consumer_name AS VARCHAR) AS consumer_name,
    CAST(s.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(s.status AS VARCHAR) AS status,
    CAST(s.status_details AS VARCHAR) AS status_details,
    CAST(m.state AS VARCHAR) AS state,
    CAST(m.note AS VARCHAR) AS state_note,
    CAST(s.enabled AS BOOLEAN) AS enabled,
    CAST(s.value_count AS BIGINT) AS value_count,
    CAST(s.unmapped_count AS BIGINT) AS unmapped_count,
    CAST(s.value_count - s.unmapped_count AS DOUBLE) / nullif(s.value_count, 0) AS mapped_share,
    CAST(s.skipped_mapping_count AS BIGINT) AS skipped_mapping_count,
    CAST(s.enabled_flow_count AS BIGINT) AS enabled_flow_count,
    CAST(e.occurred_at AS TIMESTAMPTZ) AS last_error_at,
    CAST(e.http_status AS BIGINT) AS last_error_http_status,
    CAST(e.error_code AS VARCHAR) AS last_error_code,
    CAST(e.message AS VARCHAR) AS last_error_message
FROM setups AS s
LEFT JOIN last_errors AS e ON e.consumer_id = s.consumer_id AND e.sync_id = s.sync_id
LEFT JOIN monitoring_states AS m ON m.consumer_id = s.consumer_id AND m.sync_id = s.sync_id
LEFT JOIN sync_names AS sn ON sn.sync_id = s.sync_id
LEFT JOIN consumer_names AS cn ON cn.consumer_id = s.consumer_id
ORDER BY sn.sync_name NULLS LAST, s.sync_id, s.consumer_id
