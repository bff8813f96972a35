-- A seeded random split of a model's labelled rows (core/split.ts fills the placeholders).
-- the keyed placeholder is the FROM clause joining the raw lake rows (k) row by row to the model's
-- features (f, with __label). Each row gets u in [0, 1) from the md5 of the seed and its
-- hashed columns (the split's key, or the whole row): the same row gets the same u in every
-- run, whatever else is in the lake. Unstratified, u decides the side by itself, so a row keeps
-- its side from one retrain to the next. Stratified, rows are ranked by u within their class
-- (strata) and each class gives its share to every side: exact proportions on small data.
WITH labelled AS (
  SELECT f.*,
         ('0x' || substr(md5({{hash}}), 1, 13))::BIGINT / 4503599627370496.0 AS __u,
         k.filename AS __file, k.file_row_number AS __row
  FROM {{keyed}}
  WHERE f.__label IS NOT NULL
),
placed AS (
  SELECT *,
         CASE WHEN {{stratified}}
              THEN (row_number() OVER (PARTITION BY {{strata}} ORDER BY __u, __file, __row) - 0.5) / count(*) OVER (PARTITION BY {{strata}})
              ELSE __u END AS __q
  FROM labelled
)
SELECT * EXCLUDE (__u, __file, __row, __q),
       CASE WHEN __q < {{holdout}} THEN 'holdout'
            WHEN __q < {{holdout}} + {{validation}} THEN 'validation'
            ELSE 'train' END AS __side
FROM placed
ORDER BY __file, __row
