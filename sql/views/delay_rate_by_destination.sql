-- Share of the flights into each airport that landed more than 15 minutes late, among those
-- that landed in the view's window (`events`: the flights known before its instant).
SELECT destination, avg(CAST(delay > 15 AS DOUBLE)) AS destination_delay_rate
FROM events
GROUP BY destination
