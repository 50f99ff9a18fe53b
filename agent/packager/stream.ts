// One stream's packager: takes the encoder's finished files from <rendition>/incoming/, checks
// them, names them canonically, keeps the DVR index and writes playlists and the MPD.
// Work for a stream is serialised on one queue, so its state is never seen half-updated.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DvrError, errnoCode } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { PackagerEmitter, StreamRef } from './events.js';
import { listDir, moveInto, readJson, readTransientSync, readWhole, unlinkIfPresent, writeAtomic } from './files.js';
import type { Gate } from './gate.js';
import {
  CHUNK_DIR, CHUNKED_PLAYLIST, DASH_DIR, DASH_MANIFEST, DELTA_PLAYLIST, INCOMING_DIR, MASTER, PLAYLIST, STREAM_STATE,
  chunkName, dashSegmentName, initName, parseIncomingName, renditionDir, segmentName, streamPaths,
  type SegmentExt, type StreamPaths,
} from './layout.js';
import { inspectInit, inspectSegment, SegmentRejected, type InitMedia, type SegmentMedia } from './media/inspect.js';
import { readLease, supersedes, writeLease, type HeldLease, type Lease } from './lease.js';
import { newCounters, type RenditionCounters } from './metrics.js';
import { renderMpd } from './render/dash.js';
import {
  CHUNK_SIZE, renderChunk, renderDeltaPlaylist, renderMediaPlaylist, type MediaPlaylistInput, type PlaylistKind,
} from './render/hls.js';
import { renderMaster, type VariantInfo } from './render/master.js';
import { Rendition, type SessionState } from './rendition.js';
import type { StreamSettings } from './settings.js';
import { capTrim, purgeUpTo, windowHead } from './window.js';

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
}

interface StreamStateFile {
  status: 'live' | 'ended';
  eventStartMs: number | undefined;
  sessions: Record<string, SessionState>;
  settings: StreamSettings;
}

interface RenditionStats {
  counters: RenditionCounters;
  peakBps: number;
  totalBytes: number;
  totalSeconds: number;
  capTrimmed: boolean;
}


export class StreamPackager {
  readonly paths: StreamPaths;
  private readonly renditions = new Map<string, Rendition>();
  private readonly stats = new Map<string, RenditionStats>();
  private status: 'live' | 'ended' = 'live';
  private eventStartMs: number | undefined;
  private queue: Promise<void> = Promise.resolve();
  private lastMaster = '';
  private advertised = new Map<string, number>();
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Renditions whose incoming/ holds files that wait (storage down, output failed): drained in order. */
  private readonly backlog = new Set<string>();
  private readonly log: Logger;
  private readonly ref: StreamRef;
  /** The newer assignment that stopped this writer, once it found one. */
  private fencedBy: HeldLease | undefined;
  private leaseCheckedAt = Number.NEGATIVE_INFINITY;

  constructor(root: string, readonly settings: Readonly<StreamSettings>, private readonly deps: StreamDeps) {
    this.paths = streamPaths(root, settings.app, settings.stream);
    this.ref = { app: settings.app, stream: settings.stream };
    this.log = deps.log.child({ stream: `${settings.app}/${settings.stream}` });
    for (const r of settings.renditions) this.addRendition(r);
  }

  get ext(): SegmentExt { return this.settings.format === 'fmp4' ? 'm4s' : 'ts'; }
  get ended(): boolean { return this.status === 'ended'; }
  get incomingDirs(): string[] { return [...this.renditions.values()].map((r) => r.incomingDir); }
  /** The stream's directory in the spool: the encoder writes <spoolDir>/<rendition>/incoming/. */
  get spoolDir(): string { return path.join(this.deps.spoolRoot, this.paths.app, this.paths.stream); }

  rendition(name: string): Rendition | undefined { return this.renditions.get(name); }

