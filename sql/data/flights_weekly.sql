-- Split the raw flights file into one Parquet folder per ISO week (weeks start on Monday).
-- {{source}} and {{target}} are quoted path literals filled in by data/flights.ts.
-- Rows are ordered by time inside each week so files compress well and read in order. The
-- sort key covers every column: flights that tie on time and route would otherwise land in
-- any order, and two bootstraps of the same source would give different bytes (and so
-- different snapshot hashes and different seeded training runs).
COPY (
  SELECT
    date, delay, distance, origin, destination,
    strftime(date_trunc('week', date), '%Y-%m-%d') AS week
  FROM read_parquet({{source}})
  ORDER BY date, origin, destination, distance, delay
) TO {{target}} (FORMAT parquet, PARTITION_BY (week), COMPRESSION zstd);
