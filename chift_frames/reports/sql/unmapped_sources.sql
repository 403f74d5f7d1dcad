-- Which source values do consumers leave unmapped most often?
-- Grain: one row per sync, mapping, sub-mapping and source id left unmapped by at least one
-- consumer. Values without a source_id are left out; hidden values are kept. source_label is
-- the label the sync's definition gives the value, if any.
WITH sync_names AS (
    SELECT sync_id, min(sync_name) AS sync_name FROM consumer_syncs GROUP BY sync_id
    UNION ALL
    SELECT s.sync_id, min(s.name) FROM syncs AS s
    WHERE NOT EXISTS (SELECT 1 FROM consumer_syncs AS cs WHERE cs.sync_id = s.sync_id)
    GROUP BY s.sync_id
),
value_labels AS (
    -- what the sync's definition calls each value: a consumer's mapping joins its definition
    -- on (sync_id, name, sub_mapping_name), then the labels on side and value_id
    SELECT
        sm.sync_id, sm.name AS mapping_name, sm.sub_mapping_name, l.side, l.value_id,
        min(l.label) AS label
    FROM sync_mappings AS sm
    JOIN sync_mapping_labels AS l
        ON l.sync_id = sm.sync_id AND l.mapping_index = sm.mapping_index
        AND l.sub_mapping_index = sm.sub_mapping_index
    GROUP BY sm.sync_id, sm.name, sm.sub_mapping_name, l.side, l.value_id
),
sourced AS NOT MATERIALIZED (
    -- read again by each step below: faster than keeping it (at 200,000 pairs too)
    SELECT
        sync_id, mapping_name, sub_mapping_name, source_id, consumer_id, is_mapped,
        source_repeats
    FROM mapping_values
    WHERE source_id IS NOT NULL
),
per_consumer AS (
    -- whether each consumer left the source unmapped in any of its values: nearly every
    -- consumer gives a source one value, which says it all; only those who give it several
    -- (source_repeats, or null in snapshots saved before that column) are grouped
    SELECT
        sync_id, mapping_name, sub_mapping_name, source_id, consumer_id,
        NOT is_mapped AS is_unmapped
    FROM sourced
    WHERE source_repeats IS FALSE
    UNION ALL
    SELECT
        sync_id, mapping_name, sub_mapping_name, source_id, consumer_id,
        bool_or(NOT is_mapped) AS is_unmapped
    FROM sourced
    WHERE source_repeats IS NOT FALSE
    GROUP BY sync_id, mapping_name, sub_mapping_name, source_id, consumer_id
),
per_source AS (
    SELECT
        sync_id, mapping_name, sub_mapping_name, source_id,
        count(*) AS consumer_count,
        count(*) FILTER (WHERE is_unmapped) AS unmapped_consumer_count
    FROM per_consumer
    GROUP BY sync_id, mapping_name, sub_mapping_name, source_id
)
SELECT
    CAST(p.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(p.mapping_name AS VARCHAR) AS mapping_name,
    CAST(p.sub_mapping_name AS VARCHAR) AS sub_mapping_name,
    CAST(p.source_id AS VARCHAR) AS source_id,
    CAST(sl.label AS VARCHAR) AS source_label,
    CAST(p.unmapped_consumer_count AS BIGINT) AS unmapped_consumer_count,
    CAST(p.consumer_count AS BIGINT) AS consumer_count,
    CAST(p.unmapped_consumer_count AS DOUBLE) / nullif(p.consumer_count, 0) AS unmapped_share
FROM per_source AS p
LEFT JOIN sync_names AS sn ON sn.sync_id = p.sync_id
LEFT JOIN value_labels AS sl
    ON sl.sync_id = p.sync_id AND sl.mapping_name = p.mapping_name
    AND sl.sub_mapping_name = p.sub_mapping_name AND sl.side = 'source'
    AND sl.value_id = p.source_id
WHERE p.unmapped_consumer_count > 0
ORDER BY
    p.unmapped_consumer_count DESC, unmapped_share DESC, sn.sync_name NULLS LAST, p.sync_id,
    p.mapping_name, p.sub_mapping_name, p.source_id
