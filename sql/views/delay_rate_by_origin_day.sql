-- Share of the flights from each airport that landed more than 15 minutes late, among those that
-- landed in the view's window (`events`: the flights known before its instant). The same
-- rate as delay_rate_by_origin.sql under its own name, for a longer window: the day's level
-- beside the last hours' swing.
SELECT origin, avg(CAST(delay > 15 AS DOUBLE)) AS origin_delay_rate_day
FROM events
GROUP BY origin
