-- How complete is each mapping across the consumers who have it?
-- Grain: one row per sync, mapping and sub-mapping some consumer has.
WITH sync_names AS (
    SELECT sync_id, min(sync_name) AS sync_name FROM consumer_syncs GROUP BY sync_id
    UNION ALL
    SELECT s.sync_id, min(s.name) FROM syncs AS s
    WHERE NOT EXISTS (SELECT 1 FROM consumer_syncs AS cs WHERE cs.sync_id = s.sync_id)
    GROUP BY s.sync_id
),
per_consumer AS (
    -- a mapping's values and unmapped values for each consumer who has it
    SELECT
        sync_id, name AS mapping_name, sub_mapping_name, consumer_id,
        coalesce(sum(value_count), 0) AS value_count,
        coalesce(sum(unmapped_count), 0) AS unmapped_count
    FROM mappings
    GROUP BY sync_id, name, sub_mapping_name, consumer_id
),
per_mapping AS (
    SELECT
        sync_id, mapping_name, sub_mapping_name,
        count(*) AS consumer_count,
        count(*) FILTER (WHERE unmapped_count = 0) AS complete_count,
        sum(value_count) AS value_count,
        sum(value_count) - sum(unmapped_count) AS mapped_count
    FROM per_consumer
    GROUP BY sync_id, mapping_name, sub_mapping_name
)
SELECT
    CAST(m.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(m.mapping_name AS VARCHAR) AS mapping_name,
    CAST(m.sub_mapping_name AS VARCHAR) AS sub_mapping_name,
    CAST(m.consumer_count AS BIGINT) AS consumer_count,
    CAST(m.complete_count AS BIGINT) AS complete_count,
    CAST(m.complete_count AS DOUBLE) / nullif(m.consumer_count, 0) AS complete_share,
    CAST(m.value_count AS BIGINT) AS value_count,
    CAST(m.mapped_count AS BIGINT) AS mapped_count,
    CAST(m.mapped_count AS DOUBLE) / nullif(m.value_count, 0) AS mapped_share
FROM per_mapping AS m
LEFT JOIN sync_names AS sn ON sn.sync_id = m.sync_id
ORDER BY sn.sync_name NULLS LAST, m.sync_id, m.mapping_name, m.sub_mapping_name
