-- How often does each flow run, how often does it succeed, and how long does it take?
-- Grain: one row per sync and flow with executions. A run succeeded when its status is one
-- of success_statuses (status), a relation chift_frames provides (`success` unless told);
-- it failed when it finished (has an end) without succeeding.
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
runs AS (
    SELECT
        e.sync_id, e.flow_id,
        count(*) AS run_count,
        count(*) FILTER (WHERE ok.status IS NOT NULL) AS success_count,
        count(*) FILTER (WHERE e."end" IS NULL) AS running_count,
        -- one call for the three percentiles: the durations are held once, not three times
        quantile_cont(e.duration_s, [0.5, 0.9, 0.99]) AS duration_percentiles,
        max(e.start) AS last_started_at
    FROM executions AS e
    LEFT JOIN (SELECT DISTINCT status FROM success_statuses) AS ok ON ok.status = e.status
    GROUP BY e.sync_id, e.flow_id
)
SELECT
    CAST(r.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(r.flow_id AS VARCHAR) AS flow_id,
    CAST(fn.flow_name AS VARCHAR) AS flow_name,
    CAST(r.run_count AS BIGINT) AS run_count,
    CAST(r.success_count AS BIGINT) AS success_count,
    CAST(r.run_count - r.running_count - r.success_count AS BIGINT) AS failure_count,
    CAST(r.running_count AS BIGINT) AS running_count,
    CAST(r.success_count AS DOUBLE) / nullif(r.run_count - r.running_count, 0) AS success_share,
    CAST(r.duration_percentiles[1] AS DOUBLE) AS duration_p50_s,
    CAST(r.duration_percentiles[2] AS DOUBLE) AS duration_p90_s,
    CAST(r.duration_percentiles[3] AS DOUBLE) AS duration_p99_s,
    CAST(r.last_started_at AS TIMESTAMPTZ) AS last_started_at
FROM runs AS r
LEFT JOIN sync_names AS sn ON sn.sync_id = r.sync_id
LEFT JOIN flow_names AS fn ON fn.sync_id = r.sync_id AND fn.flow_id = r.flow_id
ORDER BY sn.sync_name NULLS LAST, fn.flow_name NULLS LAST, r.flow_id, r.sync_id
