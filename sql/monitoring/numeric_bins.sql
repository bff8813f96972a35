-- Counts of value_counts (numeric_counts.sql) per bin, and the population stability index over
-- those bins. $1: ascending bin edges; bin i holds (edge[i], edge[i+1]], values at or below the
-- first edge fall in bin 0 and values above the last in the last bin, so no row is dropped.
-- $2: the share an empty bin counts as in the PSI (its logarithm needs one).
WITH
bins AS (
  SELECT
    least(greatest(len(list_filter($1::DOUBLE[], e -> e < x)) - 1, 0), len($1::DOUBLE[]) - 2) AS bin,
    sum(nr) AS reference,
    sum(nc) AS current
  FROM value_counts
  GROUP BY bin
),
totals AS (SELECT sum(reference) AS tr, sum(current) AS tc FROM bins),
shares AS (SELECT greatest(reference / tr, $2) AS r, greatest(current / tc, $2) AS c FROM bins, totals)
SELECT bin, reference, current, (SELECT sum((c - r) * ln(c / r)) FROM shares) AS psi
FROM bins
ORDER BY bin;
