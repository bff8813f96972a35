-- A multiclass model's metrics per group over labelled rows {{rows}}(grp, y, probs): y is the
-- class index (0-based), probs the class probabilities. Log loss of the true class's
-- probability (clamped at 1e-15), accuracy of the first most probable class, and the top-label
-- expected calibration error over $1 bins. The same definitions as ml/metrics.ts.
WITH
scored AS (
  SELECT grp, y, probs[y::BIGINT + 1] AS p_true, list_max(probs) AS confidence,
         (list_position(probs, list_max(probs)) - 1 = y)::INTEGER AS correct
  FROM {{rows}}
),
bins AS (
  SELECT grp, least(floor(confidence * $1), $1 - 1) AS bin, sum(confidence) AS predicted, sum(correct) AS observed
  FROM scored
  GROUP BY ALL
),
calibration AS (SELECT grp, sum(abs(predicted - observed)) AS gap FROM bins GROUP BY grp)
SELECT
  grp,
  count(*)::BIGINT AS rows,
  -avg(ln(greatest(p_true, 1e-15))) AS log_loss,
  avg(correct) AS accuracy,
  any_value(gap) / count(*) AS calibration_error
FROM scored JOIN calibration USING (grp)
GROUP BY grp
ORDER BY grp;
