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
fired AS (
    SELECT
        f.day_of_week, f.hour,
        sum(f.firings) AS firing_count,
        count(DISTINCT t.consumer_id) AS consumer_count
    FROM timers AS t
    JOIN cron_firings AS f ON f.cronschedule = t.cronschedule
    GROUP BY f.day_of_week, f.hour
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
    CAST(coalesce(f.consumer_count, 0) AS BIGINT) AS consumer_count
FROM week AS w
LEFT JOIN fired AS f ON f.day_of_week = w.day_of_week AND f.hour = w.hour
ORDER BY w.day_of_week, w.hour
