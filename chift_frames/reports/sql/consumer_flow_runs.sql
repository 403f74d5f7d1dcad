-- For each consumer and flow: how many runs, how many succeeded, and when was the last success?
-- Grain: one row per consumer, sync and flow with executions; lowest success rate first.
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
consumer_names AS (
    SELECT consumer_id, min(name) AS consumer_name FROM consumers GROUP BY consumer_id
),
consumer_codes AS MATERIALIZED (
    -- each consumer and each flow of the executions a number (by the ids, so an engine that
    -- reads these twice numbers them the same): the executions are grouped by two numbers
    -- rather than three ids, whose groups spill far less (at 200,000 pairs too)
    SELECT consumer_id, dense_rank() OVER (ORDER BY consumer_id) AS consumer_code
    FROM (SELECT DISTINCT consumer_id FROM executions)
),
flow_codes AS MATERIALIZED (
    SELECT sync_id, flow_id, dense_rank() OVER (ORDER BY sync_id, flow_id) AS flow_code
    FROM (SELECT DISTINCT sync_id, flow_id FROM executions)
),
coded_runs AS (
    -- a run succeeded when its status is one of success_statuses (status), a relation
    -- chift_frames provides (`success` unless told)
    SELECT
        c.consumer_code, f.flow_code,
        count(*) AS run_count,
        count(*) FILTER (WHERE ok.status IS NOT NULL) AS success_count,
        count(*) FILTER (WHERE e."end" IS NULL) AS running_count,
        max(e.start) AS last_started_at,
        max(e.start) FILTER (WHERE ok.status IS NOT NULL) AS last_success_at
    FROM executions AS e
    JOIN consumer_codes AS c ON c.consumer_id IS NOT DISTINCT FROM e.consumer_id
    JOIN flow_codes AS f
        ON f.sync_id IS NOT DISTINCT FROM e.sync_id AND f.flow_id IS NOT DISTINCT FROM e.flow_id
    LEFT JOIN (SELECT DISTINCT status FROM success_statuses) AS ok ON ok.status = e.status
    GROUP BY c.consumer_code, f.flow_code
),
runs AS (
    SELECT
        c.consumer_id, f.sync_id, f.flow_id, r.run_count, r.success_count, r.running_count,
        r.last_started_at, r.last_success_at
    FROM coded_runs AS r
    JOIN consumer_codes AS c USING (consumer_code)
    JOIN flow_codes AS f USING (flow_code)
)
SELECT
    CAST(r.consumer_id AS VARCHAR) AS consumer_id,
    CAST(cn.consumer_name AS VARCHAR) AS consumer_name,
    CAST(r.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(r.flow_id AS VARCHAR) AS flow_id,
    CAST(fn.flow_name AS VARCHAR) AS flow_name,
    CAST(r.run_count AS BIGINT) AS run_count,
    CAST(r.success_count AS BIGINT) AS success_count,
    CAST(r.run_count - r.running_count - r.success_count AS BIGINT) AS failure_count,
    CAST(r.running_count AS BIGINT) AS running_count,
    CAST(r.success_count AS DOUBLE) / nullif(r.run_count - r.running_count, 0) AS success_share,
    CAST(r.last_started_at AS TIMESTAMPTZ) AS last_started_at,
    CAST(r.last_success_at AS TIMESTAMPTZ) AS last_success_at
FROM runs AS r
LEFT JOIN consumer_names AS cn ON cn.consumer_id = r.consumer_id
LEFT JOIN sync_names AS sn ON sn.sync_id = r.sync_id
LEFT JOIN flow_names AS fn ON fn.sync_id = r.sync_id AND fn.flow_id = r.flow_id
ORDER BY success_share NULLS LAST, r.consumer_id, r.sync_id, r.flow_id
