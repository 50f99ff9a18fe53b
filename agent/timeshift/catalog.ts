// What a rendition lists now, read from the storage as the packager left it: its full playlist
// (index.m3u8, or index.m3u8.ssi that includes the immutable chunks) and those chunks. Segment
// names carry everything (sequence, wall-clock start, duration, discontinuity, media start), so the
// catalog needs no other state. Chunks never change and are read once; the playlist is read again
// only when it changed. A lookup by time is a binary search: its cost does not grow with the window.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../../common/errors.js';
import { checkName } from '../../common/names.js';
import { parseStreamState } from '../../packager/state.js';
import {
  CHUNKED_PLAYLIST, PLAYLIST, STREAM_STATE, WINDOW_LISTING, gapMarkerName, parseSegmentName, type SegmentExt, type SegmentRecord,
} from '../../packager/layout.js';

/** Consecutive segments in columns (about 29 bytes each). */
interface Run {
  firstSeq: number;
  n: number;
  startMs: Float64Array;
  durationUs: Uint32Array;
  disc: Uint32Array;
  mediaStartUs: Float64Array;
  /** 1: a gap entry (missing time, no media). */
  gap: Uint8Array;
}

export interface RenditionView {
  ext: SegmentExt;
  target: number;
  /** The playlist is an EVENT one (unbounded window): what it lists stays listed. */
  event: boolean;
  /** The event ended (ENDLIST). */
  ended: boolean;
  /** Listed segments, oldest first. */
  runs: Run[];
}

const INCLUDE_RE = /^<!--# include virtual="([^"]+)" -->$/;

function toRun(names: string[]): Run | undefined {
  const parsed = names.map(parseSegmentName).filter((s): s is NonNullable<ReturnType<typeof parseSegmentName>> => s !== undefined);
  const first = parsed[0];
  if (!first) return undefined;
  const n = parsed.length;
  const run: Run = { firstSeq: first.seq, n, startMs: new Float64Array(n), durationUs: new Uint32Array(n), disc: new Uint32Array(n),
    mediaStartUs: new Float64Array(n), gap: new Uint8Array(n) };
  parsed.forEach((s, i) => {
    run.startMs[i] = s.startMs;
    run.durationUs[i] = s.durationUs;
    run.disc[i] = s.disc;
    run.mediaStartUs[i] = s.mediaStartUs;
    run.gap[i] = s.gap === true ? 1 : 0;
  });
  return run;
}

/** The segment names a listing holds, a gap entry's (after EXT-X-GAP) as its marker's, so that it parses as a gap. */
function segmentLines(lines: readonly string[]): string[] {
  const out: string[] = [];
  let gap = false;
  for (const l of lines) {
    if (l === '#EXT-X-GAP') gap = true;
    if (l === '' || l.startsWith('#') || l.startsWith('<!--')) continue;
    out.push(gap ? gapMarkerName(l) : l);
    gap = false;
  }
  return out;
}

export class Catalog {
  private readonly playlists = new Map<string, { mtimeMs: number; size: number; view: RenditionView }>();
  private readonly chunks = new Map<string, Run | undefined>();
  private readonly windows = new Map<string, { mtimeMs: number; seconds: number }>();

  constructor(private readonly root: string, private readonly maxChunks = 4096) {}

  /** The rendition's directory on the storage; its names are checked before they become a path. */
  dir(app: string, stream: string, rendition: string): string {
    return path.join(this.root, checkName('app', app), checkName('stream', stream), checkName('rendition', rendition));
  }

  /**
   * The stream's DVR window in seconds as its packager keeps it (stream.json; 0: unbounded), or
   * undefined when the stream has no state here.
   */
  async windowSeconds(app: string, stream: string): Promise<number | undefined> {
    const file = path.join(this.root, checkName('app', app), checkName('stream', stream), STREAM_STATE);
    const st = await fs.stat(file).catch(() => undefined);
    if (!st) return undefined;
    const cached = this.windows.get(file);
    if (cached?.mtimeMs === st.mtimeMs) return cached.seconds;
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    let seconds: number | undefined;
    try {
      seconds = parseStreamState(JSON.parse(text ?? 'null'))?.settings?.windowSeconds;
    } catch {
      seconds = undefined; // being replaced: asked again next time
    }
    if (seconds !== undefined) this.windows.set(file, { mtimeMs: st.mtimeMs, seconds });
    return seconds;
  }

