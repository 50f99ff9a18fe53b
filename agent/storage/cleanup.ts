// What a transcoder removes from the shared storage when the controller asks, and what it tells the
// controller it found there. Removal: the media of ended events whose retention ran out (the
// stream's directory, or a version of it, <stream>.<N>), and a deleted stream's whole media (its
// directory and every version). Each is first renamed to a dot-named tombstone in its app's
// directory (one atomic step: a new publish starts a fresh directory, and edges refuse dot-names),
// then removed in the background, so neither the heartbeats nor the stream's next event wait for the
// walk. Found: the versions on the storage (once at start, and each new one), with what each takes,
// so that archived events are recordings like the others. Nothing is done while the storage is not
// available (an unmounted mountpoint would be emptied for nothing and reported done), and a stream
// this node runs is left alone. Each report is carried by the heartbeats of the next minute.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { NAME_SOURCE, STREAM_DIR_PATTERN, checkName } from '../../common/names.js';
import type { ArchivedVersion, PurgeResult, RecordingRef, StreamRef } from '../../common/protocol.js';
import { STREAM_STATE } from '../../packager/layout.js';
import { parseStreamState } from '../../packager/state.js';

/** A removed directory's tombstone: .deleting-<dir>-<ms>. */
const TOMBSTONE_RE = new RegExp(`^\\.deleting-${NAME_SOURCE}(\\.\\d{1,9})?-\\d+$`);
/** How long a report rides on the heartbeats (the controller takes each once). */
const REPORT_MS = 60_000;

export interface CleanupOptions {
  root: string;
  log: Logger;
  /** Whether the storage answers now. */
  available: () => boolean;
  /** Whether this node writes the stream now (published again: not removed). */
  runsHere: (app: string, stream: string) => boolean;
  now?: () => number;
}

type Task = { kind: 'recording'; ref: RecordingRef } | { kind: 'purge'; ref: StreamRef };

/** Reports held for the next heartbeats, by key. */
class Reports<T> {
  private readonly held = new Map<string, { value: T; at: number }>();
  constructor(private readonly now: () => number) {}
  add(key: string, value: T): void { this.held.set(key, { value, at: this.now() }); }
  has(key: string): boolean { return this.held.has(key); }
  current(): T[] {
    for (const [k, r] of this.held) if (this.now() - r.at > REPORT_MS) this.held.delete(k);
    return [...this.held.values()].map((r) => r.value);
  }
}

export class StorageCleanup {
  private readonly now: () => number;
  private readonly queue = new Map<string, Task>();
  private readonly failures = new Map<string, string>();
  private readonly deleted: Reports<RecordingRef>;
  private readonly purged: Reports<PurgeResult>;
  private readonly versions: Reports<ArchivedVersion>;
  private running: Promise<void> | undefined;
  private swept = false;
  private scanned = false;
  private closed = false;

  constructor(private readonly o: CleanupOptions) {
    this.now = o.now ?? Date.now;
    this.deleted = new Reports(this.now);
    this.purged = new Reports(this.now);
    this.versions = new Reports(this.now);
  }

  /** The ended events whose retention ran out (the controller asks with each reply until it is told). */
  deleteRecordings(refs: readonly RecordingRef[]): void {
    for (const ref of refs.slice(0, 100)) {
      const k = `recording ${dirOf(ref)}`;
      if (!this.deleted.has(dirOf(ref)) && !this.queue.has(k)) this.queue.set(k, { kind: 'recording', ref: { ...ref } });
    }
    this.kick();
  }

  /** Streams deleted with their media. */
  purge(refs: readonly StreamRef[]): void {
    for (const ref of refs.slice(0, 100)) {
      const k = `purge ${ref.app}/${ref.stream}`;
      if (!this.purged.has(`${ref.app}/${ref.stream}`) && !this.queue.has(k)) this.queue.set(k, { kind: 'purge', ref: { ...ref } });
    }
    this.kick();
  }

  /** A version the packager just archived: reported with what it takes. */
  noteArchived(app: string, stream: string, version: number): void {
    void this.readVersion(app, `${stream}.${version}`).then((v) => { if (v) this.versions.add(`${app}/${v.stream}.${v.version}`, v); });
  }

  /** What the heartbeats carry: deletions done, purges done, versions found. */
  report(): { deletedRecordings?: RecordingRef[]; purgedStreams?: PurgeResult[]; versions?: ArchivedVersion[] } {
    if (!this.scanned && this.o.available()) this.kick();
    const [deleted, purged, versions] = [this.deleted.current(), this.purged.current(), this.versions.current()];
    return { ...(deleted.length > 0 ? { deletedRecordings: deleted } : {}), ...(purged.length > 0 ? { purgedStreams: purged } : {}),
      ...(versions.length > 0 ? { versions } : {}) };
  }

  /** Stops after the current step. */
  async close(): Promise<void> {
    this.closed = true;
    await this.running;
  }

  private kick(): void {
    this.running ??= this.run().finally(() => { this.running = undefined; });
  }

