-- When each flight's outcome became known: when it landed. The lake holds the scheduled
-- departure and the arrival delay, not the arrival, so the landing is put no earlier than it
-- can have been: departure + 30 minutes (taxi, climb, descent) + the distance at 8 miles a
-- minute + the delay when it was late (an early flight counts as on time, known no earlier).
-- A flight without a delay (cancelled, diverted) is never known: no view counts it.
SELECT
  *,
  date + INTERVAL 30 MINUTE + to_minutes(CAST(distance / 8 AS BIGINT)) + to_minutes(greatest(delay, 0)) AS known_at
FROM source
WHERE delay IS NOT NULL
