-- Which flows do a consumer's active syncs offer that it has not switched on?
-- Grain: one row per (consumer, sync, flow the sync offers in sync_flows and the consumer has
-- not enabled in flows), for setups Chift counts as active: an inactive setup has every flow
-- still to come, and shows in monitoring_states instead.
WITH consumer_names AS (
    SELECT consumer_id, min(name) AS consumer_name FROM consumers GROUP BY consumer_id
)
SELECT
    CAST(cs.consumer_id AS VARCHAR) AS consumer_id,
    CAST(cn.consumer_name AS VARCHAR) AS consumer_name,
    CAST(cs.sync_id AS VARCHAR) AS sync_id,
    CAST(cs.sync_name AS VARCHAR) AS sync_name,
    CAST(sf.flow_id AS VARCHAR) AS flow_id,
    CAST(sf.name AS VARCHAR) AS flow_name,
    CAST(sf.description AS VARCHAR) AS flow_description
FROM consumer_syncs AS cs
JOIN sync_flows AS sf ON sf.sync_id = cs.sync_id
LEFT JOIN consumer_names AS cn ON cn.consumer_id = cs.consumer_id
WHERE cs.status = 'active'
    AND NOT EXISTS (
        SELECT 1 FROM flows AS f
        WHERE f.consumer_id = cs.consumer_id AND f.sync_id = cs.sync_id AND f.flow_id = sf.flow_id
    )
ORDER BY cs.sync_name NULLS LAST, cs.sync_id, cs.consumer_id, sf.name, sf.flow_id
