-- Features and labels of one flight, from the raw columns of the flights lake.
--
-- This is the ONLY definition of these features: every flights model (flight_delay,
-- flight_delay_class, flight_delay_minutes), training, batch scoring and GET /predict all
-- run this query over `source`, which the runner binds to lake partitions or to the raw
-- fields of a request (where `delay` is not known yet, so every label is NULL).
SELECT
  hour(date)                          AS hour,         -- departure hour, 0-23
  isodow(date)                        AS day_of_week,  -- 1 = Monday ... 7 = Sunday
  month(date)                         AS month,        -- kept for monitoring; not trained on (see flight_delay's notes)
  date                                AS departure,    -- the row's time: feature views are joined as of it (features.time)
  distance                            AS distance,
  origin                              AS origin,
  destination                         AS destination,
  origin || '-' || destination        AS route,
  -- labels: each model declares which one it learns
  delay > 15                          AS delayed,       -- binary: arrived more than 15 minutes late
  CASE
    WHEN delay IS NULL THEN NULL
    WHEN delay < 0 THEN 'early'
    WHEN delay <= 15 THEN 'on_time'
    WHEN delay <= 60 THEN 'late'
    ELSE 'very_late'
  END                                 AS delay_class,   -- multiclass
  CAST(delay AS DOUBLE)               AS delay_minutes  -- regression: arrival delay in minutes
FROM source
