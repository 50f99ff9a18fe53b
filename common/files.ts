// File operations of the packager. Every playlist is written under a temp name and renamed,
// so a reader (nginx, NFS clients) never sees a partial file.
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, promises as fs, readSync } from 'node:fs';
import path from 'node:path';
import { errnoCode } from './errors.js';

/** What a temp name ends with: nginx refuses it (and every dotfile). */
export const TEMP_SUFFIX = '.tmp';

/** Temp names start with a dot and end in .tmp; nginx refuses both. */
export function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
}

export async function writeAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = tempName(file);
  try {
    await fs.writeFile(tmp, data, { mode });
    // The umask may have narrowed it; a secret's file must be exactly this.
    if (mode !== 0o644) await fs.chmod(tmp, mode);
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

export async function unlinkIfPresent(file: string): Promise<boolean> {
  try {
    await fs.unlink(file);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

export async function listDir(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
}

/** A file's bytes and modification time, from one open (no separate stat). */
export async function readWhole(file: string): Promise<{ buf: Buffer; mtimeMs: number }> {
  const fh = await fs.open(file, 'r');
  try {
    const st = await fh.stat();
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const { bytesRead } = await fh.read(buf, off, st.size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return { buf: off === st.size ? buf : buf.subarray(0, off), mtimeMs: st.mtimeMs };
  } finally {
    await fh.close();
  }
}

/** Grows to the largest file read; shared, so a view into it is valid only until the next read. */
let scratch = Buffer.allocUnsafe(1 << 20);

/**
 * A local file's bytes, read without the thread pool into a buffer every caller shares: use them
 * before the next await, keep none of them. Never for a network mount (a hung read blocks).
 */
export function readTransientSync(file: string): { buf: Buffer; mtimeMs: number } {
  const fd = openSync(file, 'r');
  try {
    const st = fstatSync(fd);
    if (scratch.length < st.size) scratch = Buffer.allocUnsafe(Math.max(st.size, scratch.length * 2));
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, scratch, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return { buf: scratch.subarray(0, off), mtimeMs: st.mtimeMs };
  } finally {
    closeSync(fd);
  }
}

export async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Moves a finished file into place. Same file system: a rename. Across devices (a local spool
 * into the shared mount): copied under a temp name, renamed, then the source removed, so the
 * destination only ever holds complete files.
 */
export async function moveInto(src: string, dest: string): Promise<void> {
  try {
    await fs.rename(src, dest);
    return;
  } catch (err) {
    if (errnoCode(err) !== 'EXDEV') throw err;
  }
  const tmp = tempName(dest);
  try {
    await fs.copyFile(src, tmp);
    await fs.rename(tmp, dest);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fs.unlink(src);
}
