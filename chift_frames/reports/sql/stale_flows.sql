-- Which consumers' enabled flows have not succeeded within the window?
-- Grain: one row per enabled flow (flows) whose last successful execution started more than
-- window_us microseconds before the reference time, or that has none; longest first.
-- The reference time is now, else the latest fetched_at of the snapshot, else the latest
-- execution start; with none of them, only flows that never succeeded are listed. now and
-- window_us are the one row of report_parameters, and a success is a status of
-- success_statuses (status): relations chift_frames provides.
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
reference AS (
    SELECT
        coalesce(
            CAST(p.now AS TIMESTAMPTZ),
            (SELECT max(fetched_at) FROM consumer_syncs),
            (SELECT max(start) FROM executions)
        ) AS now,
        CAST(p.window_us AS BIGINT) AS window_us
    FROM report_parameters AS p
),
consumer_codes AS MATERIALIZED (
    -- each consumer and each flow of the enabled flows a number (by the ids, so an engine
    -- that reads these twice numbers them the same), so that the executions are matched to
    -- their flows and grouped by two numbers rather than three ids
    SELECT consumer_id, dense_rank() OVER (ORDER BY consumer_id) AS consumer_code
    FROM (SELECT DISTINCT consumer_id FROM flows)
),
flow_codes AS MATERIALIZED (
    SELECT sync_id, flow_id, dense_rank() OVER (ORDER BY sync_id, flow_id) AS flow_code
    FROM (SELECT DISTINCT sync_id, flow_id FROM flows)
),
enabled AS (
    SELECT f.*, c.consumer_code, fc.flow_code
    FROM flows AS f
    LEFT JOIN consumer_codes AS c ON c.consumer_id = f.consumer_id
    LEFT JOIN flow_codes AS fc ON fc.sync_id = f.sync_id AND fc.flow_id = f.flow_id
),
last_successes AS (
    -- each enabled flow's latest success
    SELECT c.consumer_code, fc.flow_code, max(e.start) AS last_success_at
    FROM executions AS e
    JOIN consumer_codes AS c ON c.consumer_id = e.consumer_id
    JOIN flow_codes AS fc ON fc.sync_id = e.sync_id AND fc.flow_id = e.flow_id
    WHERE e.status IN (SELECT status FROM success_statuses)
    GROUP BY c.consumer_code, fc.flow_code
),
checked AS (
    SELECT
        f.consumer_id, f.sync_id, f.flow_id, f.name AS flow_name, f.trigger_type,
        f.enabled_on, s.last_success_at,
        (epoch_us(r.now) - epoch_us(s.last_success_at)) / 1e6 / 3600 AS hours_since_success
    FROM enabled AS f
    CROSS JOIN reference AS r
    LEFT JOIN last_successes AS s
        ON s.consumer_code = f.consumer_code AND s.flow_code = f.flow_code
    WHERE s.last_success_at IS NULL
        OR epoch_us(s.last_success_at) < epoch_us(r.now) - r.window_us
)
SELECT
    CAST(c.consumer_id AS VARCHAR) AS consumer_id,
    CAST(cn.consumer_name AS VARCHAR) AS consumer_name,
    CAST(c.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(c.flow_id AS VARCHAR) AS flow_id,
    CAST(c.flow_name AS VARCHAR) AS flow_name,
    CAST(c.trigger_type AS VARCHAR) AS trigger_type,
    CAST(c.enabled_on AS TIMESTAMPTZ) AS enabled_on,
    CAST(c.last_success_at AS TIMESTAMPTZ) AS last_success_at,
    CAST(c.hours_since_success AS DOUBLE) AS hours_since_success
FROM checked AS c
LEFT JOIN consumer_names AS cn ON cn.consumer_id = c.consumer_id
LEFT JOIN sync_names AS sn ON sn.sync_id = c.sync_id
ORDER BY c.hours_since_success DESC NULLS FIRST, c.consumer_id, c.flow_id, c.sync_id
