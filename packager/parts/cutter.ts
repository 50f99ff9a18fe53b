// Low latency: cuts a rendition's partial segments out of the fragmented MP4 the encoder writes to
// <rendition>/parts/ (agent/encoder/args.ts), a fragment at a time, while the segment grows. Each
// moof+mdat is a part, kept in memory for the live edge (parts.ts); a segment the encoder lists
// as complete in <session>.csv becomes the same moof+mdat run in incoming/<session>-<n>.m4s (and
// its session's init incoming/<session>-init.mp4), written under a temp name and renamed, where
// the packager lists it as any other segment. The spool is local disk: watched with inotify.
import { watch, promises as fs, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../../common/errors.js';
import { unlinkIfPresent, writeAtomic } from '../../common/files.js';
import type { Logger } from '../../common/log.js';
import { inspectInit, type InitMedia } from '../media/inspect.js';
import { inspectPart } from '../media/fmp4.js';
import { partName } from '../layout.js';
import type { LivePart } from './parts.js';

const RAW_RE = /^([A-Za-z0-9]{1,40})-(\d{1,9})\.mp4$/;
const LIST_RE = /^([A-Za-z0-9]{1,40})\.csv$/;

export interface CutterOptions {
  /** <spool>/<rendition>/parts: where the encoder writes. */
  dir: string;
  /** <spool>/<rendition>/incoming: where complete segments go for the packager. */
  incomingDir: string;
  /** A part was cut from segment `n` of `session` (its k-th). */
  onPart: (session: string, n: number, part: LivePart) => void;
  /** Segment `n` of `session` is complete: its parts are all known, and it is in incoming/. */
  onSegment: (session: string, n: number) => void;
  log: Logger;
}

/** One growing file of the encoder's: what was read of it, and what of that forms no whole part yet. */
interface RawFile {
  session: string;
  n: number;
  offset: number;
  /** Bytes read past the last whole part (a box not complete yet, or a moof waiting for its mdat). */
  pending: Buffer;
  parts: LivePart[];
  init: Buffer | undefined;
  /** Why the rest of this file is not cut (a box that cannot be read never becomes readable). */
  broken?: string;
}

interface SessionList { offset: number; complete: Set<number>; init: InitMedia | undefined; initWritten: boolean }

export class PartCutter {
  private watcher: FSWatcher | undefined;
  private readonly files = new Map<string, RawFile>();
  private readonly sessions = new Map<string, SessionList>();
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(private readonly o: CutterOptions) {}

  async start(): Promise<void> {
    await fs.mkdir(this.o.dir, { recursive: true });
    this.watcher = watch(this.o.dir, () => this.kick());
    this.watcher.on('error', (err) => this.o.log.error({ err: String(err), dir: this.o.dir }, 'part watcher error'));
    this.kick();
  }

  /** Reads what the encoder wrote so far (an encoder that just stopped listed its last segment). */
  async flush(): Promise<void> {
    this.kick();
    await this.settled();
  }

  /** Resolves when what was written so far has been read. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    await this.settled();
  }

  private kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.scan().catch((err: unknown) => this.o.log.error({ err: String(err), dir: this.o.dir }, 'cutting parts failed'));
      } while (this.again && !this.closed);
      this.running = undefined;
    })();
  }

  private async scan(): Promise<void> {
    const names = await fs.readdir(this.o.dir).catch(() => [] as string[]);
    const raw = names.flatMap((f) => {
      const m = RAW_RE.exec(f);
      return m ? [{ file: f, session: m[1] ?? '', n: Number(m[2]) }] : [];
    });
    for (const f of names) {
      const m = LIST_RE.exec(f);
      if (m?.[1] !== undefined) await this.readList(m[1], f);
    }
    raw.sort((a, b) => a.session.localeCompare(b.session) || a.n - b.n);
    for (const r of raw) {
      const list = this.sessions.get(r.session);
      const complete = list?.complete.has(r.n) === true;
      // One file's failure (a full disk) waits for the next pass; the others go on.
      try {
        await this.readFile(r.file, r.session, r.n);
        if (complete) await this.finish(r.file);
      } catch (err) {
        this.o.log.error({ err: String(err), file: r.file }, 'cutting parts failed; tried again at the next write');
      }
    }
    // An older session's file that never completed: its encoder died mid-segment (a newer one runs), as
    // the hls muxer leaves a temp file that is never renamed. It is dropped, not listed half.
    const newest = [...new Set([...raw.map((r) => r.session), ...this.sessions.keys()])].sort().pop();
    for (const r of raw) {
      if (r.session === newest || this.sessions.get(r.session)?.complete.has(r.n) === true) continue;
      this.o.log.info({ file: r.file }, 'an earlier encoder\'s unfinished segment: dropped');
      await unlinkIfPresent(path.join(this.o.dir, r.file));
      this.files.delete(r.file);
    }
    // What the lists name of files already gone (moved to incoming/, or before a restart) is forgotten.
    for (const [session, list] of this.sessions) {
      const present = new Set(raw.filter((r) => r.session === session).map((r) => r.n));
      for (const n of list.complete) if (!present.has(n)) list.complete.delete(n);
    }
    // An earlier session's list with no file of it left: its segments went to incoming/ (or it died
    // before completing one, and its empty list would be opened on every pass for good).
    for (const session of this.sessions.keys()) {
      if (!raw.some((r) => r.session === session) && [...this.sessions.keys()].some((k) => k > session)) {
        await unlinkIfPresent(path.join(this.o.dir, `${session}.csv`));
        this.sessions.delete(session);
      }
    }
  }

  /**
   * The encoder's list of complete segments: `<file>,<start>,<end>` per line, appended as each closes.
   * Read from where the last read stopped (a week-long session lists 300,000 segments).
   */
  private async readList(session: string, file: string): Promise<void> {
    const list = this.sessions.get(session) ?? { offset: 0, complete: new Set<number>(), init: undefined, initWritten: false };
    this.sessions.set(session, list);
    let text = '';
    try {
      const handle = await fs.open(path.join(this.o.dir, file), 'r');
      try {
        const { size } = await handle.stat();
        if (size <= list.offset) return;
        const buf = Buffer.alloc(size - list.offset);
        const { bytesRead } = await handle.read(buf, 0, buf.length, list.offset);
        text = buf.toString('latin1', 0, bytesRead);
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw err;
    }
    const end = text.lastIndexOf('\n') + 1;
    for (const line of text.slice(0, end).split('\n')) {
      const m = RAW_RE.exec(line.split(',')[0] ?? '');
      if (m && m[1] === session) list.complete.add(Number(m[2]));
    }
    list.offset += end;
  }

  /** Reads what the encoder appended to a file and cuts the whole parts in it. */
  private async readFile(file: string, session: string, n: number): Promise<void> {
    let f = this.files.get(file);
    if (!f) {
      f = { session, n, offset: 0, pending: Buffer.alloc(0), parts: [], init: undefined };
      this.files.set(file, f);
    }
    if (f.broken !== undefined) return;
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(path.join(this.o.dir, file), 'r');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw err;
    }
    try {
      const { size } = await handle.stat();
      if (size <= f.offset) return;
      const fresh = Buffer.alloc(size - f.offset);
      const { bytesRead } = await handle.read(fresh, 0, fresh.length, f.offset);
      f.offset += bytesRead;
      f.pending = f.pending.length === 0 ? fresh.subarray(0, bytesRead) : Buffer.concat([f.pending, fresh.subarray(0, bytesRead)]);
    } finally {
      await handle.close();
    }
    await this.cut(f);
  }

  /** Whole boxes off the front of `pending`: ftyp+moov make the init, anything up to an mdat makes a part. */
  private async cut(f: RawFile): Promise<void> {
    const list = this.sessions.get(f.session) ?? { offset: 0, complete: new Set<number>(), init: undefined, initWritten: false };
    this.sessions.set(f.session, list);
    let at = 0;
    let partStart = 0;
    // What was cut stays cut when a later box fails: cut again from the front, a part would be announced
    // twice and be twice in its segment. A box that cannot be read ends the file's cutting (its
    // segment is the parts before it); a write that failed (a full disk) is tried again with the next bytes.
    try {
      while (at + 8 <= f.pending.length) {
        let size = f.pending.readUInt32BE(at);
        const type = f.pending.toString('latin1', at + 4, at + 8);
        if (size === 1) {
          if (at + 16 > f.pending.length) break;
          size = Number(f.pending.readBigUInt64BE(at + 8));
        }
        if (size < 8) throw new Error(`${f.session}-${f.n}.mp4: a box of ${size} bytes at ${f.offset - f.pending.length + at}`);
        if (at + size > f.pending.length) break;
        at += size;
        if (type === 'moov') {
          f.init = Buffer.from(f.pending.subarray(partStart, at));
          if (!list.init) list.init = inspectInit(f.init);
          // A restarted agent reads a session's later files again: their init was moved into place with segment 0.
          if (!list.initWritten && f.n === 0) {
            await writeAtomic(path.join(this.o.incomingDir, `${f.session}-init.mp4`), f.init);
            list.initWritten = true;
          }
          partStart = at;
        } else if (type === 'mdat') {
          const data = Buffer.from(f.pending.subarray(partStart, at));
          if (!list.init) throw new Error(`${f.session}-${f.n}.mp4: a fragment before the init segment`);
          const media = inspectPart(data, list.init);
          partStart = at;
          const part: LivePart = { name: partName(f.session, f.n, f.parts.length), k: f.parts.length, data,
            durationUs: Math.round(media.duration * 1e6), independent: media.independent };
          f.parts.push(part);
          this.o.onPart(f.session, f.n, part);
        }
      }
    } catch (err) {
      // The system's refusal (ENOSPC, EIO: it has a syscall) passes; a box's is the file's for good.
      if ((err as { syscall?: unknown } | null)?.syscall !== undefined) throw err;
      f.broken = err instanceof Error ? err.message : String(err);
      this.o.log.error({ err: f.broken, session: f.session, n: f.n, parts: f.parts.length },
        'an unreadable box in the encoder\'s file: the rest of this segment is not cut into parts');
    } finally {
      f.pending = f.broken === undefined ? f.pending.subarray(partStart) : Buffer.alloc(0);
    }
  }

  /** A complete segment: its parts, back to back, become incoming/<session>-<n>.m4s; the encoder's file goes. */
  private async finish(file: string): Promise<void> {
    const f = this.files.get(file);
    if (!f) return;
    if (f.parts.length > 0) {
      await writeAtomic(path.join(this.o.incomingDir, `${f.session}-${f.n}.m4s`), Buffer.concat(f.parts.map((p) => p.data)));
    } else {
      this.o.log.warn({ file }, 'a segment the encoder completed holds no fragment: dropped');
    }
    await unlinkIfPresent(path.join(this.o.dir, file));
    this.files.delete(file);
    this.o.onSegment(f.session, f.n);
  }
}
