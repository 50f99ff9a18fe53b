// The packager of one agent: its streams under a storage root, and the watcher that feeds them.
import path from 'node:path';
import { DvrError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { PackagerEmitter } from './events.js';
import { Gate } from '../common/gate.js';
import { ffprobeVideoSize } from './media/probe.js';
import { parseStreamSettings, settingsWarnings, type StreamSettings } from './settings.js';
import type { DvrSettings } from '../common/stream-settings.js';
import type { Lease } from './write/lease.js';
import { StreamPackager, type VideoProbe } from './stream.js';
import { watchIncoming, type IncomingWatcher } from './watch.js';

export interface PackagerOptions {
  root: string;
  log: Logger;
  now?: () => number;
  probe?: VideoProbe;
  retryDelayMs?: number;
  /** Local directory the encoder writes to; defaults to `root`. */
  spoolRoot?: string;
  /** The spool is local disk, never a network mount (default: only when it is not `root`). */
  spoolIsLocal?: boolean;
  /** False while the shared storage is down (see agent/storage). */
  storageAvailable?: () => boolean;
  /** Streams whose work may run at once (default 16): bounds the threads a hung mount can hold. */
  concurrentStreamTasks?: number;
  /** A new owner of a stream waits this long after claiming it before its first write (default 2000). */
  takeoverDelayMs?: number;
  /** Keep each stream's newest media for the live view (the transcoder serves it to edges). */
  liveView?: boolean;
}

export class Packager {
  readonly events = new PackagerEmitter();
  private readonly streams = new Map<string, StreamPackager>();
  private readonly watchers = new Map<StreamPackager, IncomingWatcher>();
  private closing: Promise<void> | undefined;
  private readonly root: string;
  private readonly log: Logger;
  private readonly gate: Gate;

  constructor(private readonly options: PackagerOptions) {
    this.root = path.resolve(options.root);
    this.gate = new Gate(options.concurrentStreamTasks ?? 16);
    this.log = options.log.child({ part: 'packager' });
  }

  /**
   * Adds (or reopens after a restart) a stream: validates its settings, rebuilds its index, lists any
   * backlog. Its incoming/ directories are watched unless `fed`: a feed then offers each file itself.
   */
  async addStream(input: Partial<StreamSettings> & { app: string; stream: string },
    options: { fed?: boolean; lease?: Lease } = {}): Promise<StreamPackager> {
    const settings = parseStreamSettings(input);
    const key = `${settings.app}/${settings.stream}`;
    if (this.streams.has(key)) throw new DvrError('DVR_ERR_STREAM_EXISTS', `stream ${key} is already packaged here`);
    for (const w of settingsWarnings(settings)) this.log.warn(w);
    const sp = new StreamPackager(this.root, settings, {
      log: this.options.log, events: this.events, now: this.options.now ?? Date.now,
      probe: this.options.probe ?? ffprobeVideoSize({ ffprobe: 'ffprobe', timeoutMs: 10_000 }),
      retryDelayMs: this.options.retryDelayMs ?? 2000,
      spoolRoot: path.resolve(this.options.spoolRoot ?? this.root),
      spoolIsLocal: this.options.spoolIsLocal ?? path.resolve(this.options.spoolRoot ?? this.root) !== this.root,
      storageAvailable: this.options.storageAvailable ?? (() => true),
      gate: this.gate, takeoverDelayMs: this.options.takeoverDelayMs ?? 2000, liveView: this.options.liveView === true,
      ...(options.lease ? { lease: options.lease } : {}),
    });
    await sp.open();
    this.streams.set(key, sp);
    if (!options.fed) {
      const renditionOf = new Map(settings.renditions.map((r) => [sp.rendition(r)?.incomingDir ?? '', r]));
      const watcher = await watchIncoming([...renditionOf.keys()], (dir, file) => {
        const rendition = renditionOf.get(dir);
        if (!rendition) return;
        this.events.emit('arrived', { app: settings.app, stream: settings.stream, rendition, file });
        void sp.ingest(rendition);
      }, (err) => this.log.error({ stream: key, err: String(err) }, 'watcher error'));
      this.watchers.set(sp, watcher);
    }
    // Files that arrived while nobody watched (agent restart): listed oldest first.
    await sp.scanIncoming();
    return sp;
  }

  /** A feed moved a finished file into a rendition's incoming/: it is listed in the feed's order. */
  offer(app: string, stream: string, rendition: string, file: string): Promise<void> {
    const sp = this.stream(app, stream);
    this.events.emit('arrived', { app, stream, rendition, file });
    return sp.offer(rendition, file);
  }

  /** The stream's packager, or undefined when it is not packaged here. */
  find(app: string, stream: string): StreamPackager | undefined {
    return this.streams.get(`${app}/${stream}`);
  }

  stream(app: string, stream: string): StreamPackager {
    const sp = this.streams.get(`${app}/${stream}`);
    if (!sp) throw new DvrError('DVR_ERR_STREAM_UNKNOWN', `stream ${app}/${stream} is not packaged here`);
    return sp;
  }

  /** New DVR settings for a running stream, applied without a restart. */
  updateDvr(app: string, stream: string, dvr: Readonly<Partial<DvrSettings>>): Promise<void> {
    return this.stream(app, stream).updateDvr(dvr);
  }

  async endStream(app: string, stream: string): Promise<void> {
    await this.stream(app, stream).endEvent();
  }

  async removeStream(app: string, stream: string): Promise<void> {
    const sp = this.stream(app, stream);
    await this.watchers.get(sp)?.close();
    this.watchers.delete(sp);
    this.streams.delete(`${app}/${stream}`);
    await sp.close();
  }

  list(): StreamPackager[] {
    return [...this.streams.values()];
  }

  /** Stops watching, finishes queued work. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const w of this.watchers.values()) await w.close();
      for (const sp of this.streams.values()) await sp.close();
    })();
    return this.closing;
  }
}
