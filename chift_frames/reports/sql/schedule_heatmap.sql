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
schedule_sets AS (
    -- consumers with the same set of schedules fire in the same hours: count them once per set
    SELECT crons, count(*) AS consumer_count
    FROM (
        SELECT consumer_id, list_sort(list(DISTINCT cronschedule)) AS crons
        FROM timers
        WHERE consumer_id IS NOT NULL
        GROUP BY consumer_id
    )
    GROUP BY crons
),
set_hours AS (
    -- the hours each set fires in: those of any of its schedules
    SELECT DISTINCT s.crons, s.consumer_count, f.day_of_week, f.hour
    FROM schedule_sets AS s
    CROSS JOIN unnest(s.crons) AS u(cronschedule)
    JOIN cron_firings AS f ON f.cronschedule = u.cronschedule
),
consumers_firing AS (
    SELECT day_of_week, hour, sum(consumer_count) AS consumer_count
    FROM set_hours
    GROUP BY day_of_week, hour
),
week AS (
    SELECT d.day_of_week, h.hour
    FROM range(7) AS d(day_of_week) CROSS JOIN range(24) AS h(hour)
)
SELECT
    CAST(w.day_of_week AS BIGINT) AS day_of_week,
    CAST(
        ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']
        [w.day_of_week + 1] AS VARCHAR
    ) AS day_name,
    CAST(w.hour AS BIGINT) AS hour,
    CAST(coalesce(f.firing_count, 0) AS BIGINT) AS firing_count,
    CAST(coalesce(c.consumer_count, 0) AS BIGINT) AS consumer_count
FROM week AS w
LEFT JOIN fired AS f ON f.day_of_week = w.day_of_week AND f.hour = w.hour
LEFT JOIN consumers_firing AS c ON c.day_of_week = w.day_of_week AND c.hour = w.hour
ORDER BY w.day_of_week, w.hour