  /** One task at a time in the background (a week of segments takes a while on NFS). */
  private async run(): Promise<void> {
    if (!this.o.available()) return; // asked again with a later reply
    // What an interrupted removal left (the agent stopped half-way): swept with the first removal asked for.
    if (!this.swept && this.queue.size > 0) await this.removeTombstones();
    if (!this.scanned) await this.scanVersions();
    for (const [k, task] of this.queue) {
      if (this.closed || !this.o.available()) return;
      this.queue.delete(k);
      try {
        if (task.kind === 'recording') await this.removeRecording(task.ref);
        else await this.removeStream(task.ref);
        this.failures.delete(k);
      } catch (err) {
        // Asked again with every reply until it is done: said once per reason.
        const why = err instanceof Error ? err.message : String(err);
        if (this.failures.get(k) !== why) this.o.log.error({ task: k, err: why }, 'could not remove media from the storage');
        this.failures.set(k, why);
      }
    }
  }

  private async removeRecording(ref: RecordingRef): Promise<void> {
    if (this.o.runsHere(ref.app, ref.stream) && ref.version === undefined) {
      this.o.log.warn({ stream: `${ref.app}/${ref.stream}` }, 'not deleting a stream that runs here (published again)');
      return;
    }
    await this.removeDir(ref.app, dirOf(ref).split('/')[1] ?? '');
    this.deleted.add(dirOf(ref), ref);
    this.o.log.info({ recording: dirOf(ref) }, 'recording deleted: its retention ran out');
  }

  /** A stream's directory and every version of it: renamed to tombstones at once, then removed and measured. */
  private async removeStream(ref: StreamRef): Promise<void> {
    if (this.o.runsHere(ref.app, ref.stream)) {
      this.o.log.warn({ stream: `${ref.app}/${ref.stream}` }, 'not removing a stream that runs here (published again)');
      return;
    }
    const appDir = path.join(this.o.root, checkName('app', ref.app));
    checkName('stream', ref.stream);
    const mine = new RegExp(`^${ref.stream}(\\.\\d{1,9})?$`);
    const dirs = (await fs.readdir(appDir).catch(() => [] as string[])).filter((d) => mine.test(d)).sort();
    let bytes = 0;
    for (const d of dirs) bytes += await this.removeDir(ref.app, d);
    const result: PurgeResult = { app: ref.app, stream: ref.stream, removed: dirs.map((d) => `${ref.app}/${d}`), bytes };
    this.purged.add(`${ref.app}/${ref.stream}`, result);
    this.o.log.info({ stream: `${ref.app}/${ref.stream}`, removed: result.removed, bytes }, 'stream deleted with its media');
  }

  /** Renames <app>/<dir> to a tombstone, then walks and removes it; the bytes it held (0: it was not there). */
  private async removeDir(app: string, dir: string): Promise<number> {
    checkName('app', app);
    if (!new RegExp(STREAM_DIR_PATTERN).test(dir)) checkName('stream', dir);
    const from = path.join(this.o.root, app, dir);
    const tombstone = path.join(this.o.root, app, `.deleting-${dir}-${this.now()}`);
    try {
      await fs.rename(from, tombstone);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return 0;
      throw err;
    }
    const bytes = await sizeOf(tombstone);
    await fs.rm(tombstone, { recursive: true, force: true });
    return bytes;
  }

  /** Tombstones a removal left behind (the agent stopped half-way), in the apps' directories; once per process. */
  private async removeTombstones(): Promise<void> {
    this.swept = true;
    for (const app of await this.apps()) {
      const names = await fs.readdir(path.join(this.o.root, app)).catch(() => [] as string[]);
      for (const n of names.filter((x) => TOMBSTONE_RE.test(x))) {
        await fs.rm(path.join(this.o.root, app, n), { recursive: true, force: true });
        this.o.log.info({ dir: path.join(app, n) }, 'removed what an interrupted deletion left');
      }
    }
  }

  /** The versions on the storage, once: reported so the controller lists them (those made before it knew of them too). */
  private async scanVersions(): Promise<void> {
    this.scanned = true;
    const version = new RegExp(`^${NAME_SOURCE}\\.\\d{1,9}$`);
    for (const app of await this.apps()) {
      const names = await fs.readdir(path.join(this.o.root, app)).catch(() => [] as string[]);
      for (const n of names.filter((x) => version.test(x))) {
        if (this.closed) return;
        const v = await this.readVersion(app, n);
        if (v) this.versions.add(`${app}/${n}`, v);
      }
    }
  }

  /** A version's facts from its stream.json (an older one without them: its directory's time, its files' sizes). */
  private async readVersion(app: string, dir: string): Promise<ArchivedVersion | undefined> {
    const m = /^(.+)\.(\d{1,9})$/.exec(dir);
    if (!m?.[1] || !m[2]) return undefined;
    const full = path.join(this.o.root, app, dir);
    const st = await fs.stat(full).catch(() => undefined);
    if (!st?.isDirectory()) return undefined;
    const state = parseStreamState(JSON.parse(await fs.readFile(path.join(full, STREAM_STATE), 'utf8').catch(() => 'null')) as unknown);
    return { app, stream: m[1], version: Number(m[2]), endedAt: state?.endedAt ?? Math.round(st.mtimeMs),
      bytes: state?.storedBytes ?? await sizeOf(full) };
  }

  private async apps(): Promise<string[]> {
    const entries = await fs.readdir(this.o.root, { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  }
}

/** The directory a recording is: <app>/<stream>, or <app>/<stream>.<version>. */
function dirOf(ref: RecordingRef): string {
  return `${ref.app}/${ref.stream}${ref.version !== undefined ? `.${ref.version}` : ''}`;
}

/** Bytes of the files under `dir`. */
async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await sizeOf(p);
    else if (e.isFile()) total += (await fs.stat(p).catch(() => undefined))?.size ?? 0;
  }
  return total;
}
