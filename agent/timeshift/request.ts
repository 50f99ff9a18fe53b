// What a time-shift request asks for, from its path and query: the stream (and rendition), the
// kind of answer (master or media playlist, MPD, MP4 clip) and the range of wall-clock time. Pure.
//   /<app>/<stream>/index-<from>-<duration|now>.m3u8            master playlist of the range
//   /<app>/<stream>/<rendition>/index-<from>-<duration|now>.m3u8 media playlist of the range
//   /<app>/<stream>/index-<from>-<duration|now>.mpd             MPD of the range
//   /<app>/<stream>/archive-<from>-<duration>.mp4               the range as one MP4
//   /<app>/<stream>/thumb-<at>.jpg                               a thumbnail of the segment at <at>
//   /<app>/<stream>/thumbs.m3u8                                  the thumbnail track: one per listed segment
//   .../master.m3u8, index.m3u8 or manifest.mpd ?start=<ISO-8601|epoch|-seconds>&end=...  the same by query
//   .../index.m3u8?window=<seconds>                              the live playlist, shortened
// <from> is Unix seconds, <duration> seconds. A malformed request is a 400, with one line that says why.
import { THUMB_TRACK } from '../../common/edge-paths.js';
import { NAME_SOURCE } from '../../common/names.js';

export type TimeShiftKind = 'master' | 'media' | 'mpd' | 'clip' | 'thumb' | 'thumbs';

export interface TimeShiftRequest {
  app: string;
  stream: string;
  /** Media playlists only. */
  rendition?: string;
  kind: TimeShiftKind;
  fromMs: number;
  /** The range's end; undefined: it stays open (an EVENT playlist that grows to the live edge). */
  toMs: number | undefined;
  /** ?window=: the live playlist, the last `windowS` seconds only. */
  live?: boolean;
  /** The range was given relative to now (?start=-3600): the same URL means another range a second later. */
  relative?: boolean;
}

export type Parsed = { ok: true; request: TimeShiftRequest } | { ok: false; status: 400; reason: string };

export interface RequestLimits {
  /** The longest range a clip (MP4) may cover, seconds. */
  maxClipSeconds: number;
  /** The longest range a playlist may cover, seconds. */
  maxRangeSeconds: number;
}

const NAME = NAME_SOURCE;
const PATH_RE = new RegExp(
  `^/(${NAME})/(${NAME})(?:/(${NAME}))?/(index|archive|manifest|master)(?:-(\\d{1,12})-(\\d{1,9}|now))?\\.(m3u8|mpd|mp4)$`);

const THUMB_RE = new RegExp(`^/(${NAME})/(${NAME})/thumb-([1-9]\\d{0,11})\\.jpg$`);
const THUMBS_RE = new RegExp(`^/(${NAME})/(${NAME})/${THUMB_TRACK.replaceAll('.', '\\.')}$`);

const bad = (reason: string): Parsed => ({ ok: false, status: 400, reason });

/** A time from the query: ISO-8601, Unix seconds, or seconds before now (negative). */
function queryTime(value: string, nowMs: number): number | undefined {
  if (/^-\d{1,9}(\.\d+)?$/.test(value)) return nowMs + Number(value) * 1000;
  if (/^\d{9,12}(\.\d+)?$/.test(value)) return Number(value) * 1000;
  if (/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const ms = Date.parse(value);
    return Number.isFinite(ms) ? ms : undefined;
  }
  return undefined;
}

