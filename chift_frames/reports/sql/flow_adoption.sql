-- Which flows do the consumers of each sync enable, and with which triggers?
-- Grain: one row per sync and flow that the sync offers (sync_flows) or some consumer enabled;
-- a flow nobody enabled has enabled_count 0.
WITH sync_names AS (
    SELECT sync_id, min(sync_name) AS sync_name FROM consumer_syncs GROUP BY sync_id
    UNION ALL
    SELECT s.sync_id, min(s.name) FROM syncs AS s
    WHERE NOT EXISTS (SELECT 1 FROM consumer_syncs AS cs WHERE cs.sync_id = s.sync_id)
    GROUP BY s.sync_id
),
flow_name_votes AS (
    SELECT sync_id, flow_id, name, count(DISTINCT consumer_id) AS consumer_count
    FROM flows
    GROUP BY sync_id, flow_id, name
),
voted_names AS (
    -- the name most consumers show for the flow (the first A-Z on a tie)
    SELECT sync_id, flow_id, name AS flow_name
    FROM flow_name_votes
    QUALIFY row_number() OVER (
        PARTITION BY sync_id, flow_id ORDER BY consumer_count DESC, name
    ) = 1
),
offered AS (
    SELECT sync_id, flow_id, min(name) AS flow_name FROM sync_flows GROUP BY sync_id, flow_id
),
flow_names AS (
    -- the sync's own name for the flow, else the name most consumers show
    SELECT sync_id, flow_id, coalesce(o.flow_name, v.flow_name) AS flow_name
    FROM offered AS o
    FULL JOIN voted_names AS v USING (sync_id, flow_id)
),
linked AS (
    SELECT sync_id, count(DISTINCT consumer_id) AS linked_count
    FROM consumer_syncs
    GROUP BY sync_id
),
enabled AS (
    SELECT
        sync_id, flow_id,
        count(DISTINCT consumer_id) AS enabled_count,
        count(DISTINCT consumer_id) FILTER (WHERE trigger_type = 'timer') AS timer_count,
        count(DISTINCT consumer_id) FILTER (WHERE trigger_type = 'event') AS event_count
    FROM flows
    GROUP BY sync_id, flow_id
)
SELECT
    CAST(fn.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(fn.flow_id AS VARCHAR) AS flow_id,
    CAST(fn.flow_name AS VARCHAR) AS flow_name,
    CAST(coalesce(l.linked_count, 0) AS BIGINT) AS linked_count,
    CAST(coalesce(e.enabled_count, 0) AS BIGINT) AS enabled_count,
    CAST(coalesce(e.enabled_count, 0) AS DOUBLE) / nullif(coalesce(l.linked_count, 0), 0)
        AS enabled_share,
    CAST(coalesce(e.timer_count, 0) AS BIGINT) AS timer_count,
    CAST(coalesce(e.event_count, 0) AS BIGINT) AS event_count
FROM flow_names AS fn
LEFT JOIN enabled AS e ON e.sync_id = fn.sync_id AND e.flow_id = fn.flow_id
LEFT JOIN linked AS l ON l.sync_id = fn.sync_id
LEFT JOIN sync_names AS sn ON sn.sync_id = fn.sync_id
ORDER BY sn.sync_name NULLS LAST, fn.sync_id, fn.flow_name NULLS LAST, fn.flow_id
