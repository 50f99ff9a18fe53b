// A fault drill on a running lab: viewers that fetch like players and a bounded load on every edge,
// one fault, the way back, and what a user would measure: how long the controller took to notice,
// how long until the live playlist advanced with new media, how long a player stalled, the requests
// served and the errors during the fault. Then the checks: every edge's playlists parse with an
// independent parser (hls-parser), every segment on the storage is listed once and only once, and
// every hole in the timeline is marked (gap entries covering it, or a discontinuity) and lies within
// the outage.
import { promises as fs } from 'node:fs';
import { parse, setOptions, types } from 'hls-parser';
import { gapMarkerName } from '../packager/layout.js';
import { DvrError } from '../common/errors.js';

// Every rule hls-parser knows is enforced, but one: it wants CAN-BLOCK-RELOAD in every
// EXT-X-SERVER-CONTROL, which RFC 8216bis does not (the attribute only says whether the server
// blocks playlist reloads; a server offering delta updates alone leaves it out).
setOptions({ strictMode: true });
const withoutServerControl = (text: string): string => text.replace(/^#EXT-X-SERVER-CONTROL:.*\n/m, '');

export interface DrillTarget {
  /** Edges' base URLs (http://address:port). */
  edges: string[];
  /** app/stream and its rendition. */
  stream: string;
  rendition: string;
  /** Every controller's API (the first that answers is asked) and the admin token. */
  api: { urls: string[]; token: string };
  /** The rendition's directory on the storage, as this machine sees it. */
  storageDir: string;
}

export interface DrillPlan {
  /** How the fault shows in the table (e.g. "kill-agent ot-1"). */
  label: string;
  apply: () => Promise<void>;
  /** Undoes the fault; none when it undoes itself (a publisher that reconnects). */
  heal?: () => Promise<void>;
  /** The node whose failure the controller must notice. */
  detect?: string;
  /** Edges the fault takes out: their viewers are not counted as stalls. */
  edgesDown?: string[];
  /** How long to hold the fault at least, and at most while waiting for the controller and the playlist. */
  holdS: number;
  maxHoldS: number;
  /** The media stops until the fault is undone (the storage): hold it holdS, then heal. */
  holdOnly?: boolean;
  /** A publish started with the fault: true once the cluster accepted it (held until then, maxHoldS at most). */
  newPublish?: () => Promise<boolean>;
}

export interface DrillResult {
  label: string;
  /** Seconds until the controller marked the node failed. */
  detectS: number | undefined;
  /** Seconds until the live playlist listed media made after the fault. */
  advanceS: number | undefined;
  /** Seconds the player on an unaffected edge could not play (buffer empty). */
  stallS: number;
  /**
   * What the players saw, those on an edge the fault took out included (they follow content
   * steering): the longest single stall, seconds, and the largest share of one's requests that failed.
   */
  longestStallS: number;
  viewerErrorRate: number;
  /** Requests per second served (2xx) and the share that failed, while the fault lasted. */
  reqPerS: number;
  errorRate: number;
  /** Seconds until a publish started with the fault was accepted (plans with one). */
  newPublishS?: number | undefined;
  /** Checks that failed, said as a user would see them. */
  problems: string[];
}

interface Seg { uri: string; seq: number; duration: number; discontinuity: boolean; gap: boolean; wallStart: number | undefined }

/** A media playlist's segments with their wall-clock starts (PROGRAM-DATE-TIME carried forward). */
export function readSegments(text: string): Seg[] {
  const p = parse(withoutServerControl(text));
  if (!(p instanceof types.MediaPlaylist)) throw new DvrError('DVR_ERR_BAD_REQUEST', 'not a media playlist');
  let wall: number | undefined;
  return p.segments.map((s) => {
    if (s.programDateTime) wall = s.programDateTime.getTime();
    const seg = { uri: s.uri, seq: s.mediaSequenceNumber, duration: s.duration, discontinuity: s.discontinuity === true,
      gap: s.gap === true, wallStart: wall };
    if (wall !== undefined) wall += s.duration * 1000;
    return seg;
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function fetchText(url: string, timeoutMs = 3000): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, text: await res.text() };
  } catch {
    return { status: 0, text: '' };
  }
}

/**
 * Content steering as a player follows it (RFC 8216bis section 7): the pathways the steering
 * manifests name (this edge's, and clones on other hosts), their order, and the ones that failed
 * the player lately. Without an EXT-X-CONTENT-STEERING tag in the master playlist, one pathway.
 */
class Pathways {
  private readonly hosts = new Map<string, string>();
  private priority: string[];
  private readonly penalized = new Map<string, number>();
  private manifestUrl: string | undefined;
  private nextAskAt = 0;
  current: string;

  constructor(masterUrl: string, master: string) {
    const tag = /^#EXT-X-CONTENT-STEERING:(.*)$/m.exec(master)?.[1] ?? '';
    this.current = /PATHWAY-ID="([^"]+)"/.exec(tag)?.[1] ?? '.';
    const server = /SERVER-URI="([^"]+)"/.exec(tag)?.[1];
    this.manifestUrl = server ? new URL(server, masterUrl).href : undefined;
    this.hosts.set(this.current, new URL(masterUrl).hostname);
    this.priority = [this.current];
  }

  /** `url` on the current pathway's host. */
  locate(url: string): string {
    const u = new URL(url);
    u.hostname = this.hosts.get(this.current) ?? u.hostname;
    return u.href;
  }

  /** A request on the current pathway failed: it waits five minutes, the next one takes over. */
  failed(): void {
    this.penalized.set(this.current, Date.now());
    this.choose();
  }

  /** The steering manifest, asked again once its TTL ran out. */
  async refresh(): Promise<void> {
    if (!this.manifestUrl || Date.now() < this.nextAskAt) return;
    const u = new URL(this.manifestUrl);
    u.searchParams.set('_HLS_pathway', this.current);
    const r = await fetchText(u.href);
    let ttl = 10;
    if (r.status === 200) {
      try {
        const m = JSON.parse(r.text) as { TTL?: number; 'RELOAD-URI'?: string; 'PATHWAY-PRIORITY'?: string[];
          'PATHWAY-CLONES'?: Array<{ 'BASE-ID': string; ID: string; 'URI-REPLACEMENT'?: { HOST?: string } }> };
        for (const c of m['PATHWAY-CLONES'] ?? []) {
          const host = c['URI-REPLACEMENT']?.HOST ?? this.hosts.get(c['BASE-ID']);
          if (host && !this.hosts.has(c.ID)) this.hosts.set(c.ID, host);
        }
        if (m['PATHWAY-PRIORITY']?.length) this.priority = m['PATHWAY-PRIORITY'];
        if (m['RELOAD-URI']) this.manifestUrl = new URL(m['RELOAD-URI'], u).href;
        ttl = m.TTL ?? ttl;
        this.choose();
      } catch {
        // A manifest that does not parse changes nothing.
      }
    }
    this.nextAskAt = Date.now() + ttl * 1000;
  }

  private choose(): void {
    const fresh = (id: string): boolean => Date.now() - (this.penalized.get(id) ?? -Infinity) > 300_000;
    this.current = this.priority.find((id) => this.hosts.has(id) && fresh(id)) ?? this.current;
  }
}

