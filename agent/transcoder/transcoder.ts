// The transcoder role: runs jobs (one encoder + the packager per stream), keeps per-stream
// figures, ends an event when its source stays away longer than the reconnect grace.
import type { Logger } from '../../common/log.js';
import type { StreamFigures } from '../../common/protocol.js';
import path from 'node:path';
import { checkName } from '../../common/names.js';
import { copyAudioRendition, type EncoderInput } from '../encoder/args.js';
import { OriginFeed } from '../encoder/origin-feed.js';
import type { MediaSource } from '../encoder/source.js';
import { EncoderSupervisor, type SupervisorPolicy } from '../encoder/supervisor.js';
import type { Packager } from '../../packager/packager.js';
import type { AgentConfig } from '../config.js';
import type { TranscodeJob } from '../../common/job.js';

export interface TranscoderOptions {
  packager: Packager;
  /** This node's id: the writer named in each stream's directory. */
  node: string;
  log: Logger;
  /** pid files and encoder logs. */
  stateDir: string;
  policy: Omit<SupervisorPolicy, 'stallAfterMs' | 'reconnectGraceMs'>;
  ffmpeg?: string;
  /** This node's origin segments what it receives (see AgentConfig.originSegments). */
  originSegments?: AgentConfig['originSegments'];
}

/**
 * Where a job's fragments already are: a copy-mode TS job whose source is this node's own
 * segmenting origin, with the origin's fragment length, needs no ffmpeg. Pure.
 */
export function originFragmentsDir(job: Readonly<TranscodeJob>, origin: AgentConfig['originSegments']): string | undefined {
  if (!origin || !('url' in job.source) || job.mode !== 'copy' || job.format !== 'ts') return undefined;
  if (Math.abs(job.segmentSeconds - origin.fragmentSeconds) > 1e-6) return undefined;
  let url: URL;
  try {
    url = new URL(job.source.url);
  } catch {
    return undefined;
  }
  if (url.search !== '' || !origin.sources.some((s) => new URL(s).host === url.host && url.protocol === 'rtmp:')) return undefined;
  const parts = url.pathname.split('/').filter((p) => p !== '');
  if (parts.length !== 2) return undefined;
  // The names come from outside: checked before they become a path.
  return path.join(origin.dir, checkName('app', parts[0]), checkName('stream', parts[1]));
}

interface Running {
  job: Readonly<TranscodeJob>;
  source: MediaSource;
  segmentsWritten: number;
  lateSegments: number;
  lastArrival: number;
  /** The last listed segment's duration, seconds. */
  lastDurationSec: number;
  /** (wall ms, media seconds, bytes) of recent listed segments, for speed and bit rate. */
  recent: Array<[number, number, number]>;
  detach: () => void;
}

const key = (app: string, stream: string): string => `${app}/${stream}`;

export class Transcoder {
  private readonly jobs = new Map<string, Running>();
  private readonly startFailures = new Map<string, string>();
  private closing: Promise<void> | undefined;

  constructor(private readonly o: TranscoderOptions) {
    // One subscription for all jobs; events are routed by stream.
    o.packager.events.on('arrived', (e) => this.onArrived(e));
    o.packager.events.on('listed', (e) => this.onListed(e));
    o.packager.events.on('fenced', (e) => this.onFenced(e));
  }

  /** The stream moved to a newer assignment while this node still ran it: its job stops here (no ENDLIST). */
  private onFenced(e: { app: string; stream: string; by: string; epoch: number }): void {
    const k = key(e.app, e.stream);
    this.noteFailure(k, `moved to ${e.by} (assignment epoch ${e.epoch}): this node stopped writing it`, 'job stopped: the stream moved');
    void this.stopJob(e.app, e.stream, { end: false }).catch((err: unknown) =>
      this.o.log.error({ stream: k, err: String(err) }, 'could not stop a moved stream\'s job'));
  }

  /**
   * The encoder wrote a segment: it is alive (any rendition says so: a copied video's 10 s segments
   * come between its audio's 2 s ones); count the first rendition's late arrivals.
   */
  private onArrived(e: { app: string; stream: string; rendition: string }): void {
    const r = this.jobs.get(key(e.app, e.stream));
    if (!r) return;
    r.source.noteSegment();
    if (e.rendition !== r.job.ladder[0]?.name) return;
    const now = Date.now();
    // Late: the segment came more than a second after its duration since the previous one (a copied
    // source's segments are as long as its keyframe interval, which may exceed the asked length).
    const expectedMs = Math.max(r.job.segmentSeconds, r.lastDurationSec) * 1000;
    if (r.lastArrival > 0 && now - r.lastArrival > expectedMs + 1000) r.lateSegments++;
    r.lastArrival = now;
    r.segmentsWritten++;
  }

