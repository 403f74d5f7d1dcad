-- At which hours of the week do the consumers' timer flows fire?
-- Grain: one row per day of week and hour (always 168 rows), Monday 00:00 first.
-- cron_firings (cronschedule, day_of_week, hour, firings) is the one table computed outside
-- SQL: chift_frames expands each distinct cron string of the timer flows over the reference
-- week (Monday 5 January 2026, UTC) with cronsim; strings that do not parse have no rows.
WITH timers AS (
    SELECT consumer_id, cronschedule
    FROM flows
    WHERE trigger_type = 'timer' AND cronschedule IS NOT NULL
),
flow_counts AS (
    -- each schedule fires once for each timer flow on it
    SELECT cronschedule, count(*) AS flow_count FROM timers GROUP BY cronschedule
),
fired AS (
    SELECT f.day_of_week, f.hour, sum(f.firings * c.flow_count) AS firing_count
    FROM flow_counts AS c
    JOIN cron_firings AS f ON f.cronschedule = c.cronschedule
    GROUP BY f.day_of_week, f.hour
),
consumer_sets AS (
    -- each consumer's set of schedules, sorted
    SELECT consumer_id, list_sort(list(DISTINCT cronschedule)) AS crons
    FROM timers
    WHERE consumer_id IS NOT NULL
    GROUP BY consumer_id
),
schedule_sets AS (
    -- consumers with the same set of schedules fire in the same hours: count them once per
    -- set, whose hours are those of any of its members (the first stands for all)
    SELECT crons, count(*) AS consumer_count, min(consumer_id) AS member
    FROM consumer_sets
    GROUP BY crons
),
set_hours AS (
    -- the hours each set fires in: those of any of its schedules
    SELECT DISTINCT s.member, s.consumer_count, f.day_of_week, f.hour
    FROM schedule_sets AS s
    JOIN timers AS t ON t.consumer_id = s.member
    JOIN cron_firings AS f ON f.cronschedule = t.cronschedule
),
consumers_firing AS (
    SELECT day_of_week, hour, sum(consumer_count) AS consumer_count
    FROM set_hours
    GROUP BY day_of_week, hour
),
week AS (
    SELECT d.day_of_week, h.hour
    FROM (VALUES (0), (1), (2), (3), (4), (5), (6)) AS d(day_of_week)
    CROSS JOIN (VALUES
        (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11),
        (12), (13), (14), (15), (16), (17), (18), (19), (20), (21), (22), (23)
    ) AS h(hour)
)
SELECT
    CAST(w.day_of_week AS BIGINT) AS day_of_week,
    CAST(
        CASE w.day_of_week
            WHEN 0 THEN 'Monday' WHEN 1 THEN 'Tuesday' WHEN 2 THEN 'Wednesday'
            WHEN 3 THEN 'Thursday' WHEN 4 THEN 'Friday' WHEN 5 THEN 'Saturday' ELSE 'Sunday'
        END AS VARCHAR
    ) AS day_name,
    CAST(w.hour AS BIGINT) AS hour,
    CAST(coalesce(f.firing_count, 0) AS BIGINT) AS firing_count,
    CAST(coalesce(c.consumer_count, 0) AS BIGINT) AS consumer_count
FROM week AS w
LEFT JOIN fired AS f ON f.day_of_week = w.day_of_week AND f.hour = w.hour
LEFT JOIN consumers_firing AS c ON c.day_of_week = w.day_of_week AND c.hour = w.hour
ORDER BY w.day_of_week, w.hour
