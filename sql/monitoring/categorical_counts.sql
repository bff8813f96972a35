-- How often each value of one categorical column occurs in `reference` and in `current`,
-- NULL counted as its own value '(missing)'. {{column}} is a quoted column name filled in by
-- activities/monitoring.ts.
CREATE OR REPLACE TEMP TABLE category_counts AS
SELECT v, sum(from_reference)::DOUBLE AS nr, sum(1 - from_reference)::DOUBLE AS nc
FROM (
  SELECT coalesce({{column}}::VARCHAR, '(missing)') AS v, 1 AS from_reference FROM reference
  UNION ALL
  SELECT coalesce({{column}}::VARCHAR, '(missing)') AS v, 0 AS from_reference FROM current
)
GROUP BY v;