/**
 * A player: it reads the master playlist, then reloads the live playlist about once per target
 * duration and fetches each new segment, starting three segments from the live edge; it plays in
 * real time once it holds two segments, and stalls when its buffer runs dry. It follows content
 * steering as hls.js does: it moves to the next pathway when a request fails (and asks there again
 * at once) or the steering manifest says so.
 */
export class Player {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private bufferedS = 0;
  private playing = false;
  private lastTick = Date.now();
  private stallStartedAt: number | undefined;
  private readonly stalls: Array<[number, number]> = [];
  private readonly requests: Array<{ at: number; ok: boolean }> = [];
  private lastSeq = -1;
  private pathways: Pathways | undefined;
  segments = 0;
  errors = 0;
  /** Requests that failed on one pathway and were asked again on the next. */
  retried = 0;

  /** `edge`: the edge it starts on; `media`: the media playlist's path under the stream. */
  constructor(readonly url: string, private readonly master: string, private readonly media: string) {}

  start(): void {
    this.loop = this.run();
  }

  /** Where the player fetches from now. */
  get host(): string {
    return new URL(this.pathways ? this.pathways.locate(this.url) : this.url).hostname;
  }

  private tick(now: number): void {
    if (this.playing) {
      this.bufferedS -= (now - this.lastTick) / 1000;
      if (this.bufferedS <= 0) {
        this.bufferedS = 0;
        this.stallStartedAt ??= now;
      }
    }
    this.lastTick = now;
  }

