-- One categorical column's drift summary from category_counts (categorical_counts.sql).
-- PSI and the Jensen-Shannon distance are computed over the reference's $1 most frequent
-- categories with every other value pooled as '(other)': a long tail of rare categories
-- (3,000 routes) would otherwise make sampling noise look like drift. Empty shares count as
-- $2 in the PSI (its logarithm needs one). New categories (absent from the reference) are
-- listed by name; $3 is how many to list and to draw.
WITH
totals AS (SELECT sum(nr) AS tr, sum(nc) AS tc FROM category_counts),
ranked AS (
  SELECT v, nr, nc, row_number() OVER (ORDER BY nr DESC, v) AS reference_rank FROM category_counts
),
pooled AS (
  SELECT CASE WHEN reference_rank <= $1 AND nr > 0 THEN v ELSE '(other)' END AS v, sum(nr) / tr AS pr, sum(nc) / tc AS pc
  FROM ranked, totals
  GROUP BY 1, tr, tc
),
shares AS (
  SELECT v, nr, nc, nr / tr AS pr, nc / tc AS pc FROM category_counts, totals
)
SELECT
  (SELECT tr FROM totals)::BIGINT AS reference_rows,
  (SELECT tc FROM totals)::BIGINT AS current_rows,
  (SELECT count(*) FILTER (WHERE nr > 0) FROM category_counts)::BIGINT AS reference_categories,
  (SELECT count(*) FILTER (WHERE nc > 0) FROM category_counts)::BIGINT AS current_categories,
  (SELECT sum((greatest(pc, $2) - greatest(pr, $2)) * ln(greatest(pc, $2) / greatest(pr, $2))) FROM pooled) AS psi,
  (SELECT sqrt(greatest(0, 0.5 * sum(CASE WHEN pr > 0 THEN pr * log2(2 * pr / (pr + pc)) ELSE 0 END)
                        + 0.5 * sum(CASE WHEN pc > 0 THEN pc * log2(2 * pc / (pr + pc)) ELSE 0 END))) FROM pooled) AS jensen_shannon,
  (SELECT count(*) FROM category_counts WHERE nr = 0)::BIGINT AS new_category_count,
  (SELECT list({'value': v, 'count': nc, 'share': pc} ORDER BY nc DESC, v)[1:$3] FROM shares WHERE nr = 0) AS new_categories,
  (SELECT arg_max({'value': v, 'referenceCount': nr, 'currentCount': nc, 'referenceShare': pr, 'currentShare': pc}, abs(pc - pr)) FROM shares) AS largest_shift,
  (SELECT list({'value': v, 'referenceCount': nr, 'currentCount': nc, 'referenceShare': pr, 'currentShare': pc} ORDER BY greatest(pr, pc) DESC, v)[1:$3] FROM shares) AS top;
