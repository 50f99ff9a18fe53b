// The edge's time-shift service: nginx passes it the time-shift URLs (request.ts) on loopback and
// caches what it answers. It reads the storage as the packager left it (catalog.ts) and answers with
// playlists, MPDs and clips cut from the same segments (render.ts, clip.ts). A finished range is
// cached as long as its segments stay listed; an open one for a second, as live playlists are.
// In a cluster it also answers the players' content steering requests (../roles/steering.ts).
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { AGENT_KEEPALIVE_SECONDS, STEERING_PATH } from '../../common/edge-paths.js';
import { errnoCode } from '../../common/errors.js';
import type { SteeringEdge } from '../../common/protocol.js';
import { PLAYLIST_CAP_DEFAULT_SECONDS } from '../../common/stream-settings.js';
import type { Logger } from '../../common/log.js';
import type { AgentConfig } from '../config.js';
import { DASH_MANIFEST, MASTER, type SegmentRecord } from '../../packager/layout.js';
import { Catalog, listedSpan, segmentsIn, type RenditionView } from './catalog.js';
import { startClip, thumbnail, type ClipTrack } from './clip.js';
import { availabilityStartOf, imagePlaylist, rangeMaster, rangeMpd, rangePlaylist, representationsOf } from './render.js';
import { currentPathway, steeringManifest, type SteeringKind } from '../roles/steering.js';
import { parseTimeShift, type RequestLimits, type TimeShiftRequest } from './request.js';
import { LowLatencyFanout, type LlAnswer } from '../roles/ll-fanout.js';
import { whileConnected } from '../../common/while-connected.js';

export interface TimeShiftOptions {
  /** The storage root as this node sees it: <root>/<app>/<stream>/<rendition>/. */
  root: string;
  host: string;
  port: number;
  limits: RequestLimits;
  /** Clips made at once; more are refused (503) rather than queued. */
  maxClips: number;
  log: Logger;
  now?: () => number;
}

/** A content steering manifest's path. */
const STEERING_REQUEST = new RegExp(`^${STEERING_PATH}(hls|dash)\\.json$`);

/** Requests nginx hands over for the query forms carry this prefix (an internal location). */
export const INTERNAL_PREFIX = '/_timeshift';
/** A low-latency stream's live playlists and parts, which nginx hands over with this prefix. */
export const LOW_LATENCY_PREFIX = '/_ll';

class Answer {
  constructor(readonly status: number, readonly body: string | Buffer, readonly type = 'text/plain; charset=utf-8', readonly maxAge = 0,
    readonly location?: string) {}
}

/** The header lines of a low-latency answer, made once however many waiters it answers. */
const LL_HEADERS = new WeakMap<LlAnswer, string[]>();

/** The longest a time-shift answer is cached, seconds. */
const MAX_AGE_S = 3600;
/** The thumbnail track lists at most the default playlist cap's span. */
const THUMBS_SPAN_MS = PLAYLIST_CAP_DEFAULT_SECONDS * 1000;
/** Thumbnails made at once (a keyframe decoded each); more wait THUMB_WAIT_MS for a slot, then get a 503. */
const MAX_THUMBS = 2;
const THUMB_WAIT_MS = 2000;

/** The last variant of a master playlist that has a picture (variants are listed highest first). */
export function lowestVideo(master: string): string | undefined {
  const lines = master.split('\n');
  let found: string | undefined;
  lines.forEach((line, i) => {
    const uri = /^([a-z0-9_-]+)\/index\.m3u8$/.exec(lines[i + 1] ?? '')?.[1];
    if (line.startsWith('#EXT-X-STREAM-INF:') && line.includes('RESOLUTION=') && uri) found = uri;
  });
  return found ?? bestVariant(master);
}

/** The first variant of a master playlist: the best (variants are listed highest first). */
function bestVariant(master: string): string | undefined {
  return /^([a-z0-9_-]+)\/index\.m3u8$/m.exec(master)?.[1];
}

interface Slice { view: RenditionView; segments: SegmentRecord[]; windowSeconds: number | undefined }

const notFound = (reason: string): Answer => new Answer(404, `${reason}\n`);
const when = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

