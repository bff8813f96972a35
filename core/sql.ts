// SQL lives in sql/*.sql and is loaded by name; names cannot leave the sql folder.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const cache = new Map<string, Promise<string>>();

export function readSql(sqlDir: string, name: string): Promise<string> {
  const root = path.resolve(sqlDir);
  const file = path.resolve(root, name);
  if (!file.startsWith(root + path.sep) || !file.endsWith('.sql')) {
    return Promise.reject(new Error(`SQL name '${name}' must be a .sql file inside ${root}`));
  }
  let text = cache.get(file);
  if (!text) {
    text = readFile(file, 'utf8');
    cache.set(file, text);
    text.catch(() => cache.delete(file));
  }
  return text;
}
