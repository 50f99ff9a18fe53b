// Low-latency HLS at the live edge, from the stream's transcoder: blocking playlist reloads
// (_HLS_msn, _HLS_part, RFC 8216bis 6.2.5.2), delta updates with them (_HLS_skip), and partial
// segments, including the hinted next one before it exists. A waiting request is a listener on
// its stream's changes (a part cut, a segment listed, the end), never a timer that polls: a
// thousand of them cost memory. Every request waiting on the same state gets the same rendered text.
import type { LlRendition, RenditionReport } from './render/ll-hls.js';
import { lastPosition, renderLlPlaylist, satisfies } from './render/ll-hls.js';
import type { LiveAnswer } from './live-view.js';

/** What a stream's packager gives the live edge. */
export interface LlSource {
  readonly ended: boolean;
  readonly lowLatency: boolean;
  readonly changes: number;
  llRendition(name: string): LlRendition | undefined;
  renditionReports(name: string): RenditionReport[];
  part(rendition: string, name: string): Buffer | 'coming' | 'never';
  onChange(listener: () => void): () => void;
}

export interface LlQuery { msn?: number; part?: number; skip: boolean }

const HLS = 'application/vnd.apple.mpegurl';

/** The delivery directives of a playlist request (none: a plain reload, answered at once); an error names the directive. */
export function parseLlQuery(search: URLSearchParams): LlQuery | { error: string } {
  const msn = search.get('_HLS_msn');
  const part = search.get('_HLS_part');
  const skip = search.get('_HLS_skip');
  if (msn === null && part === null) return { skip: skip === 'YES' || skip === 'v2' };
  const int = (v: string | null): number | undefined => (v !== null && /^\d{1,15}$/.test(v) ? Number(v) : undefined);
  if (msn === null) return { error: '_HLS_part without _HLS_msn' };
  if (int(msn) === undefined) return { error: `_HLS_msn=${msn.slice(0, 20)}: not a media sequence number` };
  if (part !== null && int(part) === undefined) return { error: `_HLS_part=${part.slice(0, 20)}: not a part index` };
  const msnN = int(msn) as number;
  return { msn: msnN, ...(part !== null ? { part: int(part) as number } : {}), skip: skip === 'YES' || skip === 'v2' };
}

/** Parts further ahead than this are refused at once (RFC 8216bis: the Advance Part Limit, 3 s of parts). */
function advancePartLimit(partTarget: number): number {
  return partTarget < 1 ? Math.floor(3 / partTarget) : 3;
}

/** Resolves true once `ready()` holds, false after `timeoutMs` or when `signal` aborts (the client left). */
export function waitFor(src: LlSource, ready: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  if (ready()) return Promise.resolve(true);
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      stop();
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      resolve(ok);
    };
    const stop = src.onChange(() => { if (ready()) finish(true); });
    const timer = setTimeout(() => finish(ready()), timeoutMs);
    const aborted = (): void => finish(false);
    signal?.addEventListener('abort', aborted);
  });
}

/** The last rendering of each (rendition, skip) at a state of the stream: every waiter of that state shares it. */
const rendered = new WeakMap<LlSource, Map<string, { changes: number; body: Buffer }>>();

function render(src: LlSource, rendition: string, v: LlRendition, skip: boolean): Buffer {
  let memo = rendered.get(src);
  if (!memo) rendered.set(src, memo = new Map());
  const k = `${rendition}|${skip ? 1 : 0}`;
  const hit = memo.get(k);
  if (hit && hit.changes === src.changes) return hit.body;
  const body = Buffer.from(renderLlPlaylist(v, skip, src.renditionReports(rendition)));
  memo.set(k, { changes: src.changes, body });
  return body;
}

/**
 * A rendition's playlist for a request with delivery directives: at once when the playlist has
 * what it asks for (or the event ended), else when it does, within `timeoutMs` (three target
 * durations: then 503). 400 for what will not come in time (RFC 8216bis 6.2.5.2).
 */
export async function answerLlPlaylist(src: LlSource, rendition: string, q: LlQuery, timeoutMs: number,
  signal?: AbortSignal): Promise<LiveAnswer> {
  const first = src.llRendition(rendition);
  if (!first) return { status: 404, reason: `no low-latency rendition ${rendition}` };
  const last = lastPosition(first);
  const part = first.input.lowLatency?.partTarget ?? 1;
  if (!src.ended && last && q.msn !== undefined) {
    const completeLast = first.current.length > 0 ? last.msn - 1 : last.msn;
    if (q.msn > completeLast + 2) {
      return { status: 400, reason: `_HLS_msn=${q.msn}: more than two segments past the last (${completeLast})` };
    }
    const ahead = q.part === undefined ? 0 : q.msn === last.msn ? q.part - (last.part ?? -1) : q.msn > last.msn ? q.part + 1 : 0;
    if (ahead > advancePartLimit(part)) return { status: 400, reason: `_HLS_part=${q.part ?? 0}: further ahead than the parts to come` };
  }
  const ready = (): boolean => {
    if (src.ended) return true;
    const v = src.llRendition(rendition);
    return v !== undefined && (q.msn === undefined || satisfies(v, q.msn, q.part));
  };
  if (!(await waitFor(src, ready, timeoutMs, signal))) {
    return signal?.aborted === true ? { status: 404, reason: 'the client left' }
      : { status: 503, reason: `segment ${q.msn ?? ''}${q.part !== undefined ? ` part ${q.part}` : ''} did not come in time` };
  }
  const v = src.llRendition(rendition);
  if (!v) return { status: 404, reason: `no low-latency rendition ${rendition}` };
  return { status: 200, type: HLS, kind: 'playlist', body: render(src, rendition, v, q.skip) };
}

/** A partial segment: at once when held, or once cut (the hinted one is asked for before it exists); 404 for one that never comes. */
export async function answerPart(src: LlSource, rendition: string, name: string, timeoutMs: number,
  signal?: AbortSignal): Promise<LiveAnswer> {
  let got = src.part(rendition, name);
  if (got === 'coming') {
    await waitFor(src, () => src.part(rendition, name) !== 'coming', timeoutMs, signal);
    got = src.part(rendition, name);
  }
  if (typeof got === 'string') return { status: 404, reason: `part ${name} ${got === 'never' ? 'is not held' : 'did not come in time'}` };
  return { status: 200, type: 'video/iso.segment', kind: 'media', body: got };
}