  counters(): Record<string, RenditionCounters> {
    return Object.fromEntries([...this.stats].map(([k, v]) => [k, { ...v.counters }]));
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
    if (this.deps.lease && await this.claim(this.deps.lease)) {
      const wait = this.deps.takeoverDelayMs;
      this.queue = this.queue.then(() => new Promise((resolve) => setTimeout(resolve, wait)));
      void this.enqueue(() => this.recoverIndex(true));
      return;
    }
    await this.recoverIndex(false);
  }

  /** Records `mine` as the stream's writer; true when it takes the stream over from another assignment. */
  private async claim(mine: Lease): Promise<boolean> {
    const held = await readLease(this.paths.dir);
    if (supersedes(held, mine)) {
      throw new DvrError('DVR_ERR_FENCED', `stream ${this.ref.app}/${this.ref.stream} is written by ${held?.node ?? '?'} `
        + `under a newer assignment (epoch ${held?.epoch ?? '?'} > ${mine.epoch}): this job is stale and does not start`);
    }
    await writeLease(this.paths.dir, mine, this.deps.now());
    this.leaseCheckedAt = this.deps.now();
    const takeover = held !== undefined && (held.epoch !== mine.epoch || held.node !== mine.node);
    if (takeover) {
      this.log.info({ from: held.node, fromEpoch: held.epoch, epoch: mine.epoch, waitMs: this.deps.takeoverDelayMs },
        'taking the stream over: the index is rebuilt from the directory after the takeover delay');
    }
    return takeover;
  }

  /**
   * Whether this writer must stop: a newer assignment is recorded in the stream's directory. Read
   * at most every half takeover delay (a new owner waits a whole one before writing), or now when
   * `force` is set.
   */
  private async fenced(force = false): Promise<boolean> {
    const mine = this.deps.lease;
    if (!mine) return false;
    if (this.fencedBy) return true;
    const now = this.deps.now();
    if (!force && now - this.leaseCheckedAt < this.deps.takeoverDelayMs / 2) return false;
    // An unreadable record (storage down) stops nothing: the write that follows fails on its own.
    const held = await readLease(this.paths.dir).catch(() => undefined);
    this.leaseCheckedAt = now;
    if (!held || !supersedes(held, mine)) return false;
    this.fencedBy = held;
    this.log.error({ by: held.node, epoch: held.epoch, mine: mine.epoch },
      'the stream moved to another writer (newer assignment): this one stops writing it');
    this.deps.events.emit('fenced', { ...this.ref, by: held.node, epoch: held.epoch, mine: mine.epoch });
    return true;
  }

