// One writer per stream: the stream's directory records the epoch of the assignment that writes
// it (writer.json). The controller gives a stream a new epoch each time it moves to another
// transcoder. A writer reads the record before it writes; once it finds a newer epoch it stops for
// good (fenced), and a new owner waits a moment after claiming before its first write, longer than
// an old writer can take between its check and its write.
// The record is rewritten in place at a fixed length (never renamed or truncated), so an NFS client
// that opens it sees the current bytes (close-to-open) and a reader never sees it half empty.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DvrError, errnoCode } from '../../common/errors.js';

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
  if (body.length >= LEASE_BYTES) throw new DvrError('DVR_ERR_INTERNAL', `writer record too long (${body.length} bytes)`);
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

export interface WriterLeaseOptions {
  streamDir: string;
  mine: Lease;
  now: () => number;
  /** A new owner waits this long before its first write; a writer checks at least twice as often. */
  takeoverDelayMs: number;
  /** Told once, when a newer assignment is found. */
  onFenced: (held: HeldLease) => void;
}

/** This writer's hold on a stream's directory: claimed at start, checked before writes. */
export class WriterLease {
  private fencedBy: HeldLease | undefined;
  private checkedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly o: WriterLeaseOptions) {}

  get fenced(): HeldLease | undefined { return this.fencedBy; }

  /**
   * Records this writer; true when it takes the stream over from another assignment (the caller
   * then waits the takeover delay before writing). A newer assignment already recorded is an error.
   */
  async claim(): Promise<{ takeover: boolean; from: HeldLease | undefined }> {
    const held = await readLease(this.o.streamDir);
    if (held && supersedes(held, this.o.mine)) {
      throw new DvrError('DVR_ERR_FENCED',
        `stream ${path.basename(path.dirname(this.o.streamDir))}/${path.basename(this.o.streamDir)} is written by `
        + `${held.node} under a newer assignment (epoch ${held.epoch} > ${this.o.mine.epoch}): this job is stale and does not start`);
    }
    await writeLease(this.o.streamDir, this.o.mine, this.o.now());
    this.checkedAt = this.o.now();
    return { takeover: held !== undefined && (held.epoch !== this.o.mine.epoch || held.node !== this.o.mine.node), from: held };
  }

  /**
   * Whether this writer must stop: a newer assignment is recorded. Read at most every half takeover
   * delay (a new owner waits a whole one before writing), or now when `force` is set. An unreadable
   * record (storage down) stops nothing: the write that follows fails on its own.
   */
  async check(force = false): Promise<boolean> {
    if (this.fencedBy) return true;
    const now = this.o.now();
    if (!force && now - this.checkedAt < this.o.takeoverDelayMs / 2) return false;
    const held = await readLease(this.o.streamDir).catch(() => undefined);
    this.checkedAt = now;
    if (!held || !supersedes(held, this.o.mine)) return false;
    this.fencedBy = held;
    this.o.onFenced(held);
    return true;
  }
}
