// One stream's packager: takes the encoder's finished files from <rendition>/incoming/ in order,
// checks each (media/), places it in the timeline (placement.ts), moves it into place under its
// canonical name and publishes (publish.ts). Work for a stream runs on one queue, so its state is
// never seen half-updated; every task checks first that this writer still holds the stream (lease.ts).
import { promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';
import { DvrError, errnoCode } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { deleteEvent, moveToVersion } from './write/archive.js';
import type { PackagerEmitter, StreamRef } from './events.js';
import { listDir, moveInto, readJson, readTransientSync, readWhole, unlinkIfPresent, writeAtomic } from '../common/files.js';
import type { Gate } from '../common/gate.js';
import { PartCutter } from './parts/cutter.js';
import {
  DASH_DIR, PARTS_DIR, STREAM_STATE, parsePartName, partName,
  dashSegmentName, initName, parseIncomingName, renditionDir, segmentName, storedName, streamPaths,
  type IncomingFile, type SegmentExt, type StreamPaths,
} from './layout.js';
import { WriterLease, type Lease } from './write/lease.js';
import { inspectInit, inspectSegment, SegmentRejected, type InitMedia, type SegmentMedia } from './media/inspect.js';
import type { RenditionCounters } from './metrics.js';
import { placeSegment } from './index/placement.js';
import { Manifests, playlistInput, publish, renderLiveMpd, type PublishContext } from './write/publish.js';
import { lastPosition, listableParts, type LlRendition, type RenditionReport } from './render/ll-hls.js';
import { SegmentIndex } from './index/segment-index.js';
import { Rendition, type SessionState } from './rendition.js';
import { parseStreamState, type StreamStateFile } from './state.js';
import { parseStreamSettings, settingsWarnings, type StreamSettings } from './settings.js';
import type { LiveRenditionView, LiveSource, PredictedSegment } from './live-view.js';
import { PART_TARGET_SECONDS, type DvrSettings } from '../common/stream-settings.js';

export interface VideoProbe {
  /** Picture size of a segment (TS) or init segment (fMP4), or undefined when it has no video. */
  (file: string): Promise<{ width: number; height: number } | undefined>;
}

export interface StreamDeps {
  log: Logger;
  events: PackagerEmitter;
  now: () => number;
  probe: VideoProbe;
  /** How long to wait before trying files again after the output directory failed. */
  retryDelayMs: number;
  /** Where the encoder writes (local disk); defaults to the storage root itself. */
  spoolRoot: string;
  /** The spool is local disk (not the network mount): its files are read without the thread pool. */
  spoolIsLocal: boolean;
  /** False while the shared storage is down: segments wait in the spool. */
  storageAvailable: () => boolean;
  /** Shared by the agent's streams: how many of them may be working at once. */
  gate?: Gate;
  /** The assignment this packager writes under; without one, no writer record is kept (tests, tools). */
  lease?: Lease;
  /** How long a new owner waits after claiming a stream before its first write; checks run twice as often. */
  takeoverDelayMs: number;
  /** Keep the newest segments in memory and list the spooled ones for the live view (live-view.ts). */
  liveView?: boolean;
}


/** A finished file waiting in a rendition's incoming/, its name parsed once. */
type Waiting = { file: string } & Extract<IncomingFile, { kind: 'segment' }>;

/** The encoder's finished segments among the names in an incoming/ (its init segments and playlists left out). */
function waitingSegments(names: readonly string[]): Waiting[] {
  return names.flatMap((file): Waiting[] => {
    const p = parseIncomingName(file);
    return p?.kind === 'segment' ? [{ file, ...p }] : [];
  });
}

function ignoreExists(err: unknown): void {
  if (errnoCode(err) !== 'EEXIST') throw err;
}

export class StreamPackager implements LiveSource {
  readonly paths: StreamPaths;
  private readonly renditions = new Map<string, Rendition>();
  private status: 'live' | 'ended' = 'live';
  private eventStartMs: number | undefined;
  /** When the event ended (ms), while it is ended. */
  private endedAt: number | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly manifests = new Manifests();
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Renditions whose incoming/ holds files that wait (storage down, output failed): drained in order. */
  private readonly backlog = new Set<string>();
  private readonly log: Logger;
  private readonly ref: StreamRef;
  private readonly lease: WriterLease | undefined;
  /** Low latency: each rendition's part cutter (the encoder's growing files in the spool). */
  private readonly cutters: PartCutter[] = [];
  /** Called on every change the live edge may wait for: a part, a listed segment, the event's end. */
  private readonly changeListeners = new Set<() => void>();
  /** The live view's measurements of spooled files, by rendition and file (each file is read once). */
  private readonly previewed = new Map<string, { durationUs: number; mediaStartUs: number; bytes: number; arrivedMs: number }>();

  private current: Readonly<StreamSettings>;
  get settings(): Readonly<StreamSettings> { return this.current; }

  constructor(root: string, settings: Readonly<StreamSettings>, private readonly deps: StreamDeps) {
    this.current = settings;
    this.paths = streamPaths(root, settings.app, settings.stream);
    this.ref = { app: settings.app, stream: settings.stream };
    this.log = deps.log.child({ stream: `${settings.app}/${settings.stream}` });
    for (const r of settings.renditions) this.addRendition(r);
    const mine = deps.lease;
    this.lease = mine && new WriterLease({ streamDir: this.paths.dir, mine, now: deps.now, takeoverDelayMs: deps.takeoverDelayMs,
      onFenced: (held) => {
        this.log.error({ by: held.node, epoch: held.epoch, mine: mine.epoch },
          'the stream moved to another writer (newer assignment): this one stops writing it');
        deps.events.emit('fenced', { ...this.ref, by: held.node, epoch: held.epoch, mine: mine.epoch });
      } });
  }

  get ext(): SegmentExt { return this.settings.format === 'fmp4' ? 'm4s' : 'ts'; }
  /** Partial segments and blocking reloads at the live edge. */
  get lowLatency(): boolean { return this.settings.lowLatency && this.ext === 'm4s'; }

  /** Calls `listener` on each change a blocked request may wait for; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => { this.changeListeners.delete(listener); };
  }

  private changeCount = 0;

  private changed(): void {
    this.changeCount++;
    for (const l of this.changeListeners) {
      try {
        l();
      } catch (err) {
        this.log.error({ err: String(err) }, 'a live edge listener failed');
      }
    }
  }
  get ended(): boolean { return this.status === 'ended'; }
  /**
   * The most segments waiting in one rendition's spool (incoming/): 0 or 1 while the storage keeps
   * up, more while it is down or catching up (its queue may be held by a write the storage holds).
   */
  spoolDepth(): number {
    let most = 0;
    for (const r of this.renditions.values()) most = Math.max(most, this.pendingSync(r).length);
    return most;
  }
  get incomingDirs(): string[] { return [...this.renditions.values()].map((r) => r.incomingDir); }
  /** The stream's directory in the spool: the encoder writes <spoolDir>/<rendition>/incoming/. */
  get spoolDir(): string { return path.join(this.deps.spoolRoot, this.paths.app, this.paths.stream); }

  rendition(name: string): Rendition | undefined { return this.renditions.get(name); }
  /** Bytes its renditions' segments take on the storage. */
  get storedBytes(): number { return [...this.renditions.values()].reduce((a, r) => a + r.index.totalBytes, 0); }

  counters(): Record<string, RenditionCounters> {
    return Object.fromEntries([...this.renditions].map(([k, r]) => [k, { ...r.counters }]));
  }

  private get publishing(): PublishContext {
    return { paths: this.paths, settings: this.settings, ext: this.ext, ended: this.status === 'ended', eventStartMs: this.eventStartMs,
      now: this.deps.now, log: this.log, events: this.deps.events, ref: this.ref };
  }

  /**
   * Creates the directories, records this writer's assignment and rebuilds the index from what is
   * on disk. Taking a stream over from another writer, the rebuild (and every write) waits the
   * takeover delay, so that the old writer, should it still run, has stopped; the encoder starts
   * meanwhile and its segments wait in the spool.
   */
  async open(): Promise<void> {
    try {
      for (const r of this.renditions.values()) {
        await fs.mkdir(r.dir, { recursive: true });
        await fs.mkdir(r.incomingDir, { recursive: true });
      }
    } catch (err) {
      throw new DvrError('DVR_ERR_OUTPUT_DIR',
        `stream ${this.ref.app}/${this.ref.stream}: cannot create ${this.paths.dir}: ${errnoCode(err) ?? String(err)}; `
        + 'check that the data directory exists and is writable by the agent');
    }
    if (this.lowLatency) await this.startCutters();
    const claimed = await this.lease?.claim();
    if (claimed?.takeover) {
      const wait = this.deps.takeoverDelayMs;
      this.log.info({ from: claimed.from?.node, fromEpoch: claimed.from?.epoch, epoch: this.deps.lease?.epoch, waitMs: wait },
        'taking the stream over: the index is rebuilt from the directory after the takeover delay');
      this.queue = this.queue.then(() => new Promise((resolve) => setTimeout(resolve, wait)));
      void this.enqueue(() => this.recoverIndex(true));
      return;
    }
    await this.recoverIndex(false);
  }

  /** Low latency: a part cutter on each rendition's parts/ in the spool. */
  private async startCutters(): Promise<void> {
    for (const name of this.renditions.keys()) {
      const r = this.renditions.get(name) as Rendition;
      const cutter = new PartCutter({ dir: path.join(r.spoolDir, PARTS_DIR), incomingDir: r.incomingDir,
        log: this.log.child({ rendition: name }),
        onPart: (session, n, part) => {
          this.renditions.get(name)?.parts.add(session, n, part);
          this.changed();
        },
        onSegment: (session, n) => {
          this.renditions.get(name)?.parts.complete(session, n);
          this.changed();
        } });
      await cutter.start();
      this.cutters.push(cutter);
    }
  }

  /**
   * Rebuilds the index of every rendition from its directory and writes the playlists. Taken over
   * from another writer, the encoder sessions it recorded are not continued: whatever this node
   * ingests starts a new session (a discontinuity), even an origin's fragments that carry none.
   */
  private async recoverIndex(takeover: boolean): Promise<void> {
    const saved = parseStreamState(await readJson(path.join(this.paths.dir, STREAM_STATE)));
    if (saved) {
      this.status = saved.status === 'ended' ? 'ended' : 'live';
      this.eventStartMs = saved.eventStartMs;
      this.endedAt = saved.endedAt;
    }
    for (const r of this.renditions.values()) {
      const { segments, ignored } = await r.recover();
      if (ignored.length > 0) this.log.warn({ rendition: r.name, ignored: ignored.length },
        'segments before a hole in the sequence are not listed');
      const session = takeover ? undefined : saved?.sessions?.[r.name];
      r.takenOver = takeover;
      if (session && this.ext === 'm4s') {
        r.init = await this.loadInit(path.join(r.dir, initName(session.disc)), (b) => this.keepInit(r, session.disc, b))
          .catch(() => undefined);
      }
      r.session = session;
      if (segments > 0) this.log.info({ rendition: r.name, segments, firstSeq: r.index.firstSequence }, 'index rebuilt from the directory');
    }
    await this.writeState();
    await this.publishAll();
  }

  /**
   * A file arrived in a rendition's incoming/: lists everything waiting there, in the encoder's
   * order. Draining the whole directory (not just the named file) keeps the order right when
   * a backlog (restart, storage outage) and new arrivals meet.
   */
  ingest(rendition: string): Promise<void> {
    return this.enqueue(() => this.drain(rendition));
  }

  /**
   * A feed put this finished file into a rendition's incoming/ itself and hands it over in order:
   * it is listed without scanning the directory, unless earlier files still wait there.
   */
  offer(rendition: string, file: string): Promise<void> {
    return this.enqueue(async () => {
      const incoming = parseIncomingName(file);
      if (this.backlog.has(rendition)) {
        await this.drain(rendition);
      } else if (!this.deps.storageAvailable()) {
        this.backlog.add(rendition);
        this.scheduleRetry();
      } else if (incoming?.kind === 'segment' && !(await this.ingestNow(rendition, { file, ...incoming }))) {
        this.backlog.add(rendition);
      }
    });
  }

  /** Lists what waits in every incoming/ (after a restart or an output failure). */
  async scanIncoming(): Promise<void> {
    for (const c of this.cutters) await c.flush();
    for (const r of this.renditions.values()) await this.ingest(r.name);
  }

  /** Waiting files in order: sessions by their oldest file, then by the encoder's number. */
  private async pending(r: Rendition): Promise<Waiting[]> {
    const files = waitingSegments(await listDir(r.incomingDir));
    const firstSeen = new Map<string, number>();
    for (const x of files) {
      const st = await fs.stat(path.join(r.incomingDir, x.file)).catch(() => undefined);
      firstSeen.set(x.session, Math.min(firstSeen.get(x.session) ?? Infinity, st?.mtimeMs ?? Infinity));
    }
    // The session being listed now goes first: its backlog is older than any new session.
    const current = r.session?.session;
    const rank = (session: string): number => (session === current ? -Infinity : firstSeen.get(session) ?? Infinity);
    return files.sort((a, b) => rank(a.session) - rank(b.session) || a.session.localeCompare(b.session) || a.n - b.n);
  }

  private async drain(rendition: string): Promise<void> {
    const r = this.renditions.get(rendition);
    if (!r) return;
    for (const waiting of await this.pending(r)) {
      if (!this.deps.storageAvailable()) {
        // Shared storage is down: segments stay in the local spool, listed in order later.
        this.backlog.add(rendition);
        this.scheduleRetry();
        return;
      }
      if (!(await this.ingestNow(rendition, waiting))) {
        this.backlog.add(rendition);
        return;
      }
    }
    this.backlog.delete(rendition);
  }

  /** The event ended: ENDLIST everywhere; with recording the playlist becomes the whole event as VOD. */
  endEvent(): Promise<void> {
    return this.enqueue(async () => {
      if (this.status === 'ended') return;
      this.status = 'ended';
      this.endedAt = this.deps.now();
      for (const r of this.renditions.values()) {
        r.session = undefined;
        r.init = undefined;
        r.lastN = undefined;
        await this.removeEncoderPlaylists(r, undefined);
      }
      await this.writeState();
      await this.publishAll();
      this.changed();
      this.log.info({ recording: this.settings.recording }, 'event ended');
      this.deps.events.emit('ended', { ...this.ref });
    });
  }

  /** Waits for queued work; later calls are refused. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.cutters.splice(0)) await c.close();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.queue;
  }

  /** After an output failure, the files left in incoming/ are tried again. */
  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.scanIncoming().catch((err: unknown) => this.log.error({ err: String(err) }, 'retry scan failed'));
    }, this.deps.retryDelayMs);
    this.retryTimer.unref();
  }

  /** Resolves once everything queued so far has been processed. */
  idle(): Promise<void> {
    return this.enqueue(async () => undefined);
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    if (this.closed) return Promise.resolve();
    // Every task writes: none runs once a newer writer holds the stream.
    const guarded = async (): Promise<void> => { if (!(await this.lease?.check())) await task(); };
    const gated = (): Promise<void> => (this.deps.gate ? this.deps.gate.run(guarded) : guarded());
    const run = this.queue.then(gated, gated);
    this.queue = run.catch((err: unknown) => {
      this.log.error({ err }, 'packager task failed');
    });
    return this.queue;
  }

  private addRendition(name: string): void {
    const spool = path.join(this.deps.spoolRoot, this.paths.app, this.paths.stream, name);
    this.renditions.set(name, new Rendition(name, renditionDir(this.paths, name), spool, this.ext, this.settings.segmentSeconds));
  }

  /** Lists or rejects one file; false when the output failed and the rest must wait for a retry. */
  private async ingestNow(renditionName: string, waiting: Waiting): Promise<boolean> {
    const r = this.renditions.get(renditionName);
    if (!r) return true;
    const src = path.join(r.incomingDir, waiting.file);
    let current = r;
    try {
      if (this.status === 'ended') {
        // Already listed by an earlier event for the same file: nothing starts.
        if (!(await fs.access(src).then(() => true, () => false))) return true;
        await this.startNewEvent();
      }
      // A new event may have replaced the rendition's state.
      current = this.renditions.get(renditionName) ?? r;
      await this.place(current, waiting, src).finally(() => { current.placing = undefined; });
    } catch (err) {
      if (err instanceof SegmentRejected) {
        current.holePending = true;
        current.counters.segmentsRejected++;
        this.log.warn({ rendition: r.name, file: waiting.file, reason: err.reason }, 'segment rejected: not listed');
        this.deps.events.emit('rejected', { ...this.ref, rendition: r.name, file: waiting.file, reason: err.reason });
        await unlinkIfPresent(src).catch(() => undefined);
        return true;
      }
      current.counters.outputErrors++;
      const code = errnoCode(err) ?? 'EIO';
      const message = `stream ${this.ref.app}/${this.ref.stream} rendition ${r.name}: cannot write to ${r.dir} (${code}); `
        + 'the segment waits in incoming/ and is retried';
      this.log.error({ rendition: r.name, file: waiting.file, code }, message);
      this.deps.events.emit('problem', { ...this.ref, rendition: r.name, code: 'DVR_ERR_OUTPUT_DIR', message });
      this.scheduleRetry();
      return false;
    }
    return true;
  }

  /** Checks, places, moves and publishes one segment. Nothing in memory changes until the files are in place. */
  private async place(r: Rendition, w: Waiting, src: string): Promise<void> {
    if (w.ext !== r.ext) throw new SegmentRejected(`a .${w.ext} segment in a ${this.settings.format} stream`);
    const newSession = r.session?.session !== w.session;
    let init: InitMedia | undefined;
    let initBytes: Buffer | undefined;
    const keep = (b: Buffer): void => { initBytes = b; };
    if (this.ext === 'm4s') {
      init = newSession ? await this.loadInit(path.join(r.incomingDir, `${w.session}-init.mp4`), keep)
        : r.init ?? await this.loadInit(path.join(r.dir, initName(r.session?.disc ?? 0)), keep);
    }
    const measured = await this.measure(src, init);
    if (!measured) return; // already listed by an earlier event for the same file
    const { media, bytes, arrivedMs } = measured;
    const durationUs = Math.round(media.duration * 1e6);
    const gapLimitMs = this.gapLimitMs(r);
    // A rendition that joins a session another one already follows takes its clock.
    const sibling = newSession ? [...this.renditions.values()].find((x) => x !== r && x.session?.session === w.session)?.session
      : undefined;
    const placed = placeSegment(r.tail(gapLimitMs), { session: w.session, n: w.n, arrivedMs, durationUs,
      mediaStartUs: Math.max(0, Math.round(media.startTime * 1e6)), ...(sibling ? { clock: sibling } : {}) });
    if (placed.kind === 'superseded') {
      await unlinkIfPresent(src);
      r.counters.segmentsSuperseded++;
      this.log.debug({ rendition: r.name, session: w.session, n: w.n, arrivedMs }, 'segment of time already listed: dropped');
      return;
    }
    const { record, initFrom, gaps } = placed;
    const dest = path.join(r.dir, segmentName(record, r.ext));
    if (this.deps.liveView && measured.data) {
      r.recent.add(record.seq, measured.data);
      // On its way to the storage (which may hold it there): the live view lists it already.
      if (gaps.length === 0 && !placed.newSession && record.disc === r.lastDisc) {
        r.placing = { record: { ...record, bytes }, n: w.n, session: placed.session };
      }
    }
    if (await this.lease?.check()) return;
    // Each gap entry's marker (empty), so that the index is rebuilt with them after a restart.
    for (const g of gaps) await writeAtomic(path.join(r.dir, storedName(g, r.ext)), '');
    if (this.ext === 'm4s' && initFrom === 'incoming') {
      await moveInto(path.join(r.incomingDir, `${w.session}-init.mp4`), path.join(r.dir, initName(record.disc)));
    } else if (this.ext === 'm4s' && initFrom === 'link') {
      await fs.link(path.join(r.dir, initName(r.lastDisc)), path.join(r.dir, initName(record.disc))).catch(ignoreExists);
    }
    if (placed.session !== r.session) {
      r.session = placed.session;
      await this.writeState();
      if (placed.newSession) await this.removeEncoderPlaylists(r, w.session);
    }
    await moveInto(src, dest);
    // A move held up by the storage may complete after a new owner claimed the stream: look again
    // before any playlist names it, and take it back out if so (the new owner's index never had it).
    if (await this.lease?.check(true)) {
      for (const f of [dest, ...gaps.map((g) => path.join(r.dir, storedName(g, r.ext)))]) await unlinkIfPresent(f).catch(() => undefined);
      return;
    }
    if (this.ext === 'm4s' && this.settings.dash) {
      await fs.mkdir(path.join(r.dir, DASH_DIR), { recursive: true });
      await fs.link(dest, path.join(r.dir, DASH_DIR, dashSegmentName(record.seq))).catch(ignoreExists);
    }
    for (const g of gaps) r.index.push({ ...g, bytes: 0 });
    const previousDisc = r.lastDisc;
    this.commit(r, record, bytes, w.n, init);
    r.parts.listed(w.session, w.n, record.seq);
    if (this.deps.liveView) {
      const initData = initBytes ?? (record.disc !== previousDisc ? r.recent.init(previousDisc) : undefined);
      if (initData) this.keepInit(r, record.disc, initData);
    }
    if (this.eventStartMs === undefined) {
      this.eventStartMs = record.startMs;
      await this.writeState();
    }
    this.learnFacts(r, media, placed.newSession ? (this.ext === 'm4s' ? path.join(r.dir, initName(record.disc)) : dest) : undefined);
    await publish(this.publishing, r, [...this.renditions.values()], this.manifests);
    r.counters.segmentsListed++;
    this.changed();
    const latencyMs = this.deps.now() - arrivedMs;
    r.counters.lastLatencyMs = latencyMs;
    this.deps.events.emit('listed', { ...this.ref, rendition: r.name, seq: record.seq, file: path.basename(dest),
      durationSec: durationUs / 1e6, latencyMs });
  }

  /** The segment is in place: the rendition's state follows. */
  private commit(r: Rendition, record: { seq: number; startMs: number; durationUs: number; disc: number; mediaStartUs: number },
    bytes: number, n: number, init: InitMedia | undefined): void {
    if (record.disc !== r.lastDisc && this.ext === 'm4s') r.inits.add(record.disc);
    if (record.disc !== r.lastDisc && r.lastDisc >= 0) r.counters.discontinuities++;
    r.init = init;
    r.lastN = n;
    r.holePending = false;
    r.takenOver = false;
    r.lastDisc = record.disc;
    r.index.push({ ...record, bytes });
    r.account(bytes, record.durationUs / 1e6);
    const target = Math.round(record.durationUs / 1e6);
    if (target > r.target) {
      this.log.warn({ rendition: r.name, seconds: record.durationUs / 1e6, target: r.target },
        'segment longer than the target duration: raising EXT-X-TARGETDURATION (check the encoder keyframe interval)');
      r.target = target;
    }
  }

  /**
   * Reads and inspects a segment; undefined when it is gone. Its bytes are not kept: from a local
   * spool they are read into one buffer shared by every stream and inspected before anything else
   * runs (no await between), so segments do not churn the heap. Arrival is the last write.
   */
  private async measure(src: string, init: InitMedia | undefined,
    keep = this.deps.liveView === true): Promise<{ media: SegmentMedia; bytes: number; arrivedMs: number; data?: Buffer } | undefined> {
    try {
      const { buf, mtimeMs } = this.deps.spoolIsLocal ? readTransientSync(src) : await readWhole(src);
      // The live view keeps its own copy (the transient buffer is reused by the next read).
      return { media: inspectSegment(buf, init), bytes: buf.length, arrivedMs: mtimeMs, ...(keep ? { data: Buffer.from(buf) } : {}) };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** The encoder's own playlists in incoming/ are not served; drop those of finished sessions. */
  private async removeEncoderPlaylists(r: Rendition, keepSession: string | undefined): Promise<void> {
    for (const f of await listDir(r.incomingDir)) {
      if (f.endsWith('.m3u8') && f !== `${keepSession ?? ''}.m3u8`) await unlinkIfPresent(path.join(r.incomingDir, f));
    }
  }

  private async loadInit(file: string, keep?: (data: Buffer) => void): Promise<InitMedia> {
    let buf: Buffer;
    try {
      buf = await fs.readFile(file);
    } catch (err) {
      throw new SegmentRejected(`no init segment ${path.basename(file)} (${errnoCode(err) ?? 'unreadable'})`);
    }
    const media = inspectInit(buf);
    keep?.(buf);
    return media;
  }

  /** The source was gone at most the reconnect grace (and an encoder's start) within one event. */
  private gapLimitMs(r: Rendition): number {
    return (this.settings.reconnectGraceSeconds + 3 * r.target) * 1000;
  }

  private keepInit(r: Rendition, disc: number, data: Buffer): void {
    if (this.deps.liveView) r.recent.addInit(disc, data);
  }

  get lastMaster(): string | undefined { return this.manifests.master; }

  /**
   * Low latency: what a blocking reload of a rendition's playlist lists now: the window as the
   * storage lists it, the parts of its newest segments, and those of the segment being encoded
   * when it follows the last listed one (a new session's parts wait until its first segment is listed).
   */
  llRendition(name: string): LlRendition | undefined {
    const r = this.renditions.get(name);
    if (!r || !this.lowLatency) return undefined;
    const input = playlistInput(this.publishing, r);
    const session = this.status === 'live' ? r.session?.session : undefined;
    const next = session !== undefined && r.lastN !== undefined ? r.parts.of(session, r.lastN + 1) : undefined;
    const { parts: current, heldBack } = listableParts(next?.parts ?? [], input.lowLatency?.partTarget ?? PART_TARGET_SECONDS);
    let hint: string | undefined;
    if (session !== undefined && r.lastN !== undefined) {
      // A held-back tail is the hint (it exists: asked for, it is answered at once).
      hint = next?.complete === true && !heldBack ? partName(session, r.lastN + 2, 0) : partName(session, r.lastN + 1, current.length);
    }
    return { input, partsOf: (seq) => r.parts.ofSeq(seq)?.parts, current, hint };
  }

  /** Where the stream's other renditions are (EXT-X-RENDITION-REPORT), from a rendition's playlist. */
  renditionReports(name: string): RenditionReport[] {
    return [...this.renditions.keys()].filter((k) => k !== name).flatMap((k) => {
      const v = this.llRendition(k);
      const last = v && lastPosition(v);
      return last ? [{ uri: `../${k}/index.m3u8`, lastMsn: last.msn, lastPart: last.part }] : [];
    });
  }

  /**
   * A partial segment: its bytes while held, or whether it may still come (the hinted part, or a
   * later one of the session being encoded) or never will (its segment closed before it, the event ended).
   */
  part(rendition: string, name: string): Buffer | 'coming' | 'never' {
    const r = this.renditions.get(rendition);
    const held = r?.parts.part(name)?.data;
    if (held) return held;
    const p = parsePartName(name);
    if (!r || !p || this.status !== 'live' || r.session?.session !== p.session || r.lastN === undefined || p.n <= r.lastN) return 'never';
    const seg = r.parts.of(p.session, p.n);
    if (seg?.complete === true && p.k >= seg.parts.length) return 'never';
    // No further ahead than the segment after the one being encoded.
    return p.n <= r.lastN + 2 ? 'coming' : 'never';
  }

  /** Counts the changes a blocked request may wait for (a part, a listed segment, the end). */
  get changes(): number { return this.changeCount; }

  /** The live view's MPD: each rendition's newest records and what waits in the spool. */
  async liveMpd(): Promise<string | undefined> {
    const views = [];
    for (const r of this.renditions.values()) {
      const v = await this.liveRendition(r.name);
      if (v) views.push({ r, index: v.index });
    }
    return renderLiveMpd(this.publishing, views);
  }

  /**
   * The live view of a rendition: its newest listed records, then what waits in the spool placed as
   * the packager will place it. Read without the stream's queue (a write held up by a frozen storage
   * holds the queue); a segment listed meanwhile makes it look again, so nothing is predicted from
   * a stale tail.
   */
  async liveRendition(name: string): Promise<LiveRenditionView | undefined> {
    const r = this.renditions.get(name);
    if (!r || !this.deps.liveView) return undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const next = r.index.nextSequence;
      const predicted = await this.predict(r);
      if (r.index.nextSequence !== next) continue;
      const n = r.index.length;
      const from = Math.max(r.playlistFrom, n - r.recent.capacity);
      const index = new SegmentIndex();
      for (let p = from; p < n; p++) index.push(r.index.at(p));
      for (const x of predicted) index.push(x.record);
      const spool = new Map(predicted.flatMap((x) => (x.file === undefined ? [] : [[x.record.seq, x.file] as const])));
      return { ext: r.ext, target: r.target, index, spool, recent: r.recent };
    }
    return undefined;
  }

  /**
   * The files waiting in a rendition's spool that continue its session without a hole, placed as
   * place() will: the same sequence numbers and names. A new session, a hole or a new discontinuity
   * ends the prediction (the packager decides those when the storage is back).
   */
  private async predict(r: Rendition): Promise<PredictedSegment[]> {
    if (this.status !== 'live' || r.takenOver || r.holePending || !r.session || r.index.length === 0) return [];
    let tail = r.tail(this.gapLimitMs(r));
    const out: PredictedSegment[] = [];
    const next = (record: Omit<PredictedSegment['record'], 'bytes'>, n: number, session: SessionState): void => {
      tail = { ...tail, last: { endMs: record.startMs + record.durationUs / 1000, disc: record.disc, mediaStartUs: record.mediaStartUs,
        durationUs: record.durationUs }, nextSeq: record.seq + 1, session, lastN: n };
    };
    // The segment being moved to the storage (its bytes are held): listed, and the rest follow it.
    const p = r.placing;
    if (p && p.record.seq === tail.nextSeq) {
      out.push({ record: p.record });
      next(p.record, p.n, p.session);
    }
    const seen = new Set<string>();
    for (const w of this.pendingSync(r)) {
      const key = `${r.name}/${w.file}`;
      seen.add(key);
      // Still in the spool while it is copied to the storage: listed above.
      if (w.session === tail.session?.session && tail.lastN !== undefined && w.n <= tail.lastN) continue;
      if (w.ext !== r.ext || w.session !== tail.session?.session || tail.lastN === undefined || w.n !== tail.lastN + 1) break;
      const m = this.previewed.get(key) ?? await this.previewMeasure(r, w.file);
      if (!m) break;
      this.previewed.set(key, m);
      const placed = placeSegment(tail, { session: w.session, n: w.n, arrivedMs: m.arrivedMs, durationUs: m.durationUs,
        mediaStartUs: m.mediaStartUs });
      if (placed.kind !== 'list' || placed.gaps.length > 0 || placed.record.disc !== tail.lastDisc) break;
      const { record } = placed;
      out.push({ record: { ...record, bytes: m.bytes }, file: path.join(r.incomingDir, w.file) });
      next(record, w.n, placed.session);
    }
    for (const k of this.previewed.keys()) if (k.startsWith(`${r.name}/`) && !seen.has(k)) this.previewed.delete(k);
    return out;
  }

  /**
   * pending(), read synchronously: the spool is local disk, and the thread pool may be taken by
   * writes the frozen storage holds (the live view must answer then). Nothing where the spool is
   * the storage itself.
   */
  private pendingSync(r: Rendition): Waiting[] {
    // A spool on the network mount itself is never read synchronously (a hung mount would hold the event loop).
    if (!this.deps.spoolIsLocal) return [];
    let names: string[];
    try {
      names = readdirSync(r.incomingDir);
    } catch {
      return [];
    }
    const files = waitingSegments(names);
    // The session the rendition follows first (its backlog is older than any new one), then by number.
    const current = r.session?.session;
    return files.sort((a, b) => Number(b.session === current) - Number(a.session === current) || a.session.localeCompare(b.session)
      || a.n - b.n);
  }

  private async previewMeasure(r: Rendition,
    file: string): Promise<{ durationUs: number; mediaStartUs: number; bytes: number; arrivedMs: number } | undefined> {
    try {
      const m = await this.measure(path.join(r.incomingDir, file), r.init, false);
      return m && { durationUs: Math.round(m.media.duration * 1e6), mediaStartUs: Math.max(0, Math.round(m.media.startTime * 1e6)),
        bytes: m.bytes, arrivedMs: m.arrivedMs };
    } catch {
      return undefined; // not a segment the packager will list: the prediction ends before it
    }
  }

  /** Codecs and frame rate from the inspector; the picture size from ffprobe, once per session. */
  private learnFacts(r: Rendition, media: SegmentMedia, probeFile: string | undefined): void {
    if (media.codecs.length > 0) r.facts.codecs = media.codecs;
    if (media.frameRate) r.facts.frameRate = media.frameRate;
    if (!probeFile) return;
    this.deps.probe(probeFile).then((size) => {
      if (!size) return;
      void this.enqueue(async () => {
        r.facts.width = size.width;
        r.facts.height = size.height;
        await this.manifests.write(this.publishing, [...this.renditions.values()], true);
      });
    }, (err: unknown) => this.log.warn({ rendition: r.name, err: String(err) }, 'could not probe the picture size'));
  }

  /**
   * New DVR settings for a running stream (a change through the API): the window, cap and the rest
   * apply from now on (a shorter window purges at once), with no restart of the encoder and no
   * discontinuity.
   */
  updateDvr(dvr: Readonly<Partial<DvrSettings>>): Promise<void> {
    return this.enqueue(async () => {
      const next = parseStreamSettings({ ...this.current, ...dvr });
      if (JSON.stringify(next) === JSON.stringify(this.current)) return;
      this.current = next;
      for (const w of settingsWarnings(next)) this.log.warn(w);
      this.log.info({ ...dvr }, 'DVR settings changed');
      await this.writeState();
      await this.publishAll();
    });
  }

  private async publishAll(): Promise<void> {
    const all = [...this.renditions.values()];
    for (const r of all) if (r.index.length > 0) await publish(this.publishing, r, all, this.manifests);
  }

  /** A segment arrived for an ended event: apply the archive strategy, then go live again. */
  private async startNewEvent(): Promise<void> {
    const strategy = this.settings.archiveStrategy;
    const names = new Set(this.renditions.keys());
    let version: number | undefined;
    if (strategy === 'version') version = await moveToVersion(this.paths, names);
    if (strategy === 'delete') await deleteEvent(this.paths, names);
    if (strategy !== 'append') {
      // Discontinuity numbers keep counting, so init segment names are never reused.
      const lastDiscs = new Map([...this.renditions].map(([k, r]) => [k, r.lastDisc]));
      for (const name of names) this.addRendition(name);
      for (const [k, d] of lastDiscs) (this.renditions.get(k) as Rendition).lastDisc = d;
      this.eventStartMs = undefined;
      this.manifests.reset();
    }
    this.status = 'live';
    this.endedAt = undefined;
    await this.writeState();
    this.log.info({ strategy, version }, 'stream published again after its event ended');
    this.deps.events.emit('republished', { ...this.ref, strategy, ...(version !== undefined ? { version } : {}) });
  }

  private async writeState(): Promise<void> {
    const state: StreamStateFile = {
      status: this.status, eventStartMs: this.eventStartMs, settings: { ...this.settings },
      ...(this.status === 'ended' ? { endedAt: this.endedAt ?? this.deps.now(), storedBytes: this.storedBytes } : {}),
      sessions: Object.fromEntries([...this.renditions].filter(([, r]) => r.session).map(([k, r]) => [k, r.session as SessionState])),
    };
    await writeAtomic(path.join(this.paths.dir, STREAM_STATE), JSON.stringify(state, null, 2) + '\n');
  }
}

