-- Share of the flights from each airport that landed more than 15 minutes late, among those
-- that landed in the view's window (`events`: the flights known before its instant).
SELECT origin, avg(CAST(delay > 15 AS DOUBLE)) AS origin_delay_rate
FROM events
GROUP BY origin
