// Low-latency HLS on an edge: its players' blocking reloads wait here, not on the stream's
// transcoder. For each rendition someone waits on, one blocking request at a time goes to the
// transcoder's live view (the next part after the newest this edge knows); when it answers,
// every local request it satisfies is answered, those asking for a delta update with the text it
// brought, the others with one full playlist fetched for all of them. Partial segments are
// fetched once per edge however many players ask at once. A waiting player is an entry in a set:
// memory, no timer, no polling.
import type { Logger } from '../../common/log.js';
import { isName } from '../../common/names.js';
import { parsePartName } from '../../packager/layout.js';
import { parseLlQuery } from '../../packager/live-edge.js';
import { positionSatisfies, type LlPosition } from '../../packager/render/ll-hls.js';

export interface LlAnswer {
  status: number; body: Buffer; type: string; maxAge: number;
  /** Said by this edge: the transcoder did not answer at all. */
  unreachable?: boolean;
}

/** The transcoder's silence is logged once per this long per address, however many players ask meanwhile. */
const QUIET_MS = 10_000;

/** Where a stream's live view is, and the key it takes (the controller's stream maps, through the agent). */
export interface LiveSources { key: string; sources: ReadonlyMap<string, string> }

/** Reads the position out of a low-latency playlist (full or delta); undefined for one it cannot read. */
export function llPosition(text: string): LlPosition | undefined {
  let msn = Number(/^#EXT-X-MEDIA-SEQUENCE:(\d+)$/m.exec(text)?.[1] ?? NaN);
  const target = Number(/^#EXT-X-TARGETDURATION:(\d+)$/m.exec(text)?.[1] ?? NaN);
  if (!Number.isFinite(msn) || !Number.isFinite(target)) return undefined;
  msn += Number(/^#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)/m.exec(text)?.[1] ?? 0);
  const parts = new Map<number, number>();
  let pending = 0;
  let uri = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-PART:')) pending++;
    else if (line.startsWith('#EXTINF:')) uri = true;
    else if (uri && line !== '' && !line.startsWith('#')) {
      if (pending > 0) parts.set(msn, pending);
      pending = 0;
      uri = false;
      msn++;
    }
  }
  if (pending > 0) parts.set(msn, pending);
  return { complete: msn - 1, parts, target };
}

interface Waiter { msn: number; part: number | undefined; skip: boolean; done: (a: LlAnswer) => void }

interface Follower {
  position: LlPosition | undefined;
  /** The newest delta update (what the follow request brought) and a full playlist fetched at that state. */
  delta: Buffer | undefined;
  full: Promise<LlAnswer> | undefined;
  waiters: Set<Waiter>;
  running: boolean;
}

const HLS = 'application/vnd.apple.mpegurl';
const answer = (status: number, text: string | Buffer, maxAge = 0, type = 'text/plain; charset=utf-8'): LlAnswer =>
  ({ status, body: typeof text === 'string' ? Buffer.from(text) : text, type, maxAge });

export class LowLatencyFanout {
  private readonly followers = new Map<string, Follower>();
  private readonly parts = new Map<string, Promise<LlAnswer>>();
  /** When each transcoder (<host>:<port>) that did not answer was last logged; forgotten once it answers. */
  private readonly warned = new Map<string, number>();
  private closed = false;
  sources: LiveSources = { key: '', sources: new Map() };

  constructor(private readonly log: Logger) {}

  /** `<app>/<stream>/<rendition>/<file>` with the player's query: a playlist (blocking or not) or a part. */
  async handle(pathname: string, query: URLSearchParams, signal: AbortSignal): Promise<LlAnswer> {
    const [app, stream, rendition, file, ...more] = pathname.split('/').filter((p) => p !== '');
    if (!isName(app) || !isName(stream) || !isName(rendition) || file === undefined || more.length > 0) {
      return answer(404, 'not a low-latency path\n');
    }
    const source = this.sources.sources.get(`${app}/${stream}`);
    if (source === undefined) return answer(503, `no transcoder known for ${app}/${stream}\n`);
    const base = `http://${source}/${app}/${stream}/${rendition}`;
    if (parsePartName(file)) return this.part(`${base}/${file}`);
    if (file !== 'index.m3u8') return answer(404, `${file}: not a low-latency file\n`);
    const q = parseLlQuery(query);
    if ('error' in q) return answer(400, `${q.error}\n`);
    if (q.msn === undefined) return this.fetch(`${base}/index.m3u8${q.skip ? '?_HLS_skip=YES' : ''}`, 5000);
    return this.wait(`${app}/${stream}/${rendition}`, base, { msn: q.msn, part: q.part, skip: q.skip }, signal);
  }

  close(): void {
    this.closed = true;
    for (const f of this.followers.values()) for (const w of f.waiters) w.done(answer(503, 'the edge stops\n'));
    this.followers.clear();
  }

  private wait(key: string, base: string, w: Omit<Waiter, 'done'>, signal: AbortSignal): Promise<LlAnswer> {
    let f = this.followers.get(key);
    if (!f) this.followers.set(key, f = { position: undefined, delta: undefined, full: undefined, waiters: new Set(), running: false });
    const follower = f;
    const target = f.position?.target ?? 2;
    if (f.position && w.msn > f.position.complete + 2) {
      return Promise.resolve(answer(400, `_HLS_msn=${w.msn}: more than two segments past the last (${f.position.complete})\n`));
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(answer(503, `segment ${w.msn} did not come in time\n`)), 3 * target * 1000 + 500);
      const waiter: Waiter = { ...w, done: (a) => finish(a) };
      const gone = (): void => finish(answer(499, 'the client left\n'));
      function finish(a: LlAnswer): void {
        if (!follower.waiters.delete(waiter)) return;
        clearTimeout(timer);
        signal.removeEventListener('abort', gone);
        resolve(a);
      }
      signal.addEventListener('abort', gone);
      follower.waiters.add(waiter);
      if (follower.position && positionSatisfies(follower.position, w.msn, w.part)) void this.release(follower, base);
      else this.follow(key, follower, base);
    });
  }

  /** One blocking request after another to the transcoder, for the part after the newest known, while anyone waits. */
  private follow(key: string, f: Follower, base: string): void {
    if (f.running) return;
    f.running = true;
    void (async () => {
      try {
        while (f.waiters.size > 0 && !this.closed) {
          const p = f.position;
          const next = p ? this.nextAfter(p) : undefined;
          const url = next ? `${base}/index.m3u8?_HLS_msn=${next.msn}&_HLS_part=${next.part}&_HLS_skip=YES`
            : `${base}/index.m3u8?_HLS_skip=YES`;
          const got = await this.fetch(url, 3 * (p?.target ?? 2) * 1000 + 5000);
          if (got.status === 200) {
            const position = llPosition(got.body.toString());
            if (position) {
              f.position = position;
              f.delta = got.body;
              f.full = undefined;
              await this.release(f, base);
            }
          } else if (got.status !== 503 || got.unreachable === true) {
            // The stream is not (or no longer) low-latency there, or its transcoder does not answer
            // (nginx then gives them the storage's playlist): the waiters are told, nothing loops.
            for (const w of [...f.waiters]) w.done(got);
          } else if (next === undefined) {
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      } finally {
        f.running = false;
        if (f.waiters.size === 0) this.followers.delete(key);
      }
    })();
  }

  private nextAfter(p: LlPosition): { msn: number; part: number } {
    const current = p.parts.get(p.complete + 1) ?? 0;
    return current > 0 ? { msn: p.complete + 1, part: current } : { msn: p.complete + 1, part: 0 };
  }

  /** Answers every waiter the newest position satisfies: a delta with the text the follow brought, a full playlist fetched once. */
  private async release(f: Follower, base: string): Promise<void> {
    const p = f.position;
    if (!p) return;
    for (const w of [...f.waiters]) {
      if (w.msn > p.complete + 2) w.done(answer(400, `_HLS_msn=${w.msn}: more than two segments past the last (${p.complete})\n`));
    }
    const ready = [...f.waiters].filter((w) => positionSatisfies(p, w.msn, w.part));
    if (ready.length === 0) return;
    const maxAge = 6 * p.target;
    // One answer for every waiter of a kind: the server writes the same bytes to each.
    const delta = f.delta ? answer(200, f.delta, maxAge, HLS) : undefined;
    for (const w of ready) if (w.skip && delta) w.done(delta);
    if (ready.some((w) => !w.skip)) {
      f.full ??= this.fetch(`${base}/index.m3u8`, 5000);
      const got = await f.full;
      const full = got.status === 200 ? { ...got, maxAge } : got;
      for (const w of ready) if (!w.skip) w.done(full);
    }
  }

  /** A part, fetched once however many ask for it at once (the hinted one waits there until it is cut). */
  private part(url: string): Promise<LlAnswer> {
    let got = this.parts.get(url);
    if (!got) {
      got = this.fetch(url, 10_000);
      this.parts.set(url, got);
      void got.finally(() => setTimeout(() => this.parts.delete(url), 1000).unref());
    }
    return got;
  }

  private async fetch(url: string, timeoutMs: number): Promise<LlAnswer> {
    try {
      const res = await fetch(url, { headers: { Authorization: `Bearer ${this.sources.key}`, 'X-DVR-Low-Latency': '1' },
        signal: AbortSignal.timeout(timeoutMs) });
      this.warned.delete(new URL(url).host);
      const body = Buffer.from(await res.arrayBuffer());
      const type = res.headers.get('content-type') ?? 'application/octet-stream';
      const maxAge = /max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1];
      return { status: res.status, body, type, maxAge: res.status === 200 ? Number(maxAge ?? 0) : 0 };
    } catch (err) {
      const at = new URL(url).host;
      const now = Date.now();
      if ((this.warned.get(at) ?? -Infinity) + QUIET_MS <= now) {
        this.warned.set(at, now);
        this.log.warn({ url: url.replace(/\?.*/, ''), err: err instanceof Error ? err.message : String(err) },
          'the transcoder\'s live view did not answer');
      }
      return { ...answer(503, 'the stream\'s transcoder does not answer\n'), unreachable: true };
    }
  }
}
