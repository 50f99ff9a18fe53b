// Reading a JSON file someone wrote by hand. Leaf module.
import { promises as fs } from 'node:fs';
import { DvrError } from './errors.js';

/** A JSON file, its syntax errors with line and column. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new DvrError('DVR_ERR_CONFIG', `${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const pos = /position (\d+)/.exec(msg)?.[1];
    let where = '';
    if (pos !== undefined) {
      const before = text.slice(0, Number(pos)).split('\n');
      where = `:${before.length}:${(before.at(-1)?.length ?? 0) + 1}`;
    }
    throw new DvrError('DVR_ERR_CONFIG', `${file}${where}: not JSON: ${msg.replace(/ in JSON at position \d+.*$/, '')}`);
  }
}
