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
        count(DISTINCT consumer_id) AS consumer_count, min(column_index) AS position
    FROM datastore_columns
    GROUP BY sync_id, flow_id, datastore_name, name, type
),
common_types AS (
    -- the type most consumers use (the first A-Z on a tie)
    SELECT sync_id, flow_id, datastore_name, column_name, type AS common_type,
        consumer_count AS common_count
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
        list_sort(list(type)) AS types, count(*) AS type_count, min(position) AS position
    FROM type_votes
    GROUP BY sync_id, flow_id, datastore_name, column_name
),
others AS (
    -- the consumers who give a column a type other than the common one (a null type too):
    -- only they are grouped; an outlier gives it another type that is not null
    SELECT
        c.sync_id, c.flow_id, c.datastore_name, c.name AS column_name, c.consumer_id,
        any_value(t.common_type) AS common_type,
        coalesce(bool_or(c.type <> t.common_type), false) AS is_outlier
    FROM datastore_columns AS c
    JOIN common_types AS t
        ON t.sync_id = c.sync_id AND t.flow_id = c.flow_id
        AND t.datastore_name = c.datastore_name AND t.column_name = c.name
    WHERE c.type IS DISTINCT FROM t.common_type
    GROUP BY c.sync_id, c.flow_id, c.datastore_name, c.name, c.consumer_id
),
others_giving_common AS (
    -- which of them give the common type as well (they count once among its votes)
    SELECT DISTINCT o.sync_id, o.flow_id, o.datastore_name, o.column_name, o.consumer_id
    FROM others AS o
    JOIN datastore_columns AS c
        ON c.sync_id = o.sync_id AND c.flow_id = o.flow_id
        AND c.datastore_name = o.datastore_name AND c.name = o.column_name
        AND c.consumer_id = o.consumer_id AND c.type IS NOT DISTINCT FROM o.common_type
),
outliers AS (
    SELECT
        o.sync_id, o.flow_id, o.datastore_name, o.column_name,
        list_sort(list(o.consumer_id) FILTER (WHERE o.is_outlier)) AS outlier_consumer_ids,
        count(*) FILTER (WHERE g.consumer_id IS NULL) AS only_other
    FROM others AS o
    LEFT JOIN others_giving_common AS g
        ON g.sync_id = o.sync_id AND g.flow_id = o.flow_id
        AND g.datastore_name = o.datastore_name AND g.column_name = o.column_name
        AND g.consumer_id = o.consumer_id
    GROUP BY o.sync_id, o.flow_id, o.datastore_name, o.column_name
)
SELECT
    CAST(ty.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(ty.flow_id AS VARCHAR) AS flow_id,
    CAST(fn.flow_name AS VARCHAR) AS flow_name,
    CAST(ty.datastore_name AS VARCHAR) AS datastore_name,
    CAST(ty.column_name AS VARCHAR) AS column_name,
    -- those who give the common type, and those who give only others
    CAST(t.common_count + coalesce(o.only_other, 0) AS BIGINT) AS consumer_count,
    CAST(ty.types AS VARCHAR[]) AS types,
    CAST(ty.type_count AS BIGINT) AS type_count,
    CAST(t.common_type AS VARCHAR) AS common_type,
    CAST(ty.type_count > 1 AS BOOLEAN) AS type_disagrees,
    CAST(array_length(coalesce(o.outlier_consumer_ids, [])) AS BIGINT) AS outlier_count,
    CAST(coalesce(o.outlier_consumer_ids, []) AS VARCHAR[]) AS outlier_consumer_ids
FROM column_types AS ty
JOIN common_types AS t
    ON t.sync_id = ty.sync_id AND t.flow_id = ty.flow_id
    AND t.datastore_name = ty.datastore_name AND t.column_name = ty.column_name
LEFT JOIN outliers AS o
    ON o.sync_id = ty.sync_id AND o.flow_id = ty.flow_id
    AND o.datastore_name = ty.datastore_name AND o.column_name = ty.column_name
LEFT JOIN flow_names AS fn ON fn.sync_id = ty.sync_id AND fn.flow_id = ty.flow_id
LEFT JOIN sync_names AS sn ON sn.sync_id = ty.sync_id
ORDER BY
    sn.sync_name NULLS LAST, ty.sync_id, fn.flow_name NULLS LAST, ty.flow_id, ty.datastore_name,
    ty.position, ty.column_name
