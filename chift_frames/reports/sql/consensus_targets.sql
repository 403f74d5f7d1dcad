-- Which target do most consumers map each source to, and who maps it elsewhere?
-- Grain: one row per sync, mapping, sub-mapping and source id some consumer mapped.
-- A consumer counts once per source: its most frequent target (first A-Z on a tie).
-- source_label and consensus_target_label: the labels the sync's definition gives, if any.
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
mapped AS NOT MATERIALIZED (
    -- read again by each step below: faster than keeping it (at 200,000 pairs too)
    SELECT
        sync_id, mapping_name, sub_mapping_name, source_id, consumer_id, target_id,
        source_repeats
    FROM mapping_values
    WHERE is_mapped AND source_id IS NOT NULL AND target_id IS NOT NULL
),
repeated_uses AS (
    -- how often the consumers who give a source several values (source_repeats, or null in
    -- snapshots saved before that column) use each target
    SELECT
        sync_id, mapping_name, sub_mapping_name, source_id, consumer_id, target_id,
        count(*) AS value_count
    FROM mapped
    WHERE source_repeats IS NOT FALSE
    GROUP BY sync_id, mapping_name, sub_mapping_name, source_id, consumer_id, target_id
),
consumer_choices AS NOT MATERIALIZED (
    -- the one target that stands for each consumer: nearly every consumer gives a source
    -- one value, and that value is its choice; else its most frequent (first A-Z on a tie)
    SELECT sync_id, mapping_name, sub_mapping_name, source_id, consumer_id, target_id
    FROM mapped
    WHERE source_repeats IS FALSE
    UNION ALL
    SELECT sync_id, mapping_name, sub_mapping_name, source_id, consumer_id, target_id
    FROM repeated_uses
    QUALIFY row_number() OVER (
        PARTITION BY sync_id, mapping_name, sub_mapping_name, source_id, consumer_id
        ORDER BY value_count DESC, target_id
    ) = 1
),
target_votes AS (
    SELECT
        sync_id, mapping_name, sub_mapping_name, source_id, target_id,
        count(*) AS consumer_count
    FROM consumer_choices
    GROUP BY sync_id, mapping_name, sub_mapping_name, source_id, target_id
),
consensus AS (
    SELECT
        sync_id, mapping_name, sub_mapping_name, source_id,
        target_id AS consensus_target_id, consumer_count AS consensus_count
    FROM target_votes
    QUALIFY row_number() OVER (
        PARTITION BY sync_id, mapping_name, sub_mapping_name, source_id
        ORDER BY consumer_count DESC, target_id
    ) = 1
),
per_source AS (
    -- from the votes, not the choices: a few rows per source instead of one per consumer
    SELECT
        sync_id, mapping_name, sub_mapping_name, source_id,
        sum(consumer_count) AS consumer_count,
        count(*) AS target_count
    FROM target_votes
    GROUP BY sync_id, mapping_name, sub_mapping_name, source_id
),
outliers AS (
    -- the consumers whose choice is not the consensus, the first 100 A-Z of each source:
    -- a list as long as the account would not fit in memory, nor serve in a report
    SELECT
        ch.sync_id, ch.mapping_name, ch.sub_mapping_name, ch.source_id,
        list_sort(min(ch.consumer_id, 100)) AS outlier_consumer_ids
    FROM consumer_choices AS ch
    JOIN consensus AS co USING (sync_id, mapping_name, sub_mapping_name, source_id)
    WHERE ch.target_id <> co.consensus_target_id
    GROUP BY ch.sync_id, ch.mapping_name, ch.sub_mapping_name, ch.source_id
)
SELECT
    CAST(p.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(p.mapping_name AS VARCHAR) AS mapping_name,
    CAST(p.sub_mapping_name AS VARCHAR) AS sub_mapping_name,
    CAST(p.source_id AS VARCHAR) AS source_id,
    CAST(sl.label AS VARCHAR) AS source_label,
    CAST(p.consumer_count AS BIGINT) AS consumer_count,
    CAST(co.consensus_target_id AS VARCHAR) AS consensus_target_id,
    CAST(tl.label AS VARCHAR) AS consensus_target_label,
    CAST(co.consensus_count AS BIGINT) AS consensus_count,
    CAST(co.consensus_count AS DOUBLE) / nullif(p.consumer_count, 0) AS consensus_share,
    CAST(p.target_count AS BIGINT) AS target_count,
    CAST(p.consumer_count - co.consensus_count AS BIGINT) AS outlier_count,
    CAST(coalesce(o.outlier_consumer_ids, []) AS VARCHAR[]) AS outlier_consumer_ids
FROM per_source AS p
JOIN consensus AS co USING (sync_id, mapping_name, sub_mapping_name, source_id)
LEFT JOIN outliers AS o USING (sync_id, mapping_name, sub_mapping_name, source_id)
LEFT JOIN sync_names AS sn ON sn.sync_id = p.sync_id
LEFT JOIN value_labels AS sl
    ON sl.sync_id = p.sync_id AND sl.mapping_name = p.mapping_name
    AND sl.sub_mapping_name = p.sub_mapping_name AND sl.side = 'source'
    AND sl.value_id = p.source_id
LEFT JOIN value_labels AS tl
    ON tl.sync_id = p.sync_id AND tl.mapping_name = p.mapping_name
    AND tl.sub_mapping_name = p.sub_mapping_name AND tl.side = 'target'
    AND tl.value_id = co.consensus_target_id
ORDER BY sn.sync_name NULLS LAST, p.sync_id, p.mapping_name, p.sub_mapping_name, p.source_id
