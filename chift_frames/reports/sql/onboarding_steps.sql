-- Which consumers reached each step of a sync's onboarding?
-- Grain: one row per sync, step and consumer.
-- Steps: 0 linked (a consumer_syncs row), 1 active (status = 'active'), 2 enabled (active, with
-- at least one enabled flow). Each step keeps only consumers of the step before.
WITH sync_names AS (
    -- the name the consumer-sync responses give; the syncs table adds syncs nobody links
    SELECT sync_id, min(sync_name) AS sync_name FROM consumer_syncs GROUP BY sync_id
    UNION ALL
    SELECT s.sync_id, min(s.name) FROM syncs AS s
    WHERE NOT EXISTS (SELECT 1 FROM consumer_syncs AS cs WHERE cs.sync_id = s.sync_id)
    GROUP BY s.sync_id
),
consumer_names AS (
    SELECT consumer_id, min(name) AS consumer_name FROM consumers GROUP BY consumer_id
),
steps AS (
    SELECT sync_id, 0 AS step_index, 'linked' AS step, consumer_id FROM consumer_syncs
    UNION
    SELECT sync_id, 1, 'active', consumer_id FROM consumer_syncs WHERE status = 'active'
    UNION
    SELECT sync_id, 2, 'enabled', consumer_id FROM consumer_syncs
    WHERE status = 'active' AND enabled_flow_count > 0
)
SELECT
    CAST(st.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(st.step_index AS BIGINT) AS step_index,
    CAST(st.step AS VARCHAR) AS step,
    CAST(st.consumer_id AS VARCHAR) AS consumer_id,
    CAST(cn.consumer_name AS VARCHAR) AS consumer_name
FROM steps AS st
LEFT JOIN sync_names AS sn ON sn.sync_id = st.sync_id
LEFT JOIN consumer_names AS cn ON cn.consumer_id = st.consumer_id
ORDER BY sn.sync_name NULLS LAST, st.sync_id, st.step_index, st.consumer_id
