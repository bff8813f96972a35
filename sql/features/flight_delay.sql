-- Features and label of one flight, from the raw columns of the flights lake.
--
-- This is the ONLY definition of these features: training, batch scoring and GET /predict
-- all run this query, over `source`, which the runner binds to lake partitions or to the
-- raw fields of a request (where `delay` is not known yet and is NULL, so `delayed` is NULL).
SELECT
  hour(date)                          AS hour,         -- departure hour, 0-23
  isodow(date)                        AS day_of_week,  -- 1 = Monday ... 7 = Sunday
  month(date)                         AS month,        -- kept for monitoring; not trained on (see the spec's notes)
  distance                            AS distance,
  origin                              AS origin,
  destination                         AS destination,
  origin || '-' || destination        AS route,
  delay > 15                          AS delayed       -- label: arrived more than 15 minutes late
FROM source
