// Which rows train, stop early and judge. A partition split cuts by files (newest partitions
// judge); a random split gives every labelled row a side from a seeded hash, in SQL, so the
// training set, the evaluation of every later version and the tests read the same sides.
import path from 'node:path';
import { quoteIdent, quoteLiteral } from './duckdb.js';
import { featureQuery, LABEL_COLUMN } from './features.js';
import type { ViewSource } from './views.js';
import type { LoadedSpec, SplitSpec } from './spec.js';
import { readSql } from './sql.js';

export type Side = 'train' | 'validation' | 'holdout';
export type RandomSplit = Extract<SplitSpec, { by: 'random' }>;

/** Output column of splitQuery holding each row's side. */
export const SIDE_COLUMN = '__side';

/** Split settings that decide the sides: two runs with equal ones put every row on the same side. */
export function sameSides(a: SplitSpec | undefined, b: SplitSpec | undefined): boolean {
  if (a?.by !== 'random' || b?.by !== 'random') return false;
  return (
    a.seed === b.seed &&
    a.holdout === b.holdout &&
    a.validation === b.validation &&
    a.stratify === b.stratify &&
    JSON.stringify(a.key ?? null) === JSON.stringify(b.key ?? null)
  );
}

/**
 * The model's labelled feature rows of `files` with their side (SIDE_COLUMN), in file order.
 * Identifiers are quoted; the fractions and seed are numbers the spec parser checked.
 */
export async function splitQuery(sqlDir: string, loaded: LoadedSpec, files: readonly string[], split: RandomSplit, views?: ViewSource): Promise<string> {
  const { spec } = loaded;
  const hashColumns = split.key ?? spec.dataset.columns.map((c) => c.name);
  const parts = [`'${split.seed}'`, ...hashColumns.map((c) => `coalesce(CAST(k.${quoteIdent(c)} AS VARCHAR), chr(0))`)];
  const keyed =
    `read_parquet([${files.map(quoteLiteral).join(', ')}], filename = true, file_row_number = true, hive_partitioning = false) AS k\n` +
    `POSITIONAL JOIN (${featureQuery(loaded, `SELECT * FROM read_parquet([${files.map(quoteLiteral).join(', ')}], hive_partitioning = true)`, true, views)}) AS f`;
  return (await readSql(sqlDir, path.join('data', 'random_split.sql')))
    .replaceAll('{{keyed}}', keyed)
    .replaceAll('{{hash}}', `concat_ws(chr(31), ${parts.join(', ')})`)
    .replaceAll('{{stratified}}', split.stratify ? 'true' : 'false')
    .replaceAll('{{strata}}', split.stratify ? LABEL_COLUMN : '1')
    .replaceAll('{{holdout}}', String(split.holdout))
    .replaceAll('{{validation}}', String(split.validation));
}

/** The rows of one side of a split's rows (a table name, or a query in parentheses), without the side column. */
export function sideRows(relation: string, side: Side): string {
  return `SELECT * EXCLUDE (${SIDE_COLUMN}) FROM ${relation} WHERE ${SIDE_COLUMN} = ${quoteLiteral(side)}`;
}