  /**
   * Rebuilds the index of every rendition from its directory and writes the playlists. Taken over
   * from another writer, the encoder sessions it recorded are not continued: whatever this node
   * ingests starts a new session (a discontinuity), even an origin's fragments that carry none.
   */
  private async recoverIndex(takeover: boolean): Promise<void> {
    const saved = (await readJson(path.join(this.paths.dir, STREAM_STATE))) as Partial<StreamStateFile> | undefined;
    if (saved) {
      this.status = saved.status === 'ended' ? 'ended' : 'live';
      this.eventStartMs = saved.eventStartMs;
    }
    for (const r of this.renditions.values()) {
      const { segments, ignored } = await r.recover();
      if (ignored.length > 0) this.log.warn({ rendition: r.name, ignored: ignored.length }, 'segments before a hole in the sequence are not listed');
      const session = takeover ? undefined : saved?.sessions?.[r.name];
      r.takenOver = takeover;
      if (session && this.ext === 'm4s') r.init = await this.loadInit(path.join(r.dir, initName(session.disc))).catch(() => undefined);
      r.session = session;
      this.restoreStats(r);
      if (segments > 0) this.log.info({ rendition: r.name, segments, firstSeq: r.index.firstSequence }, 'index rebuilt from the directory');
    }
    await this.writeState();
    await this.refreshAll();
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
      if (this.backlog.has(rendition)) {
        await this.drain(rendition);
      } else if (!this.deps.storageAvailable()) {
        this.backlog.add(rendition);
        this.scheduleRetry();
      } else if (!(await this.ingestNow(rendition, file))) {
        this.backlog.add(rendition);
      }
    });
  }

  /** Lists what waits in every incoming/ (after a restart or an output failure). */
  async scanIncoming(): Promise<void> {
    for (const r of this.renditions.values()) await this.ingest(r.name);
  }

  /** Waiting files in order: sessions by their oldest file, then by the encoder's number. */
  private async pending(r: Rendition): Promise<string[]> {
    const files = (await listDir(r.incomingDir)).flatMap((f) => {
      const p = parseIncomingName(f);
      return p?.kind === 'segment' ? [{ f, session: p.session, n: p.n }] : [];
    });
    const firstSeen = new Map<string, number>();
    for (const x of files) {
      const st = await fs.stat(path.join(r.incomingDir, x.f)).catch(() => undefined);
      const t = st?.mtimeMs ?? Infinity;
      firstSeen.set(x.session, Math.min(firstSeen.get(x.session) ?? Infinity, t));
    }
    // The session being listed now goes first: its backlog is older than any new session.
    const current = r.session?.session;
    const rank = (session: string): number => (session === current ? -Infinity : firstSeen.get(session) ?? Infinity);
    files.sort((a, b) => rank(a.session) - rank(b.session) || a.session.localeCompare(b.session) || a.n - b.n);
    return files.map((x) => x.f);
  }

  private async drain(rendition: string): Promise<void> {
    const r = this.renditions.get(rendition);
    if (!r) return;
    for (const file of await this.pending(r)) {
      if (!this.deps.storageAvailable()) {
        // Shared storage is down: segments stay in the local spool, listed in order later.
        this.backlog.add(rendition);
        this.scheduleRetry();
        return;
      }
      if (!(await this.ingestNow(rendition, file))) {
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
      for (const r of this.renditions.values()) {
        r.session = undefined;
        r.init = undefined;
        r.lastN = undefined;
        await this.removeEncoderPlaylists(r, undefined);
      }
      await this.writeState();
      await this.refreshAll();
      this.log.info({ recording: this.settings.recording }, 'event ended');
      this.deps.events.emit('ended', { ...this.ref });
    });
  }

  /** Waits for queued work; later calls are refused. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
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
    const guarded = async (): Promise<void> => { if (!(await this.fenced())) await task(); };
    const gated = (): Promise<void> => (this.deps.gate ? this.deps.gate.run(guarded) : guarded());
    const run = this.queue.then(gated, gated);
    this.queue = run.catch((err: unknown) => {
      this.log.error({ err }, 'packager task failed');
    });
    return this.queue;
  }

  private addRendition(name: string): void {
    const spool = path.join(this.deps.spoolRoot, this.paths.app, this.paths.stream, name);
    const r = new Rendition(name, renditionDir(this.paths, name), spool, this.ext, this.settings.segmentSeconds);
    this.renditions.set(name, r);
    this.stats.set(name, { counters: newCounters(), peakBps: 0, totalBytes: 0, totalSeconds: 0, capTrimmed: false });
  }

  private restoreStats(r: Rendition): void {
    const st = this.statsOf(r);
    for (let p = 0; p < r.index.length; p++) this.account(st, r.index.bytesAt(p), r.index.durationUsAt(p) / 1e6, r.target);
  }

  private statsOf(r: Rendition): RenditionStats {
    return this.stats.get(r.name) as RenditionStats;
  }

  private account(st: RenditionStats, bytes: number, seconds: number, target: number): void {
    if (seconds <= 0) return;
    // A short last segment (encoder flush) says little about the peak rate.
    if (seconds >= target / 2) st.peakBps = Math.max(st.peakBps, (bytes * 8) / seconds);
    st.totalBytes += bytes;
    st.totalSeconds += seconds;
  }

  /** Lists or rejects one file; false when the output failed and the rest must wait for a retry. */
  private async ingestNow(renditionName: string, file: string): Promise<boolean> {
    const r = this.renditions.get(renditionName);
    const incoming = parseIncomingName(file);
    if (!r || !incoming || incoming.kind !== 'segment') return true;
    const src = path.join(r.incomingDir, file);
    const where = { ...this.ref, rendition: r.name, file };
    let current = r;
    try {
      if (this.status === 'ended') {
        // Already listed by an earlier event for the same file: nothing starts.
        if (!(await fs.access(src).then(() => true, () => false))) return true;
        await this.startNewEvent();
      }
      // A new event may have replaced the rendition's state.
      current = this.renditions.get(renditionName) ?? r;
      await this.place(current, incoming.session, incoming.n, incoming.ext, src);
    } catch (err) {
      if (err instanceof SegmentRejected) {
        current.holePending = true;
        const c = this.statsOf(r).counters;
        c.segmentsRejected++;
        this.log.warn({ rendition: r.name, file, reason: err.reason }, 'segment rejected: not listed');
        this.deps.events.emit('rejected', { ...where, reason: err.reason });
        await unlinkIfPresent(src).catch(() => undefined);
        return true;
      }
      this.statsOf(r).counters.outputErrors++;
      const code = errnoCode(err) ?? 'EIO';
      const message = `stream ${this.ref.app}/${this.ref.stream} rendition ${r.name}: cannot write to ${r.dir} (${code}); `
        + 'the segment waits in incoming/ and is retried';
      this.log.error({ rendition: r.name, file, code }, message);
      this.deps.events.emit('problem', { ...this.ref, rendition: r.name, code: 'DVR_ERR_OUTPUT_DIR', message });
      this.scheduleRetry();
      return false;
    }
    return true;
  }

  /** Checks, names and lists one segment. Nothing in memory changes until the files are in place. */
  private async place(r: Rendition, session: string, n: number, ext: SegmentExt, src: string): Promise<void> {
    if (ext !== r.ext) throw new SegmentRejected(`a .${ext} segment in a ${this.settings.format} stream`);
    const newSession = r.session?.session !== session;
    let init: InitMedia | undefined;
    if (this.ext === 'm4s') {
      init = newSession ? await this.loadInit(path.join(r.incomingDir, `${session}-init.mp4`))
        : r.init ?? await this.loadInit(path.join(r.dir, initName(r.session?.disc ?? 0)));
    }
    const measured = await this.measure(src, init);
    if (!measured) return; // already listed by an earlier event for the same file
    const { media, bytes, arrivedMs } = measured;
    const durationUs = Math.round(media.duration * 1e6);
    const mediaStartUs = Math.max(0, Math.round(media.startTime * 1e6));
    const last = r.index.length > 0 ? r.index.length - 1 : -1;
    const prevEnd = last >= 0 ? r.index.endMsAt(last) : 0;
    // Taking a stream over, a segment finished well before the end of what the previous writer
    // listed (a backlog of an origin's fragments it had pulled already) would replay that time: it
    // is dropped, not listed again.
    if (r.takenOver && last >= 0 && arrivedMs < prevEnd - r.target * 500) {
      await unlinkIfPresent(src);
      this.statsOf(r).counters.segmentsSuperseded++;
      this.log.debug({ rendition: r.name, session, n, arrivedMs, listedUntil: prevEnd }, 'segment of time already listed: dropped');
      return;
    }

    let state = r.session;
    let hole = r.holePending || (!newSession && r.lastN !== undefined && n !== r.lastN + 1);
    if (!newSession && state && last >= 0 && r.index.discAt(last) >= state.disc) {
      const expected = r.index.mediaStartUsAt(last) + r.index.durationUsAt(last);
      if (Math.abs(mediaStartUs - expected) > 500_000 * r.target) hole = true;
      if (mediaStartUs < expected - 500_000 * r.target) {
        // Timestamps went back without a reconnect: re-anchor at the live edge.
        state = { ...state, anchorWallMs: prevEnd, anchorMediaUs: mediaStartUs };
      }
    }
    let disc: number;
    let initFrom: 'incoming' | 'link' | undefined;
    if (newSession || !state) {
      disc = r.lastDisc + 1;
      initFrom = 'incoming';
      state = { session, disc, anchorWallMs: Math.max(prevEnd, arrivedMs - durationUs / 1000), anchorMediaUs: mediaStartUs };
    } else if (state.disc > r.lastDisc) {
      disc = state.disc; // the session was registered before a failure; its init is in place
    } else if (hole) {
      disc = r.lastDisc + 1;
      initFrom = 'link';
    } else {
      disc = r.lastDisc;
    }
    const startMs = Math.max(prevEnd, Math.round(state.anchorWallMs + (mediaStartUs - state.anchorMediaUs) / 1000));
    const seq = r.index.nextSequence;
    const record = { seq, startMs, durationUs, disc, mediaStartUs, bytes };
    const dest = path.join(r.dir, segmentName(record, r.ext));

    if (await this.fenced()) return;
    if (this.ext === 'm4s' && initFrom === 'incoming') {
      await moveInto(path.join(r.incomingDir, `${session}-init.mp4`), path.join(r.dir, initName(disc)));
    } else if (this.ext === 'm4s' && initFrom === 'link') {
      await fs.link(path.join(r.dir, initName(r.lastDisc)), path.join(r.dir, initName(disc))).catch(ignoreExists);
    }
    if (state !== r.session) {
      r.session = state;
      await this.writeState();
      if (newSession) await this.removeEncoderPlaylists(r, session);
    }
    await moveInto(src, dest);
    // A move held up by the storage may complete after a new owner claimed the stream: look again
    // before any playlist names it, and take it back out if so (the new owner's index never had it).
    if (await this.fenced(true)) {
      await unlinkIfPresent(dest).catch(() => undefined);
      return;
    }
    if (this.ext === 'm4s' && this.settings.dash) {
      await fs.mkdir(path.join(r.dir, DASH_DIR), { recursive: true });
      await fs.link(dest, path.join(r.dir, DASH_DIR, dashSegmentName(seq))).catch(ignoreExists);
    }

    if (disc !== r.lastDisc && this.ext === 'm4s') r.inits.add(disc);
    const st = this.statsOf(r);
    if (disc !== r.lastDisc && r.lastDisc >= 0) st.counters.discontinuities++;
    r.init = init;
    r.lastN = n;
    r.holePending = false;
    r.takenOver = false;
    r.lastDisc = disc;
    r.index.push(record);
    if (this.eventStartMs === undefined) {
      this.eventStartMs = startMs;
      await this.writeState();
    }
    this.account(st, bytes, durationUs / 1e6, r.target);
    this.learnFacts(r, media.codecs, media.frameRate, newSession ? (this.ext === 'm4s' ? path.join(r.dir, initName(disc)) : dest) : undefined);
    const target = Math.round(durationUs / 1e6);
    if (target > r.target) {
      this.log.warn({ rendition: r.name, seconds: durationUs / 1e6, target: r.target },
        'segment longer than the target duration: raising EXT-X-TARGETDURATION (check the encoder keyframe interval)');
      r.target = target;
    }

    await this.refresh(r);
    st.counters.segmentsListed++;
    const latencyMs = this.deps.now() - arrivedMs;
    st.counters.lastLatencyMs = latencyMs;
    this.deps.events.emit('listed', { ...this.ref, rendition: r.name, seq, file: path.basename(dest),
      durationSec: durationUs / 1e6, latencyMs });
  }

  /**
   * Reads and inspects a segment; undefined when it is gone. Its bytes are not kept: from a local
   * spool they are read into one buffer shared by every stream and inspected before anything else
   * runs (no await between), so segments do not churn the heap. Arrival is the last write.
   */
  private async measure(src: string, init: InitMedia | undefined): Promise<{ media: SegmentMedia; bytes: number; arrivedMs: number } | undefined> {
    try {
      const { buf, mtimeMs } = this.deps.spoolIsLocal ? readTransientSync(src) : await readWhole(src);
      return { media: inspectSegment(buf, init), bytes: buf.length, arrivedMs: mtimeMs };
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

  private async loadInit(file: string): Promise<InitMedia> {
    let buf: Buffer;
    try {
      buf = await fs.readFile(file);
    } catch (err) {
      throw new SegmentRejected(`no init segment ${path.basename(file)} (${errnoCode(err) ?? 'unreadable'})`);
    }
    return inspectInit(buf);
  }

  private learnFacts(r: Rendition, codecs: string[], frameRate: number | undefined, probeFile: string | undefined): void {
    if (codecs.length > 0) r.facts.codecs = codecs;
    if (frameRate) r.facts.frameRate = frameRate;
    if (!probeFile) return;
    this.deps.probe(probeFile).then((size) => {
      if (!size) return;
      void this.enqueue(async () => {
        r.facts.width = size.width;
        r.facts.height = size.height;
        await this.writeStreamManifests(true);
      });
    }, (err: unknown) => this.log.warn({ rendition: r.name, err: String(err) }, 'could not probe the picture size'));
  }

  /** Window, purge, then every playlist of the rendition and the stream's manifests. */
  private async refresh(r: Rendition): Promise<void> {
    const st = this.statsOf(r);
    const settings = this.settings;
    const live = this.status === 'live';
    r.listedFrom = live || !settings.recording ? windowHead(r.index, r.listedFrom, settings, r.target) : 0;
    let upTo = purgeUpTo(r.index, 0, r.listedFrom, settings, r.target);
    const capTo = settings.recording ? 0 : capTrim(r.index, 0, { ...settings, storageCapBytes: this.capShare(r) }, r.target);
    if (capTo > upTo) {
      st.counters.capTrims++;
      st.capTrimmed = true;
      this.log.warn({ rendition: r.name, segments: capTo - upTo, capBytes: settings.storageCapBytes },
        'storage cap reached: deleting the oldest media early');
      upTo = capTo;
      r.listedFrom = Math.max(r.listedFrom, upTo);
    }
    await this.writeChunks(r);
    const input = this.playlistInput(r);
    await this.writeFullPlaylist(r, renderMediaPlaylist(input));
    if (input.canSkipUntil > 0) await writeAtomic(path.join(r.dir, DELTA_PLAYLIST), renderDeltaPlaylist(input));
    await this.writeStreamManifests(false);
    if (upTo > 0) await this.purge(r, upTo, capTo === upTo && capTo > 0 ? 'cap' : 'window');
  }

  /** The stream's storage cap, shared by its renditions in proportion to their bit rates. */
  private capShare(r: Rendition): number {
    if (this.settings.storageCapBytes <= 0) return 0;
    const rate = (x: RenditionStats): number => (x.totalSeconds > 0 ? x.totalBytes / x.totalSeconds : 0);
    const all = [...this.stats.values()].reduce((a, x) => a + rate(x), 0);
    const mine = rate(this.statsOf(r));
    return all > 0 && mine > 0 ? Math.floor((this.settings.storageCapBytes * mine) / all) : this.settings.storageCapBytes;
  }

  /**
   * A playlist that includes chunks goes to index.m3u8.ssi, which nginx assembles; a plain one
   * to index.m3u8, served as a file. Only one of the two exists once the switch is done, and
   * the new one is in place before the old one goes, so a reader always finds one.
   */
  private async writeFullPlaylist(r: Rendition, text: string): Promise<void> {
    const chunked = text.includes('<!--# include');
    await writeAtomic(path.join(r.dir, chunked ? CHUNKED_PLAYLIST : PLAYLIST), text);
    if (chunked !== r.chunkedForm) {
      await unlinkIfPresent(path.join(r.dir, chunked ? PLAYLIST : CHUNKED_PLAYLIST));
      r.chunkedForm = chunked;
    }
  }

  private async refreshAll(): Promise<void> {
    for (const r of this.renditions.values()) {
      if (r.index.length > 0) await this.refresh(r);
    }
  }

  private playlistKind(r: Rendition): PlaylistKind {
    if (this.status === 'ended' && this.settings.recording) return 'vod';
    return this.settings.windowSeconds === 0 && !this.statsOf(r).capTrimmed ? 'event' : 'live';
  }

  private playlistInput(r: Rendition): MediaPlaylistInput {
    const kind = this.playlistKind(r);
    const wantsDelta = this.settings.deltaUpdates && kind !== 'vod'
      && (this.settings.windowSeconds === 0 || this.settings.windowSeconds > 6 * r.target);
    const input: MediaPlaylistInput = {
      index: r.index, from: kind === 'vod' ? 0 : r.listedFrom, ext: r.ext, target: r.target, kind,
      ended: this.status === 'ended', canSkipUntil: wantsDelta ? 6 * r.target : 0, chunkedBelow: r.chunkedBelow,
    };
    if (r.ext === 'm4s') input.initUri = (disc) => initName(disc);
    return input;
  }

  /** Writes each newly completed chunk of CHUNK_SIZE segments once; they never change after. */
  private async writeChunks(r: Rendition): Promise<void> {
    const input = this.playlistInput(r);
    if (r.chunkedBelow < r.index.firstSequence) {
      r.chunkedBelow = r.index.firstSequence - (r.index.firstSequence % CHUNK_SIZE);
    }
    while (r.chunkedBelow + CHUNK_SIZE <= r.index.nextSequence) {
      if (r.index.posOf(r.chunkedBelow) >= 0) {
        await fs.mkdir(path.join(r.dir, CHUNK_DIR), { recursive: true });
        await writeAtomic(path.join(r.dir, CHUNK_DIR, chunkName(r.chunkedBelow)), renderChunk(input, r.chunkedBelow));
      }
      r.chunkedBelow += CHUNK_SIZE;
    }
  }

  private variants(): Array<{ r: Rendition; info: VariantInfo }> {
    const out: Array<{ r: Rendition; info: VariantInfo }> = [];
    for (const r of this.renditions.values()) {
      const st = this.statsOf(r);
      if (r.index.length === 0 || st.totalSeconds <= 0) continue;
      const advertised = this.advertised.get(r.name) ?? 0;
      // Keep BANDWIDTH stable: move it only when the measured peak leaves it by more than 10 %.
      const bandwidth = Math.abs(st.peakBps - advertised) > 0.1 * advertised ? st.peakBps : advertised;
      this.advertised.set(r.name, bandwidth);
      out.push({ r, info: { rendition: r.name, bandwidth, averageBandwidth: Math.min(bandwidth, (st.totalBytes * 8) / st.totalSeconds),
        codecs: r.facts.codecs, width: r.facts.width, height: r.facts.height, frameRate: r.facts.frameRate } });
    }
    return out;
  }

  private async writeStreamManifests(force: boolean): Promise<void> {
    const variants = this.variants();
    if (variants.length === 0) return;
    const master = renderMaster(variants.map((v) => v.info), this.ext === 'm4s');
    if (force || master !== this.lastMaster) {
      await writeAtomic(path.join(this.paths.dir, MASTER), master);
      this.lastMaster = master;
    }
    if (this.ext !== 'm4s' || !this.settings.dash) return;
    const target = Math.max(...variants.map((v) => v.r.target));
    const mpd = renderMpd({
      renditions: variants.map((v) => ({ info: v.info, index: v.r.index,
        from: this.status === 'ended' && this.settings.recording ? 0 : v.r.listedFrom })),
      availabilityStartMs: this.eventStartMs ?? 0, windowSeconds: this.settings.windowSeconds,
      target, ended: this.status === 'ended', publishMs: this.deps.now(),
    });
    await writeAtomic(path.join(this.paths.dir, DASH_MANIFEST), mpd);
  }

  private async purge(r: Rendition, upTo: number, reason: 'window' | 'cap'): Promise<void> {
    let bytes = 0;
    let count = 0;
    for (let i = 0; i < upTo; i++) {
      const rec = r.index.at(0);
      await unlinkIfPresent(path.join(r.dir, segmentName(rec, r.ext)));
      if (r.ext === 'm4s') await unlinkIfPresent(path.join(r.dir, DASH_DIR, dashSegmentName(rec.seq)));
      if ((rec.seq + 1) % CHUNK_SIZE === 0) await unlinkIfPresent(path.join(r.dir, CHUNK_DIR, chunkName(rec.seq + 1 - CHUNK_SIZE)));
      bytes += rec.bytes;
      count++;
      r.index.shift();
      r.listedFrom = Math.max(0, r.listedFrom - 1);
    }
    const minDisc = r.index.length > 0 ? r.index.discAt(0) : r.lastDisc;
    for (const d of [...r.inits]) {
      if (d < minDisc) {
        await unlinkIfPresent(path.join(r.dir, initName(d)));
        r.inits.delete(d);
      }
    }
    const c = this.statsOf(r).counters;
    c.segmentsPurged += count;
    c.bytesPurged += bytes;
    this.log.debug({ rendition: r.name, count, bytes, reason }, 'purged');
    this.deps.events.emit('purged', { ...this.ref, rendition: r.name, count, bytes, reason });
  }

  /** A segment arrived for an ended event: apply the archive strategy, then go live again. */
  private async startNewEvent(): Promise<void> {
    const strategy = this.settings.archiveStrategy;
    let version: number | undefined;
    if (strategy === 'version') version = await this.moveToVersion();
    if (strategy === 'delete') await this.deleteEventFiles();
    if (strategy !== 'append') {
      // Discontinuity numbers keep counting, so init segment names are never reused.
      const lastDiscs = new Map([...this.renditions].map(([k, r]) => [k, r.lastDisc]));
      for (const name of [...this.renditions.keys()]) this.addRendition(name);
      for (const [k, d] of lastDiscs) (this.renditions.get(k) as Rendition).lastDisc = d;
      this.eventStartMs = undefined;
      this.lastMaster = '';
      this.advertised.clear();
    }
    this.status = 'live';
    await this.writeState();
    this.log.info({ strategy, version }, 'stream published again after its event ended');
    this.deps.events.emit('republished', { ...this.ref, strategy, ...(version !== undefined ? { version } : {}) });
  }

  /** Moves the ended event (everything but incoming/) to <stream>.<N>/ and returns N. */
  private async moveToVersion(): Promise<number> {
    const appDir = path.dirname(this.paths.dir);
    const prefix = `${this.paths.stream}.`;
    const taken = (await listDir(appDir)).filter((d) => d.startsWith(prefix)).map((d) => Number(d.slice(prefix.length)))
      .filter((v) => Number.isInteger(v));
    const version = taken.length === 0 ? 0 : Math.max(...taken) + 1;
    const target = path.join(appDir, `${prefix}${version}`);
    await fs.mkdir(target);
    for (const entry of await listDir(this.paths.dir)) {
      if (this.renditions.has(entry)) {
        await fs.mkdir(path.join(target, entry));
        for (const f of await listDir(path.join(this.paths.dir, entry))) {
          if (f !== INCOMING_DIR) await fs.rename(path.join(this.paths.dir, entry, f), path.join(target, entry, f));
        }
      } else {
        await fs.rename(path.join(this.paths.dir, entry), path.join(target, entry));
      }
    }
    return version;
  }

  private async deleteEventFiles(): Promise<void> {
    for (const entry of await listDir(this.paths.dir)) {
      if (!this.renditions.has(entry)) {
        await fs.rm(path.join(this.paths.dir, entry), { recursive: true, force: true });
        continue;
      }
      for (const f of await listDir(path.join(this.paths.dir, entry))) {
        if (f !== INCOMING_DIR) await fs.rm(path.join(this.paths.dir, entry, f), { recursive: true, force: true });
      }
    }
  }

  private async writeState(): Promise<void> {
    const state: StreamStateFile = {
      status: this.status, eventStartMs: this.eventStartMs, settings: { ...this.settings },
      sessions: Object.fromEntries([...this.renditions].filter(([, r]) => r.session).map(([k, r]) => [k, r.session as SessionState])),
    };
    await writeAtomic(path.join(this.paths.dir, STREAM_STATE), JSON.stringify(state, null, 2) + '\n');
  }
}

function ignoreExists(err: unknown): void {
  if (errnoCode(err) !== 'EEXIST') throw err;
}