export class TimeShiftServer {
  private readonly catalog: Catalog;
  private readonly server: http.Server;
  /** Content steering: this edge's pathway and the edges in service, as the agent last heard them. */
  steering: { self: string; edges: SteeringEdge[] } | undefined;
  /** Low-latency HLS: the players' blocking reloads wait here, one request at a time goes to each stream's transcoder. */
  readonly lowLatency: LowLatencyFanout;
  private clips = 0;
  private thumbs = 0;
  private closing: Promise<void> | undefined;

  private constructor(private readonly o: TimeShiftOptions) {
    this.catalog = new Catalog(o.root);
    this.lowLatency = new LowLatencyFanout(o.log.child({ part: 'low-latency' }));
    this.server = http.createServer((req, res) => { void this.handle(req, res); });
    this.server.keepAliveTimeout = AGENT_KEEPALIVE_SECONDS * 1000;
  }

  static async start(o: TimeShiftOptions): Promise<TimeShiftServer> {
    const s = new TimeShiftServer(o);
    s.server.listen(o.port, o.host);
    await once(s.server, 'listening');
    return s;
  }

  /** The service an agent config asks for, if it asks for one. */
  static async forAgent(config: Readonly<AgentConfig>, log: Logger): Promise<TimeShiftServer | undefined> {
    const ts = config.timeshift;
    if (!ts) return undefined;
    return TimeShiftServer.start({ root: config.storageRoot, host: ts.host, port: ts.port, maxClips: ts.maxClips,
      limits: { maxClipSeconds: ts.maxClipSeconds, maxRangeSeconds: ts.maxRangeSeconds }, log: log.child({ part: 'timeshift' }) });
  }

  get port(): number {
    const a = this.server.address();
    return a && typeof a === 'object' ? a.port : this.o.port;
  }

