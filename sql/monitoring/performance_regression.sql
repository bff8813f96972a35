-- A regression model's metrics per group over labelled rows {{rows}}(grp, y, p): RMSE, MAE,
-- R² against the group's own mean, and the mean error (bias). The same definitions as
-- ml/metrics.ts.
WITH centred AS (SELECT grp, y, p, y - avg(y) OVER (PARTITION BY grp) AS dy FROM {{rows}})
SELECT
  grp,
  count(*)::BIGINT AS rows,
  sqrt(avg((p - y) ** 2)) AS rmse,
  avg(abs(p - y)) AS mae,
  1 - sum((p - y) ** 2) / nullif(sum(dy ** 2), 0) AS r2,
  avg(p - y) AS bias
FROM centred
GROUP BY grp
ORDER BY grp;