  /** What the rendition lists now; undefined when it has no playlist. */
  async rendition(app: string, stream: string, rendition: string): Promise<RenditionView | undefined> {
    const dir = this.dir(app, stream, rendition);
    // The whole window's listing where the live playlist is capped, else the live playlist.
    for (const name of [WINDOW_LISTING, CHUNKED_PLAYLIST, PLAYLIST]) {
      const file = path.join(dir, name);
      let st;
      try {
        st = await fs.stat(file);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') continue;
        throw err;
      }
      // The packager writes the window's listing just after the live playlist; one older than the
      // live playlist was left by a packager that no longer writes it.
      if (name === WINDOW_LISTING && await this.newerLive(dir, st.mtimeMs)) continue;
      const cached = this.playlists.get(file);
      if (cached?.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.view;
      const text = await fs.readFile(file, 'utf8').catch((err: unknown) => {
        if (errnoCode(err) === 'ENOENT') return undefined; // replaced by its other form meanwhile
        throw err;
      });
      if (text === undefined) continue;
      const view = await this.parse(dir, text);
      this.playlists.set(file, { mtimeMs: st.mtimeMs, size: st.size, view });
      return view;
    }
    return undefined;
  }

  private async newerLive(dir: string, mtimeMs: number): Promise<boolean> {
    for (const name of [CHUNKED_PLAYLIST, PLAYLIST]) {
      const st = await fs.stat(path.join(dir, name)).catch(() => undefined);
      if (st) return st.mtimeMs > mtimeMs;
    }
    return false;
  }

  private async parse(dir: string, text: string): Promise<RenditionView> {
    const runs: Run[] = [];
    // The playlist's own lines between the chunks it includes.
    let pending: string[] = [];
    const flush = (): void => {
      const run = toRun(segmentLines(pending));
      if (run) runs.push(run);
      pending = [];
    };
    for (const line of text.split('\n')) {
      const include = INCLUDE_RE.exec(line);
      if (include) {
        flush();
        const chunk = await this.chunk(dir, include[1] ?? '');
        if (chunk) runs.push(chunk);
      } else {
        pending.push(line);
      }
    }
    flush();
    const target = Number(/^#EXT-X-TARGETDURATION:(\d+)$/m.exec(text)?.[1] ?? 2);
    const ext: SegmentExt = /\.m4s$/m.test(text) ? 'm4s' : 'ts';
    return { ext, target, event: /^#EXT-X-PLAYLIST-TYPE:(EVENT|VOD)$/m.test(text), ended: /^#EXT-X-ENDLIST$/m.test(text), runs };
  }

  private async chunk(dir: string, rel: string): Promise<Run | undefined> {
    const file = path.join(dir, path.normalize(rel));
    if (!file.startsWith(dir + path.sep)) return undefined;
    if (this.chunks.has(file)) return this.chunks.get(file);
    const run = toRun(segmentLines((await fs.readFile(file, 'utf8')).split('\n')));
    if (this.chunks.size >= this.maxChunks) this.chunks.delete(this.chunks.keys().next().value ?? '');
    this.chunks.set(file, run);
    return run;
  }
}

/** The listed segments that overlap [fromMs, toMs) (toMs undefined: to the live edge), in order. */
export function segmentsIn(view: RenditionView, fromMs: number, toMs: number | undefined): SegmentRecord[] {
  const out: SegmentRecord[] = [];
  // Runs are in time order: skip those that end before the range by their last segment.
  let lo = 0;
  let hi = view.runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const r = view.runs[mid] as Run;
    const end = (r.startMs[r.n - 1] ?? 0) + (r.durationUs[r.n - 1] ?? 0) / 1000;
    if (end <= fromMs) lo = mid + 1;
    else hi = mid;
  }
  for (let k = lo; k < view.runs.length; k++) {
    const r = view.runs[k] as Run;
    for (let i = 0; i < r.n; i++) {
      const start = r.startMs[i] ?? 0;
      const durationUs = r.durationUs[i] ?? 0;
      if (toMs !== undefined && start >= toMs) return out;
      if (start + durationUs / 1000 <= fromMs) continue;
      out.push({ seq: r.firstSeq + i, startMs: start, durationUs, disc: r.disc[i] ?? 0, mediaStartUs: r.mediaStartUs[i] ?? 0, bytes: 0,
        ...(r.gap[i] === 1 ? { gap: true } : {}) });
    }
  }
  return out;
}

/** The wall-clock span the rendition lists: [first start, last end]; undefined when it lists nothing. */
export function listedSpan(view: RenditionView): { fromMs: number; toMs: number } | undefined {
  const first = view.runs[0];
  const last = view.runs[view.runs.length - 1];
  if (!first || !last) return undefined;
  return { fromMs: first.startMs[0] ?? 0, toMs: (last.startMs[last.n - 1] ?? 0) + (last.durationUs[last.n - 1] ?? 0) / 1000 };
}
