// What happens to an ended event when its stream is published again (the archive strategy):
// `append` keeps it and continues after a discontinuity (nothing to do here), `version` moves it to
// <stream>.<N>/, `delete` removes it. The encoder's incoming/ directories and the writer record
// (lease.ts) stay where they are: they belong to the stream, not to the event.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { listDir, writeAtomic } from '../../common/files.js';
import { INCOMING_DIR, MASTER, type StreamPaths } from '../layout.js';
import { LEASE_FILE } from './lease.js';
import { withoutImageStream } from '../render/master.js';

/** Entries of the stream's directory that are not the event's. */
const STAYS = new Set([LEASE_FILE]);

/** Moves the ended event to <stream>.<N>/ (N one more than the highest taken) and returns N. */
export async function moveToVersion(paths: StreamPaths, renditions: ReadonlySet<string>): Promise<number> {
  const appDir = path.dirname(paths.dir);
  const prefix = `${paths.stream}.`;
  const taken = (await listDir(appDir)).filter((d) => d.startsWith(prefix)).map((d) => Number(d.slice(prefix.length)))
    .filter((v) => Number.isInteger(v));
  const version = taken.length === 0 ? 0 : Math.max(...taken) + 1;
  const target = path.join(appDir, `${prefix}${version}`);
  await fs.mkdir(target);
  for (const entry of await listDir(paths.dir)) {
    if (STAYS.has(entry)) continue;
    if (renditions.has(entry)) {
      await fs.mkdir(path.join(target, entry));
      for (const f of await listDir(path.join(paths.dir, entry))) {
        if (f !== INCOMING_DIR) await fs.rename(path.join(paths.dir, entry, f), path.join(target, entry, f));
      }
    } else {
      await fs.rename(path.join(paths.dir, entry), path.join(target, entry));
    }
  }
  await dropImageStream(path.join(target, MASTER));
  return version;
}

/** A version's master playlist names no thumbnail track: edges make it for <stream>/ only. */
async function dropImageStream(master: string): Promise<void> {
  const text = await fs.readFile(master, 'utf8').catch(() => undefined);
  const without = text !== undefined ? withoutImageStream(text) : undefined;
  if (without !== undefined && without !== text) await writeAtomic(master, without);
}

/** Removes the ended event's files. */
export async function deleteEvent(paths: StreamPaths, renditions: ReadonlySet<string>): Promise<void> {
  for (const entry of await listDir(paths.dir)) {
    if (STAYS.has(entry)) continue;
    if (!renditions.has(entry)) {
      await fs.rm(path.join(paths.dir, entry), { recursive: true, force: true });
      continue;
    }
    for (const f of await listDir(path.join(paths.dir, entry))) {
      if (f !== INCOMING_DIR) await fs.rm(path.join(paths.dir, entry, f), { recursive: true, force: true });
    }
  }
}
