// readColumns codes VARCHAR categories from DuckDB's memory (core/category-codes.ts): every
// value must come back as the text DuckDB itself returns, whatever its length (inline up to 12
// bytes, behind a pointer above), bytes (multi-byte UTF-8) or chunk, with NULL as -1. FLOAT
// numbers are copied from DuckDB's memory too, with NULL as NaN.
import { describe, expect, it } from 'vitest';
import { openDuckDB, queryRows, quoteLiteral, readColumns } from '../core/duckdb.js';

const VALUES = [
  '',
  'a',
  'ORD',
  'abcd', // 4 bytes: the longest keyed by the first word alone
  'abcde',
  'abcdX', // differs from the previous in the second word only
  'ORD-LAX',
  'abcdefghijkl', // 12 bytes: the longest stored inline
  'abcdefghijkm', // differs in the third word only
  'abcdefghijklm', // 13 bytes: behind a pointer
  'Zürich', // 7 bytes, 6 characters
  '🛫', // 4 bytes, one character
  'São Paulo–Guarulhos',
];

describe('readColumns categories', () => {
  it('decodes every VARCHAR value as DuckDB returns it, across chunks, NULL as -1', async () => {
    const db = await openDuckDB();
    try {
      const list = `[${VALUES.map(quoteLiteral).join(', ')}]`;
      // 10,000 rows (five chunks): listed values, built ones (non-constant vectors) and lengths 10 to 16.
      const sql =
        `SELECT CASE WHEN i % 17 = 0 THEN NULL ELSE ${list}[(i % ${VALUES.length}) + 1] END AS listed, ` +
        `'x' || (i % 50)::VARCHAR AS built, repeat('y', 10 + (i % 7)::INTEGER) AS around_12, (i % 3)::INTEGER AS not_text, i ` +
        `FROM range(10000) t(i) ORDER BY i`;
      const names = ['listed', 'built', 'around_12', 'not_text'];
      const table = await readColumns(
        await db.connection.stream(sql),
        names.map((name) => ({ name, kind: 'categorical' as const })),
      );
      const expected = await queryRows(db.connection, sql);
      expect(table.rows).toBe(10_000);
      names.forEach((name, k) => {
        const col = table.columns[k]!;
        if (col.kind !== 'categorical') throw new Error(`${name} should be categorical`);
        const decoded = Array.from(col.codes, (c) => (c < 0 ? null : col.dictionary[c]));
        const want = expected.map((r) => (r[name] === null ? null : String(r[name])));
        expect(decoded, name).toEqual(want);
        expect(new Set(col.dictionary).size, `${name}: one code per value`).toBe(col.dictionary.length);
        const firstSeen = [...new Set(want.filter((v) => v !== null))];
        expect(col.dictionary, `${name}: codes in order of first appearance`).toEqual(firstSeen);
      });
    } finally {
      db.close();
    }
  });
});

describe('readColumns numbers', () => {
  it('reads FLOAT columns from DuckDB memory and other numeric types by value, across chunks, NULL as NaN', async () => {
    const db = await openDuckDB();
    try {
      // 5,000 rows (three chunks), a NULL every 7th row in each column.
      const sql =
        `SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE CAST(i / 3 AS FLOAT) END AS f, ` +
        `CASE WHEN i % 7 = 3 THEN NULL ELSE CAST(i / 3 AS DOUBLE) END AS d, CAST(i AS FLOAT) AS never_null ` +
        `FROM range(5000) t(i) ORDER BY i`;
      const names = ['f', 'd', 'never_null'];
      for (const result of ['stream', 'run'] as const) {
        const table = await readColumns(await db.connection[result](sql), names.map((name) => ({ name, kind: 'numeric' as const })));
        const expected = await queryRows(db.connection, sql);
        expect(table.rows).toBe(5_000);
        names.forEach((name, k) => {
          const col = table.columns[k]!;
          if (col.kind !== 'numeric') throw new Error(`${name} should be numeric`);
          const want = expected.map((r) => (r[name] === null ? Number.NaN : Math.fround(Number(r[name]))));
          expect(Array.from(col.values), `${name} (${result})`).toEqual(want);
        });
      }
    } finally {
      db.close();
    }
  });
});
