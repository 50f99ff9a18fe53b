// Helpers for tests that drive real programs: run to completion, wait for events with deadlines.
import { once, type EventEmitter } from 'node:events';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export { freePort, run } from '../../lab/hosts.js';

/** A fresh directory that nginx's unprivileged workers can read (mkdtemp makes it 0700). */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `dvr-${prefix}-`));
  await fs.chmod(dir, 0o755);
  return dir;
}


/** Polls `check` until it returns a value, or fails with `what` after the deadline. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, deadlineMs = 30_000,
  everyMs = 50): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resolves when `emitter` has emitted `event` for which `match` holds, `count` times. */
export function events<T>(emitter: EventEmitter, event: string, count: number, match: (e: T) => boolean = () => true,
  deadlineMs = 60_000): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const seen: T[] = [];
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`timed out waiting for ${count} '${event}' events (saw ${seen.length})`));
    }, deadlineMs);
    const on = (e: T): void => {
      if (!match(e)) return;
      seen.push(e);
      if (seen.length >= count) {
        clearTimeout(timer);
        emitter.off(event, on);
        resolve(seen);
      }
    };
    emitter.on(event, on);
  });
}

export { runFfmpeg as ffmpeg } from '../../agent/encoder/run.js';
