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
        max(e.start) AS last_started_at
    FROM executions AS e
    LEFT JOIN (SELECT DISTINCT status FROM success_statuses) AS ok ON ok.status = e.status
    GROUP BY e.sync_id, e.flow_id
),
-- The percentiles of the durations, exact, as quantile_cont defines them (the values at
-- places floor and ceil of (n - 1) * p, in order, interpolated), from each flow's count of
-- each duration: a few hundred rows a flow when durations are whole seconds, and a grouping
-- that spills when they are not. quantile_cont held every duration of a flow in memory at
-- once, which does not spill: an hourly timer's flow has millions.
duration_counts AS (
    SELECT sync_id, flow_id, duration_s, count(*) AS run_count
    FROM executions
    WHERE duration_s IS NOT NULL
    GROUP BY sync_id, flow_id, duration_s
),
cumulative AS (
    -- runs up to each duration, and each flow's last place ((n - 1), n runs with a duration)
    SELECT
        sync_id, flow_id, duration_s,
        sum(run_count) OVER (PARTITION BY sync_id, flow_id ORDER BY duration_s) AS runs_upto,
        sum(run_count) OVER (PARTITION BY sync_id, flow_id) - 1 AS last_place
    FROM duration_counts
),
places AS (
    SELECT
        sync_id, flow_id, duration_s, runs_upto,
        last_place * CAST(0.5 AS DOUBLE) AS p50,
        last_place * CAST(0.9 AS DOUBLE) AS p90,
        last_place * CAST(0.99 AS DOUBLE) AS p99
    FROM cumulative
),
neighbours AS (
    -- the value at place k is the smallest duration with more than k runs up to it
    SELECT
        sync_id, flow_id, p50, p90, p99,
        min(duration_s) FILTER (WHERE runs_upto > floor(p50)) AS p50_low,
        min(duration_s) FILTER (WHERE runs_upto > ceil(p50)) AS p50_high,
        min(duration_s) FILTER (WHERE runs_upto > floor(p90)) AS p90_low,
        min(duration_s) FILTER (WHERE runs_upto > ceil(p90)) AS p90_high,
        min(duration_s) FILTER (WHERE runs_upto > floor(p99)) AS p99_low,
        min(duration_s) FILTER (WHERE runs_upto > ceil(p99)) AS p99_high
    FROM places
    GROUP BY sync_id, flow_id, p50, p90, p99
),
durations AS (
    SELECT
        sync_id, flow_id,
        p50_low + (p50_high - p50_low) * (p50 - floor(p50)) AS duration_p50_s,
        p90_low + (p90_high - p90_low) * (p90 - floor(p90)) AS duration_p90_s,
        p99_low + (p99_high - p99_low) * (p99 - floor(p99)) AS duration_p99_s
    FROM neighbours
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
    CAST(d.duration_p50_s AS DOUBLE) AS duration_p50_s,
    CAST(d.duration_p90_s AS DOUBLE) AS duration_p90_s,
    CAST(d.duration_p99_s AS DOUBLE) AS duration_p99_s,
    CAST(r.last_started_at AS TIMESTAMPTZ) AS last_started_at
FROM runs AS r
LEFT JOIN durations AS d ON d.sync_id = r.sync_id AND d.flow_id = r.flow_id
LEFT JOIN sync_names AS sn ON sn.sync_id = r.sync_id
LEFT JOIN flow_names AS fn ON fn.sync_id = r.sync_id AND fn.flow_id = r.flow_id
ORDER BY sn.sync_name NULLS LAST, fn.flow_name NULLS LAST, r.flow_id, r.sync_id