  private now(): number { return (this.o.now ?? Date.now)(); }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://edge');
    const pathname = url.pathname.startsWith(`${INTERNAL_PREFIX}/`) ? url.pathname.slice(INTERNAL_PREFIX.length) : url.pathname;
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        this.send(res, new Answer(405, 'GET or HEAD\n'));
        return;
      }
      if (url.pathname.startsWith(`${LOW_LATENCY_PREFIX}/`)) {
        await this.lowLatencyAnswer(url, req, res);
        return;
      }
      const steering = STEERING_REQUEST.exec(url.pathname)?.[1] as SteeringKind | undefined;
      if (steering) {
        this.send(res, this.steeringAnswer(steering, url.searchParams), req.method === 'HEAD');
        return;
      }
      const parsed = parseTimeShift(pathname, url.searchParams, this.now(), this.o.limits);
      if (!parsed.ok) {
        this.send(res, new Answer(400, `${parsed.reason}\n`));
        return;
      }
      const r = parsed.request;
      if (r.kind === 'clip') {
        await this.clip(r, res);
        return;
      }
      const answer = r.kind === 'media' ? await this.media(r) : r.kind === 'master' ? await this.master(r, pathname, url.search)
        : r.kind === 'thumb' ? await this.thumb(r) : r.kind === 'thumbs' ? await this.thumbTrack(r) : await this.mpd(r);
      this.send(res, answer, req.method === 'HEAD');
    } catch (err) {
      this.o.log.error({ path: pathname, err: err instanceof Error ? err.message : String(err) }, 'time-shift request failed');
      if (!res.headersSent) this.send(res, new Answer(500, 'the time-shift service failed; see the edge agent\'s log\n'));
      else res.destroy();
    }
  }

  /** A low-latency playlist or part (the fan-out waits with the player); nothing is sent to a player that left. */
  private async lowLatencyAnswer(url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { value: a, left } = await whileConnected(req, res,
      (signal) => this.lowLatency.handle(url.pathname.slice(LOW_LATENCY_PREFIX.length), url.searchParams, signal));
    if (left()) return;
    // Thousands of waiters get one answer: its header lines are made once.
    let head = LL_HEADERS.get(a);
    if (!head) LL_HEADERS.set(a, head = ['Content-Type', a.type, 'Content-Length', String(a.body.length),
      'Cache-Control', a.status === 200 ? `public, max-age=${a.maxAge}` : 'no-store']);
    res.writeHead(a.status, head);
    res.end(req.method === 'HEAD' ? undefined : a.body);
  }

  /** The content steering manifest for a player, from the edges the controller last named. */
  private steeringAnswer(kind: SteeringKind, query: URLSearchParams): Answer {
    if (!this.steering) return notFound('this edge steers no players');
    const m = steeringManifest(kind, this.steering.edges, this.steering.self, currentPathway(kind, query));
    return new Answer(200, JSON.stringify(m), 'application/json', 0);
  }

  private send(res: http.ServerResponse, a: Answer, head = false): void {
    res.writeHead(a.status, { 'Content-Type': a.type, 'Content-Length': Buffer.byteLength(a.body),
      'Cache-Control': a.status === 200 || a.location !== undefined ? `public, max-age=${a.maxAge}` : 'no-store',
      ...(a.location !== undefined ? { Location: a.location } : {}) });
    res.end(head ? undefined : a.body);
  }

  /** A range's segments of one rendition, or why there are none. */
  private async slice(r: TimeShiftRequest, rendition: string): Promise<Slice | Answer> {
    const view = await this.catalog.rendition(r.app, r.stream, rendition);
    if (!view) return notFound(`no stream ${r.app}/${r.stream} with a rendition ${rendition} here`);
    const segments = segmentsIn(view, r.fromMs, r.toMs);
    if (segments.length === 0) {
      const span = listedSpan(view);
      return notFound(`nothing stored for ${r.app}/${r.stream} from ${when(r.fromMs)}${r.toMs !== undefined ? ` to ${when(r.toMs)}` : ''}`
        + (span ? ` (it holds ${when(span.fromMs)} to ${when(span.toMs)})` : ' (it holds nothing yet)'));
    }
    return { view, segments, windowSeconds: await this.catalog.windowSeconds(r.app, r.stream) };
  }

  /**
   * How long a range may be cached: an open or relative one a second; a finished one until its first
   * segment may leave the stream's sliding window (less two target durations), an hour at most (an
   * ended event may be deleted by a new publish).
   */
  private maxAge(r: TimeShiftRequest, got: Slice, finished: boolean): number {
    if (!finished || r.relative) return 1;
    const first = got.segments[0];
    if (got.view.event || got.view.ended || got.windowSeconds === 0 || !first) return MAX_AGE_S;
    // No window known: as if the window were what is listed now.
    const span = listedSpan(got.view);
    const windowMs = got.windowSeconds !== undefined ? got.windowSeconds * 1000 : span ? span.toMs - span.fromMs : 0;
    const leaves = first.startMs + windowMs - this.now();
    return Math.max(1, Math.min(MAX_AGE_S, Math.floor(leaves / 1000) - 2 * got.view.target));
  }

  private async media(r: TimeShiftRequest): Promise<Answer> {
    const got = await this.slice(r, r.rendition ?? '');
    if (got instanceof Answer) return got;
    const finished = !r.live && (r.toMs !== undefined || got.view.ended);
    const state = r.live && !got.view.ended ? 'live' : finished ? 'finished' : 'open';
    const text = rangePlaylist(got.segments, { ext: got.view.ext, target: got.view.target, state });
    return new Answer(200, text, 'application/vnd.apple.mpegurl', this.maxAge(r, got, finished));
  }

  private async read(file: string): Promise<string | undefined> {
    return fs.readFile(file, 'utf8').catch((err: unknown) => {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    });
  }

  private async master(r: TimeShiftRequest, pathname: string, search: string): Promise<Answer> {
    const dir = path.dirname(this.catalog.dir(r.app, r.stream, 'x'));
    const master = await this.read(path.join(dir, MASTER));
    if (master === undefined) return notFound(`no stream ${r.app}/${r.stream} here`);
    const renditions = [...master.matchAll(/^([a-z0-9_-]+)\/index\.m3u8$/gm), ...master.matchAll(/URI="([a-z0-9_-]+)\/index\.m3u8"/g)]
      .map((m) => m[1] ?? '');
    let missing: Answer | undefined;
    let found = false;
    let maxAge = MAX_AGE_S;
    for (const rendition of renditions) {
      const got = await this.slice(r, rendition);
      if (got instanceof Answer) {
        missing ??= got;
        continue;
      }
      found = true;
      maxAge = Math.min(maxAge, this.maxAge(r, got, !r.live && (r.toMs !== undefined || got.view.ended)));
    }
    if (!found) return missing ?? notFound(`stream ${r.app}/${r.stream} has no rendition here`);
    // The query forms (master.m3u8?start=...) point the variants at their own playlists with the same query.
    const base = path.basename(pathname);
    const byQuery = base === 'index.m3u8' || base === MASTER;
    const text = rangeMaster(master, byQuery ? 'index.m3u8' : base, byQuery ? search : '');
    return new Answer(200, text, 'application/vnd.apple.mpegurl', maxAge);
  }

  private async mpd(r: TimeShiftRequest): Promise<Answer> {
    const dir = path.dirname(this.catalog.dir(r.app, r.stream, 'x'));
    const live = await this.read(path.join(dir, DASH_MANIFEST));
    if (live === undefined) return notFound(`no DASH manifest for ${r.app}/${r.stream} here (DASH needs fMP4 segments)`);
    const renditions = [];
    let finished = r.toMs !== undefined;
    let target = 1;
    let maxAge = MAX_AGE_S;
    for (const [name, info] of representationsOf(live)) {
      const got = await this.slice(r, name);
      if (got instanceof Answer) return got;
      finished ||= got.view.ended;
      target = Math.max(target, got.view.target);
      maxAge = Math.min(maxAge, this.maxAge(r, got, finished));
      renditions.push({ info, segments: got.segments });
    }
    if (renditions.length === 0) return notFound(`the DASH manifest of ${r.app}/${r.stream} lists no representation`);
    const nowMs = this.now();
    const availabilityStartMs = availabilityStartOf(live) ?? r.fromMs;
    const text = rangeMpd(renditions, { target, finished, availabilityStartMs, fromMs: r.fromMs, nowMs });
    return new Answer(200, text, 'application/dash+xml', finished && !r.relative ? maxAge : 1);
  }

  /** The stream's master playlist, if it has one here. */
  private masterOf(r: TimeShiftRequest): Promise<string | undefined> {
    return this.read(path.join(path.dirname(this.catalog.dir(r.app, r.stream, 'x')), MASTER));
  }

  /**
   * The first picture of the segment at the asked time, small, as a JPEG, from the lowest video
   * rendition (the picture is 160 pixels wide anyway): made when a player first asks (one keyframe
   * decoded), then cached by the edge as long as time-shift answers are. Any second of a segment is
   * redirected to the segment's own, so a segment is decoded once. Nothing is made while ingesting.
   */
  private async thumb(r: TimeShiftRequest): Promise<Answer> {
    const master = await this.masterOf(r);
    const rendition = master ? lowestVideo(master) : undefined;
    if (!rendition) return notFound(`no stream ${r.app}/${r.stream} here`);
    const got = await this.slice(r, rendition);
    if (got instanceof Answer) return got;
    const segment = got.segments[0];
    if (!segment) return notFound(`nothing stored for ${r.app}/${r.stream} at ${when(r.fromMs)}`);
    if (segment.gap === true) return notFound(`media missing for ${r.app}/${r.stream} at ${when(r.fromMs)} (the source was gone)`);
    const own = Math.ceil(segment.startMs / 1000);
    if (own !== r.fromMs / 1000 && own * 1000 < segment.startMs + segment.durationUs / 1000) {
      return new Answer(302, '', 'text/plain; charset=utf-8', MAX_AGE_S, `thumb-${own}.jpg`);
    }
    // A short wait for a free slot, then a 503 (the player asks once more).
    for (let waited = 0; this.thumbs >= MAX_THUMBS && waited < THUMB_WAIT_MS; waited += 100) await sleep(100);
    if (this.thumbs >= MAX_THUMBS) return new Answer(503, 'thumbnails are being made on this edge; try again in a moment\n');
    this.thumbs++;
    try {
      const made = await thumbnail(this.catalog.dir(r.app, r.stream, rendition), got.view.ext, segment);
      if (made.jpeg) return new Answer(200, made.jpeg, 'image/jpeg', MAX_AGE_S);
      this.o.log.warn({ stream: `${r.app}/${r.stream}`, rendition, seq: segment.seq, err: made.error }, 'no thumbnail');
      return notFound(`no picture in ${r.app}/${r.stream} at ${when(r.fromMs)}`);
    } finally {
      this.thumbs--;
    }
  }

  /**
   * The thumbnail track the master playlist names: a picture per segment of the lowest video
   * rendition, over what its live playlist lists (at most the default playlist cap), cached as a
   * live playlist is.
   */
  private async thumbTrack(r: TimeShiftRequest): Promise<Answer> {
    const master = await this.masterOf(r);
    const rendition = master ? lowestVideo(master) : undefined;
    const size = master ? /^#EXT-X-IMAGE-STREAM-INF:.*RESOLUTION=(\d+)x(\d+)/m.exec(master) : undefined;
    if (!rendition || !size) return notFound(`no video stream ${r.app}/${r.stream} here`);
    const view = await this.catalog.rendition(r.app, r.stream, rendition);
    const span = view ? listedSpan(view) : undefined;
    if (!view || !span) return notFound(`nothing stored for ${r.app}/${r.stream} yet`);
    const segments = segmentsIn(view, Math.max(span.fromMs, span.toMs - THUMBS_SPAN_MS), undefined);
    const text = imagePlaylist(segments, { target: view.target, ended: view.ended, width: Number(size[1]), height: Number(size[2]) });
    return new Answer(200, text, 'application/vnd.apple.mpegurl', view.ended ? MAX_AGE_S : 1);
  }

  private async clip(r: TimeShiftRequest, res: http.ServerResponse): Promise<void> {
    // The clip is of the best rendition, with the audio rendition when audio is kept apart.
    const master = await this.masterOf(r);
    const rendition = master ? bestVariant(master) : undefined;
    if (!rendition) { this.send(res, notFound(`no stream ${r.app}/${r.stream} here`)); return; }
    const got = await this.slice(r, rendition);
    if (got instanceof Answer) { this.send(res, got); return; }
    // Missing time (gap entries) has no media: the clip joins what is there.
    const media = (segments: readonly SegmentRecord[]): SegmentRecord[] => segments.filter((s) => s.gap !== true);
    const video = media(got.segments);
    if (video.length === 0) {
      this.send(res, notFound(`media missing for ${r.app}/${r.stream} in that range (the source was gone)`));
      return;
    }
    const tracks: ClipTrack[] = [{ dir: this.catalog.dir(r.app, r.stream, rendition), ext: got.view.ext, segments: video }];
    const audio = master ? /^#EXT-X-MEDIA:TYPE=AUDIO,.*URI="([a-z0-9_-]+)\/index\.m3u8"/m.exec(master)?.[1] : undefined;
    if (audio) {
      const a = await this.slice(r, audio);
      const sound = a instanceof Answer ? [] : media(a.segments);
      if (!(a instanceof Answer) && sound.length > 0) {
        tracks.push({ dir: this.catalog.dir(r.app, r.stream, audio), ext: a.view.ext, segments: sound });
      }
    }
    if (this.clips >= this.o.maxClips) {
      this.send(res, new Answer(503, `${this.o.maxClips} clips are being made on this edge; try again in a moment\n`));
      return;
    }
    this.clips++;
    const child = await startClip(tracks);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
    const done = once(child, 'close');
    res.once('close', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
    const first = await Promise.race([once(child.stdout as NodeJS.ReadableStream, 'readable').then(() => true), done.then(() => false)]);
    if (!first) {
      this.clips--;
      this.o.log.error({ stream: `${r.app}/${r.stream}`, err: stderr.trim() }, 'clip failed');
      this.send(res, new Answer(502, 'ffmpeg could not make the clip; see the edge agent\'s log\n'));
      return;
    }
    const name = `${r.app}-${r.stream}-${Math.floor(r.fromMs / 1000)}-${Math.round(((r.toMs ?? r.fromMs) - r.fromMs) / 1000)}.mp4`;
    res.writeHead(200, { 'Content-Type': 'video/mp4', 'Cache-Control': 'no-store', 'Content-Disposition': `inline; filename="${name}"` });
    child.stdout?.pipe(res);
    await done;
    this.clips--;
  }

  /** Stops taking requests; idempotent. */
  close(): Promise<void> {
    this.lowLatency.close();
    this.closing ??= new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
    return this.closing;
  }
}