  /** A segment was listed: keep a minute of (time, media seconds, bytes) for speed and bit rate. */
  private onListed(e: { app: string; stream: string; rendition: string; durationSec: number }): void {
    const r = this.jobs.get(key(e.app, e.stream));
    if (!r || e.rendition !== r.job.ladder[0]?.name) return;
    const index = this.o.packager.stream(e.app, e.stream).rendition(e.rendition)?.index;
    const bytes = index && index.length > 0 ? index.bytesAt(index.length - 1) : 0;
    const now = Date.now();
    r.lastDurationSec = e.durationSec;
    r.source.noteDuration?.(e.durationSec);
    r.recent.push([now, e.durationSec, bytes]);
    while ((r.recent[0]?.[0] ?? Infinity) < now - 60_000) r.recent.shift();
  }

  has(app: string, stream: string): boolean { return this.jobs.has(key(app, stream)); }
  list(): Array<Readonly<TranscodeJob>> { return [...this.jobs.values()].map((r) => r.job); }
  source(app: string, stream: string): MediaSource | undefined { return this.jobs.get(key(app, stream))?.source; }

  async startJob(job: Readonly<TranscodeJob>): Promise<void> {
    const k = key(job.app, job.stream);
    if (this.jobs.has(k)) return;
    const { packager } = this.o;
    const fragments = originFragmentsDir(job, this.o.originSegments);
    const splitAudio = fragments === undefined ? copyAudioRendition({ ...job, renditions: job.ladder }) : undefined;
    const sp = await packager.addStream({ ...job.dvr, app: job.app, stream: job.stream, format: job.format,
      segmentSeconds: job.segmentSeconds, reconnectGraceSeconds: job.reconnectGraceSeconds, lowLatency: job.lowLatency === true,
      renditions: [...job.ladder.map((r) => r.name), ...(splitAudio !== undefined ? [splitAudio] : [])] },
    { fed: fragments !== undefined, lease: { epoch: job.epoch, node: this.o.node } });
    const graceMs = job.reconnectGraceSeconds * 1000;
    let source: MediaSource;
    if (fragments !== undefined) {
      const rendition = job.ladder[0]?.name ?? 'source';
      source = new OriginFeed({ dir: fragments, incomingDir: sp.rendition(rendition)?.incomingDir ?? '',
        fragmentSeconds: job.segmentSeconds, reconnectGraceMs: graceMs, currentSession: () => sp.rendition(rendition)?.session?.session,
        offer: (file) => packager.offer(job.app, job.stream, rendition, file), log: this.o.log.child({ stream: k, part: 'origin-feed' }) });
    } else {
      const input: EncoderInput = 'url' in job.source ? { kind: 'url', url: job.source.url }
        : { kind: 'test-pattern', ...job.source.testPattern };
      source = new EncoderSupervisor({
        input, mode: job.mode, renditions: job.ladder, format: job.format, segmentSeconds: job.segmentSeconds, streamDir: sp.spoolDir,
        lowLatency: job.lowLatency === true,
      }, { ...this.o.policy, stallAfterMs: 3 * job.segmentSeconds * 1000, reconnectGraceMs: graceMs },
      this.o.log.child({ stream: k, part: 'encoder' }), this.o.stateDir, `${job.app}-${job.stream}`, this.o.ffmpeg);
    }

    const running: Running = { job, source, segmentsWritten: 0, lateSegments: 0, lastArrival: 0, lastDurationSec: 0, recent: [],
      detach: () => undefined };
    const onGrace = (): void => { void packager.endStream(job.app, job.stream); };
    source.on('graceExpired', onGrace);
    running.detach = () => source.off('graceExpired', onGrace);
    this.jobs.set(k, running);
    await source.start();
    this.o.log.info({ stream: k, mode: job.mode, renditions: job.ladder.length, source: describeSource(job),
      ingest: fragments !== undefined ? 'origin fragments' : 'ffmpeg' }, 'job started');
  }

  /** Stops the encoder (it finishes its segment), then ends the event when `end` is set. */
  async stopJob(app: string, stream: string, options: { end: boolean }): Promise<void> {
    const k = key(app, stream);
    const running = this.jobs.get(k);
    if (!running) return;
    this.jobs.delete(k);
    await running.source.stop();
    const sp = this.o.packager.stream(app, stream);
    await sp.scanIncoming();
    await sp.idle();
    running.detach();
    if (options.end) await this.o.packager.endStream(app, stream);
    await this.o.packager.removeStream(app, stream);
    this.o.log.info({ stream: k, ended: options.end }, 'job stopped');
  }