  private note(ok: boolean): boolean {
    this.requests.push({ at: Date.now(), ok });
    if (!ok) this.errors++;
    return ok;
  }

  private async run(): Promise<void> {
    while (!this.stopped && !this.pathways) {
      const m = await fetchText(`${this.url}/${this.master}`);
      if (this.note(m.status === 200)) this.pathways = new Pathways(`${this.url}/${this.master}`, m.text);
      else await sleep(1000);
    }
    while (!this.stopped && this.pathways) {
      await this.pathways.refresh();
      const t = await this.onPathway(`${this.url}/${this.media}`, async (url) => {
        const r = await fetchText(url);
        return r.status === 200 ? { ...r, url } : undefined;
      });
      let waitMs = 1000;
      if (this.note(t !== undefined) && t) {
        try {
          waitMs = await this.segmentsOf(t.text, t.url);
        } catch {
          this.errors++;
        }
      }
      this.tick(Date.now());
      await sleep(waitMs);
    }
  }

  /** Fetches the new segments a playlist lists; the time to wait before the next reload. */
  private async segmentsOf(text: string, url: string): Promise<number> {
    const segs = readSegments(text);
    if (this.lastSeq < 0) this.lastSeq = (segs[Math.max(0, segs.length - 3)]?.seq ?? 0) - 1;
    for (const s of segs.filter((x) => x.seq > this.lastSeq)) {
      // A gap (EXT-X-GAP) is time without media: players skip it, nothing is fetched.
      if (s.gap) {
        this.lastSeq = s.seq;
        continue;
      }
      const r = await this.onPathway(new URL(s.uri, url).href, async (u) => {
        const res = await fetch(u, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
        if (!res?.ok) return undefined;
        await res.arrayBuffer();
        return res;
      });
      if (!this.note(r !== undefined)) break;
      this.lastSeq = s.seq;
      this.segments++;
      this.tick(Date.now());
      this.bufferedS += s.duration;
      if (this.stallStartedAt !== undefined) {
        this.stalls.push([this.stallStartedAt, Date.now()]);
        this.stallStartedAt = undefined;
      }
      if (!this.playing && this.bufferedS >= 2 * s.duration) this.playing = true;
    }
    return Math.max(500, Math.min(2000, (segs[segs.length - 1]?.duration ?? 2) * 500));
  }

  /**
   * A request on the current pathway; when it fails and steering names another pathway, the player
   * moves there and asks again at once, as hls.js does (a failed request it gets over is no error
   * the viewer sees, and is counted apart).
   */
  private async onPathway<T>(url: string, get: (url: string) => Promise<T | undefined>): Promise<T | undefined> {
    const p = this.pathways;
    const first = await get(p ? p.locate(url) : url);
    if (first !== undefined || !p) return first;
    const was = p.current;
    p.failed();
    this.retried++;
    return p.current !== was ? get(p.locate(url)) : undefined;
  }

  get started(): boolean { return this.playing; }

  private spans(): Array<[number, number]> {
    this.tick(Date.now());
    return [...this.stalls, ...(this.stallStartedAt !== undefined ? [[this.stallStartedAt, Date.now()] as [number, number]] : [])];
  }

  /** Seconds spent stalled between `from` and `to` (ms since the epoch). */
  stalledS(from: number, to: number): number {
    return this.spans().reduce((a, [s, e]) => a + Math.max(0, Math.min(e, to) - Math.max(s, from)), 0) / 1000;
  }

  /** The longest single stall between `from` and `to`, seconds. */
  longestStallS(from: number, to: number): number {
    return Math.max(0, ...this.spans().map(([s, e]) => Math.max(0, Math.min(e, to) - Math.max(s, from)))) / 1000;
  }

  /** The share of its requests that failed between `from` and `to`. */
  errorRate(from: number, to: number): number {
    const inside = this.requests.filter((r) => r.at >= from && r.at <= to);
    return inside.length ? inside.filter((r) => !r.ok).length / inside.length : 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/**
 * A bounded load: `perSecond` requests (playlists, and a segment in four) spread over the edges. It
 * does not follow content steering; a playlist request that fails is asked again on the redundant
 * variant the edge's master names on another edge, as a player without steering does.
 */
export class Load {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly samples: Array<{ at: number; ok: boolean }> = [];
  private n = 0;
  private readonly backups = new Map<string, { url: string | undefined; at: number }>();
  /** Requests that failed on their edge and were asked again on its redundant variant. */
  retried = 0;

  constructor(private readonly edges: string[], private readonly stream: string, private readonly rendition: string,
    private readonly perSecond: number) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.stopped) return;
      const edge = this.edges[this.n % this.edges.length] ?? '';
      const n = this.n++;
      const p = this.one(edge, n % 4 === 3).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }, 1000 / this.perSecond);
  }

  /**
   * The redundant variant the edge's master names on another edge for the rendition (a player
   * without content steering fails over to it), read again every 10 s while the edge answers.
   */
  private async backupOf(edge: string): Promise<string | undefined> {
    const known = this.backups.get(edge);
    if (known && Date.now() - known.at < 10_000) return known.url;
    const m = await fetchText(`${edge}/${this.stream}/master.m3u8`, 1000);
    const escaped = this.rendition.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const url = m.status === 200 ? new RegExp(`^(https?://\\S+/${escaped}/index\\.m3u8)$`, 'm').exec(m.text)?.[1] : known?.url;
    this.backups.set(edge, { url, at: Date.now() });
    return url;
  }

  private async one(edge: string, segment: boolean): Promise<void> {
    let url = `${edge}/${this.stream}/${this.rendition}/index.m3u8`;
    const backup = await this.backupOf(edge);
    let pl = await fetchText(url);
    if (pl.status !== 200 && backup) {
      // As a player without steering does: the same rendition's redundant variant.
      this.retried++;
      url = backup;
      pl = await fetchText(url);
    }
    let ok = pl.status === 200;
    if (ok && segment) {
      const last = /^([^#\s][^\s]*)\s*$/m.exec([...pl.text.trim().split('\n')].reverse().join('\n'))?.[1];
      const seg = last ? await fetch(new URL(last, url), { signal: AbortSignal.timeout(5000) }).catch(() => undefined) : undefined;
      ok = seg?.ok === true;
      if (seg) await seg.arrayBuffer().catch(() => undefined);
    }
    this.samples.push({ at: Date.now(), ok });
  }

  /** Requests/s that succeeded and the share that failed between `from` and `to`. */
  figures(from: number, to: number): { reqPerS: number; errorRate: number } {
    const inside = this.samples.filter((s) => s.at >= from && s.at <= to);
    const ok = inside.filter((s) => s.ok).length;
    return { reqPerS: ok / Math.max(0.001, (to - from) / 1000), errorRate: inside.length ? (inside.length - ok) / inside.length : 0 };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([...this.inFlight]);
  }
}

export async function api<T>(t: Pick<DrillTarget, 'api'>, p: string): Promise<T> {
  let failure: unknown;
  for (const url of t.api.urls) {
    try {
      const res = await fetch(`${url}${p}`, { headers: { Authorization: `Bearer ${t.api.token}` }, signal: AbortSignal.timeout(3000) });
      if (!res.ok) throw new DvrError('DVR_ERR_DEPENDENCY', `${p}: ${res.status}`);
      return (await res.json()) as T;
    } catch (err) {
      failure = err;
    }
  }
  throw failure instanceof Error ? failure : new DvrError('DVR_ERR_DEPENDENCY', `${p}: no controller answers`);
}

/** The playlist as an edge serves it now, parsed; undefined when it does not answer. */
async function playlist(edge: string, t: DrillTarget): Promise<Seg[] | undefined> {
  const r = await fetchText(`${edge}/${t.stream}/${t.rendition}/index.m3u8`);
  return r.status === 200 ? readSegments(r.text) : undefined;
}

/** What the storage holds against what the playlist lists, and the holes: problems as a user would word them. */
export async function checkStream(t: DrillTarget, window: { from: number; to: number }): Promise<string[]> {
  const problems: string[] = [];
  let reference: Seg[] | undefined;
  for (const edge of t.edges) {
    const r = await fetchText(`${edge}/${t.stream}/${t.rendition}/index.m3u8`);
    if (r.status !== 200) { problems.push(`${edge}: the playlist answers ${r.status}`); continue; }
    try {
      const segs = readSegments(r.text);
      reference ??= segs;
    } catch (err) {
      problems.push(`${edge}: the playlist does not parse: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (!reference) return problems;
  // A gap entry's marker (.gap) is stored as a segment is.
  const stored = (await fs.readdir(t.storageDir)).filter((f) => /^\d{9,}_\d+_\d+_\d+_\d+\.(ts|m4s|gap)$/.test(f));
  // A gap entry is stored as its empty marker.
  const storedAs = (s: Seg): string => (s.gap ? gapMarkerName(s.uri) : s.uri);
  const listed = new Set(reference.map(storedAs));
  const oldestListed = Math.min(...reference.map((s) => s.seq));
  const notListed = stored.filter((f) => !listed.has(f) && Number(f.slice(0, 9)) >= oldestListed);
  // The newest segment may have reached the storage a moment before the playlist that lists it.
  const newest = Math.max(...reference.map((s) => s.seq));
  const late = notListed.filter((f) => Number(f.slice(0, 9)) > newest);
  if (notListed.length > late.length) problems.push(
    `on the storage but not listed: ${notListed.filter((f) => !late.includes(f)).join(', ')}`);
  const missing = reference.filter((s) => !stored.includes(storedAs(s))).map(storedAs);
  if (missing.length > 0) problems.push(`listed but not on the storage: ${missing.join(', ')}`);
  const seqs = reference.map((s) => s.seq);
  if (seqs.some((q, i) => i > 0 && q !== (seqs[i - 1] ?? 0) + 1)) problems.push('media sequence numbers skip or repeat');
  const bySeq = new Map<string, number>();
  for (const f of stored) bySeq.set(f.slice(0, 9), (bySeq.get(f.slice(0, 9)) ?? 0) + 1);
  const twice = [...bySeq].filter(([, n]) => n > 1).map(([q]) => q);
  if (twice.length > 0) problems.push(`sequence numbers written twice on the storage: ${twice.join(', ')}`);
  for (let i = 1; i < reference.length; i++) {
    const s = reference[i];
    if (!s || s.gap) continue;
    // The media before it, past any gap entries: what is missing between them is the hole.
    let k = i - 1;
    while (k > 0 && reference[k]?.gap) k--;
    const prev = reference[k];
    if (!prev || prev.wallStart === undefined || s.wallStart === undefined) continue;
    const start = prev.wallStart + prev.duration * 1000;
    const gapMs = s.wallStart - start;
    if (gapMs < 1000) continue;
    const jumpMs = s.wallStart - ((reference[i - 1]?.wallStart ?? 0) + (reference[i - 1]?.duration ?? 0) * 1000);
    if (jumpMs >= 1000 && !s.discontinuity) problems.push(`an unmarked hole of ${(jumpMs / 1000).toFixed(1)} s before ${s.uri}`);
    // A hole made in this drill lies within the outage.
    if (start >= window.from - 4000 && s.wallStart > window.to + 4000) {
      problems.push(`a hole from ${new Date(start).toISOString()} to ${new Date(s.wallStart).toISOString()} runs past the outage `
        + `(every edge had new media again at ${new Date(window.to).toISOString()})`);
    }
  }
  return problems;
}

/** Runs one fault on the lab: measures, heals, checks. */
export async function drill(t: DrillTarget, plan: DrillPlan, o: { loadPerSecond: number } = { loadPerSecond: 20 }): Promise<DrillResult> {
  const up = t.edges.filter((e) => !(plan.edgesDown ?? []).includes(e));
  const players = t.edges.map((e) => new Player(e, `${t.stream}/master.m3u8`, `${t.stream}/${t.rendition}/index.m3u8`));
  const load = new Load(t.edges, t.stream, t.rendition, o.loadPerSecond);
  for (const p of players) p.start();
  load.start();
  try {
    const warm = Date.now();
    while (!players.every((p) => p.started) && Date.now() - warm < 30_000) await sleep(200);
    const before = await playlist(up[0] ?? '', t);
    const newest = before?.[before.length - 1];
    const segS = newest?.duration ?? 2;
    const t0 = Date.now();
    // The playlist's wall clock may run a little ahead of this machine's after a takeover (the new
    // writer's first segments start where the old writer's last ended): "made after" allows for it.
    const ahead = Math.max(0, (newest?.wallStart ?? 0) + segS * 1000 - t0);
    const madeAfter = (segs: Seg[] | undefined, at: number): boolean => {
      const last = segs?.[segs.length - 1];
      return last?.wallStart !== undefined && last.wallStart + last.duration * 1000 - ahead >= at + segS * 1000;
    };
    await plan.apply();
    let detectS: number | undefined;
    let advanceS: number | undefined;
    let newPublishS: number | undefined;
    // Media made after the fault, listed by an edge that is up.
    const advanced = async (): Promise<boolean> => {
      for (const e of up) if (madeAfter(await playlist(e, t), t0)) return true;
      return false;
    };
    const watch = async (): Promise<void> => {
      if (plan.detect !== undefined && detectS === undefined) {
        const nodes = await api<Array<{ id: string; state: string }>>(t, '/nodes').catch(() => []);
        if (nodes.some((n) => n.id === plan.detect && n.state === 'failed')) detectS = (Date.now() - t0) / 1000;
      }
      if (advanceS === undefined && await advanced()) advanceS = (Date.now() - t0) / 1000;
      if (plan.newPublish && newPublishS === undefined && await plan.newPublish().catch(() => false)) {
        newPublishS = (Date.now() - t0) / 1000;
      }
    };
    // Held holdS at least, then until the controller noticed and (unless the media cannot move on
    // before the fault is undone) the playlist advanced, maxHoldS at most.
    const holding = (): boolean => {
      const now = Date.now();
      if (now >= t0 + plan.maxHoldS * 1000) return false;
      if (now < t0 + plan.holdS * 1000) return true;
      return (plan.detect !== undefined && detectS === undefined) || (plan.holdOnly !== true && advanceS === undefined)
        || (plan.newPublish !== undefined && newPublishS === undefined);
    };
    while (holding()) {
      await watch();
      await sleep(250);
    }
    const healedAt = Date.now();
    const figures = load.figures(t0, healedAt);
    if (plan.heal) await plan.heal();
    // Faults that stop the media (the storage) advance only once undone; then every edge catches up.
    const back = Date.now();
    while (Date.now() - back < 60_000) {
      await watch();
      const all = await Promise.all(t.edges.map((e) => playlist(e, t)));
      if (advanceS !== undefined && all.every((segs) => madeAfter(segs, back))) break;
      await sleep(500);
    }
    const recoveredAt = Date.now();
    const stallS = Math.max(0, ...players.filter((p) => up.some((e) => p.url.startsWith(e))).map((p) => p.stalledS(t0, recoveredAt)));
    // Every player, the one on an edge the fault took out included: what its viewer saw.
    const viewer = { longestStallS: Math.max(0, ...players.map((p) => p.longestStallS(t0, recoveredAt))),
      viewerErrorRate: Math.max(0, ...players.map((p) => p.errorRate(t0, recoveredAt))) };
    // The outage lasts from the fault until every edge lists new media again (a stream moved off a
    // node the controller gave up on may change hands after the fault itself was undone).
    const problems = await checkStream(t, { from: t0, to: recoveredAt });
    if (plan.detect !== undefined && detectS === undefined) problems.push(
      `the controller did not mark ${plan.detect} failed within ${plan.maxHoldS} s`);
    if (advanceS === undefined) problems.push('the playlist did not advance again, even after the fault was undone');
    if (plan.newPublish && newPublishS === undefined) {
      problems.push(`a publish started with the fault was not accepted within ${plan.maxHoldS} s`);
    }
    return { label: plan.label, detectS, advanceS, stallS, ...viewer, ...figures, newPublishS, problems };
  } finally {
    await load.stop();
    for (const p of players) await p.stop();
  }
}

/** The drill results as one table, for people. */
export function resultTable(results: DrillResult[]): string {
  const head = ['fault', 'detect (s)', 'playlist advances (s)', 'viewer stall (s)', 'longest stall (s)', 'viewer errors', 'req/s held',
    'errors', 'new publish (s)'];
  const rows = results.map((r) => [r.label, r.detectS?.toFixed(1) ?? '-', r.advanceS?.toFixed(1) ?? '-', r.stallS.toFixed(1),
    r.longestStallS.toFixed(1), `${(r.viewerErrorRate * 100).toFixed(1)} %`, r.reqPerS.toFixed(1), `${(r.errorRate * 100).toFixed(1)} %`,
    r.newPublishS?.toFixed(1) ?? '-']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

