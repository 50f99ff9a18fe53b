// One writer per stream: the stream's directory records the epoch of the assignment that writes
// it (writer.json). The controller gives a stream a new epoch each time it moves to another
// transcoder. A writer reads the record before it writes; once it finds a newer epoch it stops for
// good (fenced), and a new owner waits a moment after claiming before its first write, longer than
// an old writer can take between its check and its write.
// The record is rewritten in place at a fixed length (never renamed or truncated), so an NFS client
// that opens it sees the current bytes (close-to-open) and a reader never sees it half empty.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../../common/errors.js';

export const LEASE_FILE = 'writer.json';
const LEASE_BYTES = 256;

export interface Lease {
  /** The assignment's epoch, from the controller (0 for a stream no controller assigns). */
  epoch: number;
  /** The node writing under it. */
  node: string;
}

export interface HeldLease extends Lease {
  /** When it was claimed, ms since the epoch. */
  since: number;
}

/** The lease recorded in a stream's directory; undefined when there is none or it cannot be read. */
export async function readLease(streamDir: string): Promise<HeldLease | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(streamDir, LEASE_FILE), 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const v = JSON.parse(text) as Partial<HeldLease>;
    return typeof v.epoch === 'number' && typeof v.node === 'string' && typeof v.since === 'number'
      ? { epoch: v.epoch, node: v.node, since: v.since } : undefined;
  } catch {
    return undefined;
  }
}

/** Records `lease` as the stream's writer, in place, at a fixed length. */
export async function writeLease(streamDir: string, lease: Lease, now: number): Promise<void> {
  const body = JSON.stringify({ epoch: lease.epoch, node: lease.node, since: now });
  if (body.length >= LEASE_BYTES) throw new Error(`lease record too long (${body.length} bytes)`);
  const bytes = Buffer.from(`${body}${' '.repeat(LEASE_BYTES - 1 - body.length)}\n`);
  const file = path.join(streamDir, LEASE_FILE);
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'r+');
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    fh = await fs.open(file, 'w', 0o644);
  }
  try {
    await fh.write(bytes, 0, bytes.length, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Whether `held` (the record on the storage) says that the writer holding `mine` must stop. */
export function supersedes(held: Lease | undefined, mine: Lease): boolean {
  return held !== undefined && held.epoch > mine.epoch;
}