  /**
   * Makes the running jobs match `desired` (from the controller or the local config). `refused` are
   * streams whose job was asked for but is invalid: a running one keeps its current job (a bad update
   * never ends a live event), and each is reported with the streams that cannot start.
   */
  async reconcile(desired: Array<Readonly<TranscodeJob>>, refused: Array<{ stream: string; error: string }> = []): Promise<void> {
    const want = new Map(desired.map((j) => [key(j.app, j.stream), j]));
    for (const r of refused) {
      const running = this.jobs.get(r.stream);
      if (running && !want.has(r.stream)) want.set(r.stream, running.job);
    }
    for (const [k, r] of this.jobs) {
      const next = want.get(k);
      if (!next) await this.stopJob(r.job.app, r.job.stream, { end: true });
      else if (JSON.stringify(next) === JSON.stringify(r.job)) continue;
      // Only its DVR settings changed (window, recording, cap...): the packager applies them, the encoder runs on.
      else if (JSON.stringify({ ...next, dvr: r.job.dvr }) === JSON.stringify(r.job)) {
        await this.o.packager.updateDvr(next.app, next.stream, next.dvr);
        r.job = next;
      // Another change (another origin to pull from after the publisher moved, a new assignment epoch,
      // new encoding) restarts its source; the DVR continues from the directory after a discontinuity.
      } else await this.stopJob(r.job.app, r.job.stream, { end: false });
    }
    // A stream that cannot start (its directory unwritable, say) is reported and retried with the
    // next reconcile; the others start regardless.
    for (const [k, j] of want) {
      try {
        await this.startJob(j);
        this.startFailures.delete(k);
      } catch (err) {
        this.noteFailure(k, err instanceof Error ? err.message : String(err), 'job cannot start; retrying with the next update');
      }
    }
    for (const k of this.startFailures.keys()) if (!want.has(k)) this.startFailures.delete(k);
    for (const r of refused) this.noteFailure(r.stream, r.error, 'job refused; keeping what runs');
  }

  /** Remembers why a stream is not running as asked; logs only when the reason changes. */
  private noteFailure(stream: string, error: string, what: string): void {
    if (this.startFailures.get(stream) !== error) this.o.log.error({ stream, err: error }, what);
    this.startFailures.set(stream, error);
  }

  /** Streams that were asked for but could not start, with why. */
  failures(): Array<{ stream: string; error: string }> {
    return [...this.startFailures].map(([stream, error]) => ({ stream, error }));
  }


  figures(): StreamFigures[] {
    return [...this.jobs.values()].map((r) => {
      const media = r.recent.reduce((a, x) => a + x[1], 0);
      const bytes = r.recent.reduce((a, x) => a + x[2], 0);
      const span = r.recent.length > 1 ? ((r.recent[r.recent.length - 1]?.[0] ?? 0) - (r.recent[0]?.[0] ?? 0)) / 1000 : 0;
      const sp = this.o.packager.list().find((s) => s.settings.app === r.job.app && s.settings.stream === r.job.stream);
      return {
        app: r.job.app, stream: r.job.stream, inputBitrateBps: media > 0 ? (bytes * 8) / media : 0,
        segmentsWritten: r.segmentsWritten, lateSegments: r.lateSegments,
        encoderSpeed: span > 0 ? (media - (r.recent[0]?.[1] ?? 0)) / span : 0,
        restarts: r.source.restarts, ended: sp?.ended ?? false,
        ...(sp ? { storedBytes: sp.storedBytes, segmentLatencyMs: sp.rendition(r.job.ladder[0]?.name ?? '')?.counters.lastLatencyMs ?? 0 }
          : {}),
        ...(r.lastArrival > 0 ? { lastSegmentAgeSeconds: (Date.now() - r.lastArrival) / 1000 } : {}),
        // More than the one being listed waits in a rendition's spool: the storage is down or catching up.
        ...(sp && sp.spoolDepth() >= 2 ? { spooling: true } : {}),
      };
    });
  }

  /** SIGTERM path: every encoder finishes its segment, the packager lists it. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const r of this.jobs.values()) {
        await r.source.stop();
        r.detach();
      }
      for (const sp of this.o.packager.list()) {
        await sp.scanIncoming();
        await sp.idle();
      }
    })();
    return this.closing;
  }
}

/** Source URLs may carry stream keys: log the scheme and host only. */
function describeSource(job: Readonly<TranscodeJob>): string {
  if (!('url' in job.source)) return 'test pattern';
  try {
    const u = new URL(job.source.url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'url';
  }
}
