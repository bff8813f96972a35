-- A binary model's metrics per group (a partition, or the whole window) over labelled rows
-- {{rows}}(grp, y, p): AUC by average ranks (ties share theirs), log loss with p clamped to
-- [1e-15, 1 - 1e-15], accuracy at threshold $1, and the expected calibration error over $2
-- equal-width bins. The same definitions as ml/metrics.ts.
WITH
ranked AS (
  SELECT grp, y, p, rank() OVER (PARTITION BY grp ORDER BY p) + (count(*) OVER (PARTITION BY grp, p) - 1) / 2.0 AS r
  FROM {{rows}}
),
bins AS (
  SELECT grp, least(floor(p * $2), $2 - 1) AS bin, sum(p) AS predicted, sum(y) AS observed
  FROM {{rows}}
  GROUP BY ALL
),
calibration AS (SELECT grp, sum(abs(predicted - observed)) AS gap FROM bins GROUP BY grp)
SELECT
  grp,
  count(*)::BIGINT AS rows,
  avg(y) AS positive_rate,
  avg(p) AS mean_prediction,
  (sum(r) FILTER (WHERE y = 1) - sum(y) * (sum(y) + 1) / 2) / nullif(sum(y) * (count(*) - sum(y)), 0) AS auc,
  -avg(y * ln(greatest(p, 1e-15)) + (1 - y) * ln(greatest(1 - p, 1e-15))) AS log_loss,
  avg(CASE WHEN (p >= $1) = (y = 1) THEN 1 ELSE 0 END) AS accuracy,
  any_value(gap) / count(*) AS calibration_error
FROM ranked JOIN calibration USING (grp)
GROUP BY grp
ORDER BY grp;
