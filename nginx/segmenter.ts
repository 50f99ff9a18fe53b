// Directories of nginx-rtmp's HLS writer on a node that is origin and transcoder at once:
// <dir>/<app>/ must exist and belong to the user nginx's workers run as, which create the
// per-stream directories inside it. The agent moves the finished fragments out.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { checkName } from '../common/names.js';
import type { OriginSegmenter } from './model.js';

const run = promisify(execFile);

/** Workers of a root master run as the model's user, or nginx's default (nobody). */
async function workerIds(user: string): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string): Promise<number> => Number((await run('id', [flag, user])).stdout.trim());
  return { uid: await id('-u'), gid: await id('-g') };
}

export async function prepareSegmenterDirs(s: OriginSegmenter, apps: readonly string[], workerUser?: string): Promise<void> {
  const owner = process.getuid?.() === 0 ? await workerIds(workerUser ?? 'nobody') : undefined;
  for (const app of apps) {
    const dir = path.join(s.dir, checkName('app', app));
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    if (owner) await fs.chown(dir, owner.uid, owner.gid);
  }
}
