-- Which state is each setup in, as Chift's back office sorts them?
-- Grain: one row per consumer's setup of a sync (a consumer_syncs row).
--
-- The rule, first match wins (Chift's monitoring guide: a consumer is active with at least one
-- active connection, a sync is active once its configuration is complete; its POS sync
-- troubleshooting page: a sync runs only when every tool it needs is connected and every
-- mapping is complete):
--   1. no connection             an API the sync requires has no connection of the consumer
--   2. connection failed         no connection of a required API is active with its local
--                                agent up (a connection without an agent counts as up)
--   3. mapping incomplete        a mapping value that is not hidden has no target
--   4. configuration incomplete  Chift's status of the setup is not `active`
--   5. active
-- The APIs a sync requires are its `sync_connections`, by `one_api` number. Chift does not
-- document which API each number is: the small relation one_apis (one_api, api), which
-- chift_frames registers from the caller's mapping (empty unless given), says it. For a
-- number one_apis does not name, every connection of the consumer counts for it (the
-- fallback), and `note` says so. `chift-frames report DIR --sql monitoring_states
-- [--one-api 1=Accounting]` prints this query with one_apis as a CTE of literals first.
-- Where the data cannot decide, the state is null or the note says why, never a guess:
--   - a consumer whose connections could not be fetched (a fetch_errors row for its
--     connections endpoint), a snapshot without any connection (fetched without them) and a
--     sync with no sync_connections rows leave rules 1 and 2 untried: the state is null (an
--     open mapping still shows in open_value_count);
--   - Chift's own state (from `status` and `status_details`) stands beside the derived one,
--     and the note says where they disagree.
WITH required AS (            -- the APIs each sync requires, by name where one_apis knows it
    SELECT sc.sync_id, sc.one_api, oa.api
    FROM sync_connections AS sc
    LEFT JOIN one_apis AS oa ON oa.one_api = sc.one_api
    WHERE sc.one_api IS NOT NULL
),
connections_known AS (        -- whether the snapshot holds connections at all
    SELECT count(*) > 0 AS known FROM connections
),
connections_failed AS (       -- consumers whose connections could not be fetched
    SELECT DISTINCT consumer_id
    FROM fetch_errors
    WHERE consumer_id IS NOT NULL AND sync_id IS NULL AND endpoint LIKE '%/connections'
),
requirement_status AS (       -- for each pair and required API: a connection? a working one?
    SELECT
        cs.consumer_id, cs.sync_id, r.one_api, r.api,
        count(c.connection_id) AS connection_count,
        count(c.connection_id) FILTER (
            WHERE c.status = 'active' AND coalesce(c.agent_status, 'up') = 'up'
        ) AS working_count
    FROM consumer_syncs AS cs
    JOIN required AS r ON r.sync_id = cs.sync_id
    LEFT JOIN connections AS c
        ON c.consumer_id = cs.consumer_id AND (r.api IS NULL OR c.api = r.api)
    GROUP BY cs.consumer_id, cs.sync_id, r.one_api, r.api
),
pair_connections AS (
    SELECT
        consumer_id, sync_id,
        bool_or(connection_count = 0) AS missing_connection,
        bool_or(working_count = 0) AS failed_connection,
        list_sort(list(DISTINCT one_api) FILTER (WHERE api IS NULL)) AS unknown_one_apis,
        list(DISTINCT coalesce(api, 'one_api ' || one_api))
            FILTER (WHERE connection_count = 0) AS missing_apis,
        list(DISTINCT coalesce(api, 'one_api ' || one_api))
            FILTER (WHERE connection_count > 0 AND working_count = 0) AS failed_apis
    FROM requirement_status
    GROUP BY consumer_id, sync_id
),
open_values AS (              -- values a consumer still has to map
    SELECT consumer_id, sync_id, count(*) AS open_value_count
    FROM mapping_values
    WHERE NOT is_mapped AND NOT is_hidden
    GROUP BY consumer_id, sync_id
),
states AS (
    SELECT
        cs.consumer_id, cs.sync_id, cs.sync_name, cs.status, cs.status_details,
        pc.sync_id IS NOT NULL AND k.known AND cf.consumer_id IS NULL AS connections_checked,
        cf.consumer_id IS NOT NULL AS connections_unknown,
        pc.unknown_one_apis,
        pc.missing_apis,
        pc.failed_apis,
        coalesce(ov.open_value_count, 0) AS open_value_count,
        CASE
            -- without the connections, the first two rules cannot be tried: no state
            WHEN cf.consumer_id IS NOT NULL OR pc.sync_id IS NULL OR NOT k.known THEN NULL
            WHEN pc.missing_connection THEN 'no connection'
            WHEN pc.failed_connection THEN 'connection failed'
            WHEN coalesce(ov.open_value_count, 0) > 0 THEN 'mapping incomplete'
            WHEN cs.status IS DISTINCT FROM 'active' THEN 'configuration incomplete'
            ELSE 'active'
        END AS state,
        CASE
            WHEN cs.status = 'active' THEN 'active'
            WHEN lower(cs.status_details) IN (
                'no connection', 'connection failed', 'mapping incomplete',
                'configuration incomplete'
            ) THEN lower(cs.status_details)
        END AS chift_state
    FROM consumer_syncs AS cs
    CROSS JOIN connections_known AS k
    LEFT JOIN pair_connections AS pc ON pc.consumer_id = cs.consumer_id AND pc.sync_id = cs.sync_id
    LEFT JOIN open_values AS ov ON ov.consumer_id = cs.consumer_id AND ov.sync_id = cs.sync_id
    LEFT JOIN connections_failed AS cf ON cf.consumer_id = cs.consumer_id
),
named_consumers AS (
    SELECT consumer_id, min(name) AS consumer_name FROM consumers GROUP BY consumer_id
)
SELECT
    CAST(s.consumer_id AS VARCHAR) AS consumer_id,
    CAST(cn.consumer_name AS VARCHAR) AS consumer_name,
    CAST(s.sync_id AS VARCHAR) AS sync_id,
    CAST(s.sync_name AS VARCHAR) AS sync_name,
    CAST(s.state AS VARCHAR) AS state,
    CAST(s.chift_state AS VARCHAR) AS chift_state,
    CAST(s.status AS VARCHAR) AS status,
    CAST(s.status_details AS VARCHAR) AS status_details,
    CAST(CASE WHEN s.connections_checked THEN list_sort(coalesce(s.missing_apis, [])) ELSE [] END
        AS VARCHAR[]) AS missing_apis,
    CAST(CASE WHEN s.connections_checked THEN list_sort(coalesce(s.failed_apis, [])) ELSE [] END
        AS VARCHAR[]) AS failed_apis,
    CAST(s.open_value_count AS BIGINT) AS open_value_count,
    CAST(nullif(concat_ws('; ',
        CASE WHEN s.connections_unknown THEN
            'the consumer''s connections could not be fetched (see fetch_errors): no state' END,
        CASE WHEN NOT s.connections_unknown AND NOT s.connections_checked THEN
            'the snapshot lists no connection the sync requires, or no connection at all: '
            || 'connections not checked, no state' END,
        CASE WHEN s.connections_checked AND array_length(s.unknown_one_apis) > 0 THEN
            'one_apis does not say which API one_api '
            || array_to_string(s.unknown_one_apis, ', ')
            || ' is: every connection of the consumer counted for it' END,
        CASE WHEN s.status IS DISTINCT FROM 'active' AND s.chift_state IS NULL THEN
            'Chift gives no known reason for the inactive status' END,
        CASE WHEN s.state <> s.chift_state AND s.status = 'active' THEN
            'Chift says active, but the setup cannot run: ' || s.state END,
        CASE WHEN s.state <> s.chift_state AND s.status <> 'active' THEN
            'Chift says ' || s.chift_state || ', the data says ' || s.state END
    ), '') AS VARCHAR) AS note
FROM states AS s
LEFT JOIN named_consumers AS cn ON cn.consumer_id = s.consumer_id
ORDER BY s.sync_name NULLS LAST, s.sync_id, s.consumer_id