export function parseTimeShift(path: string, query: URLSearchParams, nowMs: number, limits: RequestLimits): Parsed {
  const thumb = THUMB_RE.exec(path);
  if (thumb) {
    const fromMs = Number(thumb[3]) * 1000;
    if (fromMs > nowMs) return bad(`${path}: the time is in the future (${new Date(fromMs).toISOString()})`);
    return { ok: true, request: { app: thumb[1] ?? '', stream: thumb[2] ?? '', kind: 'thumb', fromMs, toMs: fromMs + 1 } };
  }
  const thumbs = THUMBS_RE.exec(path);
  if (thumbs) return { ok: true, request: { app: thumbs[1] ?? '', stream: thumbs[2] ?? '', kind: 'thumbs', fromMs: 0, toMs: undefined } };
  const m = PATH_RE.exec(path);
  if (!m) return bad(`${path} is not a time-shift URL`);
  const [, app = '', stream = '', rendition, name, from, duration, ext] = m;
  const kind: TimeShiftKind = ext === 'mp4' ? 'clip' : ext === 'mpd' ? 'mpd' : rendition !== undefined ? 'media' : 'master';
  const shape = ext === 'mp4' ? name === 'archive' && from !== undefined
    : name === 'archive' ? false
      : name === 'manifest' ? ext === 'mpd' && from === undefined
        : name === 'master' ? ext === 'm3u8' && from === undefined && rendition === undefined
        : from !== undefined || ext === 'm3u8';
  if (!shape) {
    return bad(`${path}: the forms are index-<from>-<duration|now>.m3u8 or .mpd, archive-<from>-<duration>.mp4, `
      + 'and master.m3u8, index.m3u8 or manifest.mpd with ?start=');
  }
  if (rendition !== undefined && kind !== 'media') return bad(`${path}: a rendition has media playlists only`);
  const base = { app, stream, kind, ...(rendition !== undefined ? { rendition } : {}) };
  let fromMs: number;
  let toMs: number | undefined;
  let relative = false;
  if (from !== undefined) {
    if (query.has('start') || query.has('end') || query.has('window')) {
      return bad(`${path}: the range is in the path; no ?start, ?end or ?window as well`);
    }
    fromMs = Number(from) * 1000;
    toMs = duration === 'now' ? undefined : fromMs + Number(duration) * 1000;
    if (duration !== 'now' && Number(duration) <= 0) return bad(`${path}: the duration must be at least one second`);
  } else if (query.has('window')) {
    const w = query.get('window') ?? '';
    if (!/^\d{1,9}$/.test(w) || Number(w) <= 0) return bad(`?window=${w}: seconds, a positive whole number`);
    if (query.has('start') || query.has('end')) return bad('?window= shortens the live playlist; it takes no ?start or ?end');
    return { ok: true, request: { ...base, fromMs: nowMs - Number(w) * 1000, toMs: undefined, live: true, relative: true } };
  } else if (query.has('start')) {
    relative = /^-/.test(query.get('start') ?? '') || /^-/.test(query.get('end') ?? '');
    const start = queryTime(query.get('start') ?? '', nowMs);
    if (start === undefined) {
      return bad(`?start=${query.get('start') ?? ''}: an ISO-8601 time, Unix seconds, or seconds before now (-3600)`);
    }
    fromMs = start;
    if (query.has('end')) {
      const end = queryTime(query.get('end') ?? '', nowMs);
      if (end === undefined) return bad(`?end=${query.get('end') ?? ''}: an ISO-8601 time, Unix seconds, or seconds before now`);
      toMs = end;
    }
  } else {
    return bad(`${path}: a time-shift needs a range (index-<from>-<duration>, ?start= or ?window=)`);
  }
  if (kind === 'clip' && toMs === undefined) return bad(`${path}: a clip needs an end`);
  if (toMs !== undefined && toMs <= fromMs) return bad('the range ends before it starts');
  if (fromMs > nowMs) return bad(`the range starts in the future (${new Date(fromMs).toISOString()})`);
  const limit = kind === 'clip' ? limits.maxClipSeconds : limits.maxRangeSeconds;
  if (((toMs ?? nowMs) - fromMs) / 1000 > limit) {
    return bad(`the range is longer than ${limit} s, the longest ${kind === 'clip' ? 'clip' : 'range'} allowed`);
  }
  return { ok: true, request: { ...base, fromMs, toMs, ...(relative ? { relative } : {}) } };
}
