// Child process of bench/httpfs.ts: DuckDB 1.5.5 with the httpfs extension, reading the lake
// straight from the bucket. A process of its own because DuckDB 1.5.6 (the project's) is loaded
// in the parent, and two DuckDB libraries in one process share their symbols.
//   node bench/httpfs-reader.mjs <node-api folder> <httpfs.duckdb_extension> <endpoint host:port> <s3 glob> <queries JSON>
import { createRequire } from 'node:module';
import path from 'node:path';

const [prefix, extension, endpoint, glob, queriesJson] = process.argv.slice(2);
const { DuckDBInstance, version } = createRequire(path.join(prefix, 'noop.js'))('@duckdb/node-api');
const quote = (s) => `'${s.replaceAll("'", "''")}'`;
const instance = await DuckDBInstance.create(':memory:', { allow_unsigned_extensions: 'true' });
const c = await instance.connect();
await c.run(`LOAD ${quote(extension)}`);
await c.run(`CREATE SECRET bench (TYPE s3, KEY_ID 'test', SECRET 'test', REGION 'us-east-1', ENDPOINT ${quote(endpoint)}, URL_STYLE 'path', USE_SSL false)`);
const source = `read_parquet(${quote(glob)}, hive_partitioning = true)`;
const out = [];
for (const q of JSON.parse(queriesJson)) {
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    await c.runAndReadAll(q.sql.replaceAll('{{source}}', source));
    runs.push((performance.now() - started) / 1000);
  }
  out.push({ name: q.name, runs });
}
c.closeSync();
console.log(JSON.stringify({ version: version(), out }));
