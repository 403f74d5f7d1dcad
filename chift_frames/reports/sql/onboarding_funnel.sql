-- How far do consumers get in setting up each sync, and what stops the others?
-- Grain: one row per sync (syncs no consumer is linked to included, with zero counts).
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
step_counts AS (
    SELECT
        sync_id,
        count(DISTINCT consumer_id) AS linked_count,
        count(DISTINCT consumer_id) FILTER (WHERE status = 'active') AS active_count,
        count(DISTINCT consumer_id)
            FILTER (WHERE status = 'active' AND enabled_flow_count > 0) AS enabled_count
    FROM consumer_syncs
    GROUP BY sync_id
),
inactive_reasons AS (
    -- consumers giving each reason for a setup that is not active
    SELECT sync_id, status_details, count(DISTINCT consumer_id) AS consumer_count
    FROM consumer_syncs
    WHERE status IS DISTINCT FROM 'active' AND status_details IS NOT NULL
    GROUP BY sync_id, status_details
),
state_counts AS (
    -- consumers in each monitoring state
    SELECT
        sync_id,
        count(DISTINCT consumer_id) FILTER (WHERE state = 'no connection') AS no_connection_count,
        count(DISTINCT consumer_id)
            FILTER (WHERE state = 'connection failed') AS connection_failed_count,
        count(DISTINCT consumer_id)
            FILTER (WHERE state = 'mapping incomplete') AS mapping_incomplete_count,
        count(DISTINCT consumer_id)
            FILTER (WHERE state = 'configuration incomplete') AS configuration_incomplete_count,
        count(DISTINCT consumer_id) FILTER (WHERE state = 'active') AS state_active_count,
        count(DISTINCT consumer_id) FILTER (WHERE state IS NULL) AS state_unknown_count
    FROM monitoring_states
    GROUP BY sync_id
),
top_reasons AS (
    -- the reason most inactive setups give; a tie goes to the first A-Z
    SELECT sync_id, status_details, consumer_count
    FROM inactive_reasons
    QUALIFY row_number() OVER (
        PARTITION BY sync_id ORDER BY consumer_count DESC, status_details
    ) = 1
)
SELECT
    CAST(sn.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(coalesce(c.linked_count, 0) AS BIGINT) AS linked_count,
    CAST(coalesce(c.active_count, 0) AS BIGINT) AS active_count,
    CAST(coalesce(c.enabled_count, 0) AS BIGINT) AS enabled_count,
    CAST(c.active_count AS DOUBLE) / nullif(c.linked_count, 0) AS active_share,
    CAST(c.enabled_count AS DOUBLE) / nullif(c.linked_count, 0) AS enabled_share,
    CAST(coalesce(c.linked_count - c.active_count, 0) AS BIGINT) AS inactive_count,
    CAST(r.status_details AS VARCHAR) AS top_inactive_reason,
    CAST(coalesce(r.consumer_count, 0) AS BIGINT) AS top_inactive_reason_count,
    CAST(coalesce(m.no_connection_count, 0) AS BIGINT) AS no_connection_count,
    CAST(coalesce(m.connection_failed_count, 0) AS BIGINT) AS connection_failed_count,
    CAST(coalesce(m.mapping_incomplete_count, 0) AS BIGINT) AS mapping_incomplete_count,
    CAST(coalesce(m.configuration_incomplete_count, 0) AS BIGINT)
        AS configuration_incomplete_count,
    CAST(coalesce(m.state_active_count, 0) AS BIGINT) AS state_active_count,
    CAST(coalesce(m.state_unknown_count, 0) AS BIGINT) AS state_unknown_count
FROM sync_names AS sn
LEFT JOIN step_counts AS c ON c.sync_id = sn.sync_id
LEFT JOIN state_counts AS m ON m.sync_id = sn.sync_id
LEFT JOIN top_reasons AS r ON r.sync_id = sn.sync_id
ORDER BY sn.sync_name NULLS LAST, sn.sync_id
