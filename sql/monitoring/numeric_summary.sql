-- One numeric column's drift summary from value_counts (numeric_counts.sql), plus moments of
-- both sides: sample sizes, means, standard deviations, the exact Wasserstein-1 distance
-- between the two empirical distributions (the area between their CDFs), and quantiles of
-- the reference for PSI bins ($1: the PSI quantiles) and for the chart's range ($2: low and
-- high quantile). {{column}} is a quoted column name filled in by activities/monitoring.ts.
WITH
totals AS (SELECT sum(nr) AS tr, sum(nc) AS tc FROM value_counts),
cdf AS (
  SELECT
    x,
    sum(nr) OVER running / tr AS fr,
    sum(nc) OVER running / tc AS fc,
    lead(x) OVER (ORDER BY x) AS next_x
  FROM value_counts, totals
  WINDOW running AS (ORDER BY x ROWS UNBOUNDED PRECEDING)
),
-- The lower quantile of the reference: the smallest value whose CDF reaches q.
reference_quantiles AS (
  SELECT q, min(x) AS value
  FROM cdf, unnest($1::DOUBLE[] || $2::DOUBLE[]) AS t(q)
  WHERE fr >= q - 1e-12
  GROUP BY q
)
SELECT
  (SELECT count({{column}}) FROM reference)::BIGINT AS reference_rows,
  (SELECT count(*) - count({{column}}) FROM reference)::BIGINT AS reference_nulls,
  (SELECT count({{column}}) FROM current)::BIGINT AS current_rows,
  (SELECT count(*) - count({{column}}) FROM current)::BIGINT AS current_nulls,
  (SELECT sum(x * nr) / sum(nr) FROM value_counts) AS reference_mean,
  (SELECT sum(x * nc) / sum(nc) FROM value_counts) AS current_mean,
  (SELECT sqrt(greatest(0, sum(x * x * nr) / sum(nr) - (sum(x * nr) / sum(nr)) ** 2)) FROM value_counts) AS reference_std,
  (SELECT sqrt(greatest(0, sum(x * x * nc) / sum(nc) - (sum(x * nc) / sum(nc)) ** 2)) FROM value_counts) AS current_std,
  (SELECT sum(abs(fr - fc) * (next_x - x)) FROM cdf WHERE next_x IS NOT NULL) AS wasserstein,
  (SELECT list(value ORDER BY q) FROM reference_quantiles WHERE list_contains($1::DOUBLE[], q)) AS psi_edges,
  (SELECT list(value ORDER BY q) FROM reference_quantiles WHERE list_contains($2::DOUBLE[], q)) AS chart_range,
  (SELECT min(x) FROM value_counts WHERE nr > 0) AS reference_min,
  (SELECT max(x) FROM value_counts WHERE nr > 0) AS reference_max;
