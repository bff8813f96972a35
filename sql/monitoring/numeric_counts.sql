-- How often each value of one numeric column occurs in `reference` and in `current` (the two
-- sides a monitoring run compares), NULLs and non-finite values left out. Every numeric drift
-- statistic is computed from this one small table: exact CDFs, quantiles and bins.
-- {{column}} is a quoted column name filled in by activities/monitoring.ts.
CREATE OR REPLACE TEMP TABLE value_counts AS
SELECT x, sum(from_reference)::DOUBLE AS nr, sum(1 - from_reference)::DOUBLE AS nc
FROM (
  SELECT {{column}}::DOUBLE AS x, 1 AS from_reference FROM reference
  UNION ALL
  SELECT {{column}}::DOUBLE AS x, 0 AS from_reference FROM current
)
WHERE x IS NOT NULL AND isfinite(x)
GROUP BY x;
