-- Which datastore columns do the consumers' flows define, and do their types agree?
-- Grain: one row per sync, flow, datastore name and column name.
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
type_votes AS (
    SELECT
        sync_id, flow_id, datastore_name, name AS column_name, type,
        count(DISTINCT consumer_id) AS consumer_count
    FROM datastore_columns
    GROUP BY sync_id, flow_id, datastore_name, name, type
),
common_types AS (
    -- the type most consumers use (the first A-Z on a tie)
    SELECT sync_id, flow_id, datastore_name, column_name, type AS common_type
    FROM type_votes
    QUALIFY row_number() OVER (
        PARTITION BY sync_id, flow_id, datastore_name, column_name
        ORDER BY consumer_count DESC, type
    ) = 1
),
column_types AS (
    -- the types each column has, from the votes: a few rows per column
    SELECT
        sync_id, flow_id, datastore_name, column_name,
        list_sort(list(type)) AS types, count(*) AS type_count
    FROM type_votes
    GROUP BY sync_id, flow_id, datastore_name, column_name
),
columns_seen AS (
    SELECT
        sync_id, flow_id, datastore_name, name AS column_name,
        count(DISTINCT consumer_id) AS consumer_count, min(column_index) AS position
    FROM datastore_columns
    GROUP BY sync_id, flow_id, datastore_name, name
),
outliers AS (
    -- the consumers who give a column another type than most: only they are grouped
    SELECT
        c.sync_id, c.flow_id, c.datastore_name, c.name AS column_name,
        list_sort(list(DISTINCT c.consumer_id)) AS outlier_consumer_ids
    FROM datastore_columns AS c
    JOIN common_types AS t
        ON t.sync_id = c.sync_id AND t.flow_id = c.flow_id
        AND t.datastore_name = c.datastore_name AND t.column_name = c.name
    WHERE c.type <> t.common_type
    GROUP BY c.sync_id, c.flow_id, c.datastore_name, c.name
)
SELECT
    CAST(s.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(s.flow_id AS VARCHAR) AS flow_id,
    CAST(fn.flow_name AS VARCHAR) AS flow_name,
    CAST(s.datastore_name AS VARCHAR) AS datastore_name,
    CAST(s.column_name AS VARCHAR) AS column_name,
    CAST(s.consumer_count AS BIGINT) AS consumer_count,
    CAST(ty.types AS VARCHAR[]) AS types,
    CAST(ty.type_count AS BIGINT) AS type_count,
    CAST(t.common_type AS VARCHAR) AS common_type,
    CAST(ty.type_count > 1 AS BOOLEAN) AS type_disagrees,
    CAST(array_length(coalesce(o.outlier_consumer_ids, [])) AS BIGINT) AS outlier_count,
    CAST(coalesce(o.outlier_consumer_ids, []) AS VARCHAR[]) AS outlier_consumer_ids
FROM columns_seen AS s
JOIN common_types AS t
    ON t.sync_id = s.sync_id AND t.flow_id = s.flow_id
    AND t.datastore_name = s.datastore_name AND t.column_name = s.column_name
JOIN column_types AS ty
    ON ty.sync_id = s.sync_id AND ty.flow_id = s.flow_id
    AND ty.datastore_name = s.datastore_name AND ty.column_name = s.column_name
LEFT JOIN outliers AS o
    ON o.sync_id = s.sync_id AND o.flow_id = s.flow_id
    AND o.datastore_name = s.datastore_name AND o.column_name = s.column_name
LEFT JOIN flow_names AS fn ON fn.sync_id = s.sync_id AND fn.flow_id = s.flow_id
LEFT JOIN sync_names AS sn ON sn.sync_id = s.sync_id
ORDER BY
    sn.sync_name NULLS LAST, s.sync_id, fn.flow_name NULLS LAST, s.flow_id, s.datastore_name,
    s.position
