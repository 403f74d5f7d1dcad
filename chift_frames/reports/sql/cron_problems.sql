-- Which timer flows have a cron schedule that cannot be read, and for whom?
-- Grain: one row per sync, flow and cron schedule that does not parse (a timer without a
-- schedule included, its cronschedule null).
-- cron_messages (cronschedule, message) is computed outside SQL: chift_frames reads each
-- distinct cron string of the timer flows with cronsim; only those that fail have a row.
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
flow_names AS (
    -- the name most consumers show for the flow (the first A-Z on a tie)
    SELECT sync_id, flow_id, name AS flow_name
    FROM flow_name_votes
    QUALIFY row_number() OVER (
        PARTITION BY sync_id, flow_id ORDER BY consumer_count DESC, name
    ) = 1
),
bad_timers AS (
    SELECT f.sync_id, f.flow_id, f.cronschedule, f.consumer_id, m.message
    FROM flows AS f
    JOIN cron_messages AS m ON m.cronschedule IS NOT DISTINCT FROM f.cronschedule
    WHERE f.trigger_type = 'timer'
),
problems AS (
    SELECT
        sync_id, flow_id, cronschedule,
        min(message) AS message,
        count(DISTINCT consumer_id) AS consumer_count,
        list_sort(list(DISTINCT consumer_id)) AS consumer_ids
    FROM bad_timers
    GROUP BY sync_id, flow_id, cronschedule
)
SELECT
    CAST(p.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(p.flow_id AS VARCHAR) AS flow_id,
    CAST(fn.flow_name AS VARCHAR) AS flow_name,
    CAST(p.cronschedule AS VARCHAR) AS cronschedule,
    CAST(p.message AS VARCHAR) AS message,
    CAST(p.consumer_count AS BIGINT) AS consumer_count,
    CAST(p.consumer_ids AS VARCHAR[]) AS consumer_ids
FROM problems AS p
LEFT JOIN flow_names AS fn ON fn.sync_id = p.sync_id AND fn.flow_id = p.flow_id
LEFT JOIN sync_names AS sn ON sn.sync_id = p.sync_id
ORDER BY
    sn.sync_name NULLS LAST, p.sync_id, fn.flow_name NULLS LAST, p.flow_id,
    p.cronschedule NULLS LAST
