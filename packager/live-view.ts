// The live view of a stream, from the transcoder that packages it and never from the shared
// storage: its newest playlists and segments, for edges that cannot read the storage in time (a
// frozen NFS server). The segments already listed come from memory (the newest few of each
// rendition are kept); the ones that wait in the local spool while the storage is down are listed
// as the packager will list them once it is back (the same sequence numbers and names: a player
// that moves between the storage's playlist and this one sees one timeline), read from the spool.
import { readFileSync } from 'node:fs';
import { errnoCode } from '../common/errors.js';
import {
  CHUNKED_PLAYLIST, COMPRESSED_PLAYLIST, DASH_DIR, DASH_MANIFEST, DELTA_PLAYLIST, MASTER, MPD_PATCH_RE, PLAYLIST, initName,
  parseInitName, parseSegmentName, segmentName, type SegmentExt, type SegmentRecord,
} from './layout.js';
import type { SegmentIndex } from './index/segment-index.js';
import { mediaPlaylistParts } from './render/hls.js';

/** How much of the newest media the live view lists and keeps in memory, per rendition. */
export const LIVE_VIEW_SECONDS = 24;

/** The newest segments' bytes (and the init segments they need), by sequence and discontinuity. */
export class RecentMedia {
  private readonly segments = new Map<number, Buffer>();
  private readonly inits = new Map<number, Buffer>();

  constructor(private readonly keep: number) {}

  /** Segments held at most: the live view lists no more of the index than this. */
  get capacity(): number { return this.keep; }

  add(seq: number, data: Buffer): void {
    this.segments.set(seq, data);
    // Oldest first (insertion order): drop what the live view no longer lists.
    for (const k of this.segments.keys()) {
      if (this.segments.size <= this.keep) break;
      this.segments.delete(k);
    }
  }

  addInit(disc: number, data: Buffer): void {
    this.inits.set(disc, data);
    for (const k of this.inits.keys()) {
      if (this.inits.size <= 4) break;
      this.inits.delete(k);
    }
  }

  segment(seq: number): Buffer | undefined { return this.segments.get(seq); }
  init(disc: number): Buffer | undefined { return this.inits.get(disc); }
}

/** Segments to keep for a rendition of this target duration. */
export function liveViewSegments(target: number): number {
  return Math.max(4, Math.ceil(LIVE_VIEW_SECONDS / Math.max(1, target)));
}

/** A segment placed ahead of the index: waiting in the spool (`file`), or on its way to the storage (its bytes held). */
export interface PredictedSegment { record: SegmentRecord; file?: string }

/** What the live view reads of one rendition at one moment. */
export interface LiveRenditionView {
  ext: SegmentExt;
  target: number;
  /** The newest listed records (oldest first), then the predicted ones. */
  index: SegmentIndex;
  /** Spool files of the predicted records, by sequence. */
  spool: Map<number, string>;
  recent: RecentMedia;
}

/** What a stream's packager gives the live view. */
export interface LiveSource {
  readonly ended: boolean;
  liveRendition(name: string): Promise<LiveRenditionView | undefined>;
  /** The master playlist as last written. */
  readonly lastMaster: string | undefined;
  /** The MPD of the live view's records. */
  liveMpd(): Promise<string | undefined>;
}

/**
 * `media`: a listed segment, which never changes; `provisional`: one read from the spool, whose
 * placement the packager makes final once the storage is back (cached briefly: a DASH name is its
 * sequence number only).
 */
export type LiveAnswer =
  | { status: 200; type: string; kind: 'playlist' | 'media' | 'provisional'; body: Buffer }
  | { status: 400 | 404 | 503; reason: string };

const missing = (reason: string): LiveAnswer => ({ status: 404, reason });
const playlist = (type: string, text: string): LiveAnswer => ({ status: 200, type, kind: 'playlist', body: Buffer.from(text) });
const media = (type: string, body: Buffer): LiveAnswer => ({ status: 200, type, kind: 'media', body });

const HLS = 'application/vnd.apple.mpegurl';
const MPD = 'application/dash+xml';
/** Every name a rendition's playlist is asked by (an edge may have turned it into its chunked or delta form). */
const PLAYLIST_NAMES = new Set([PLAYLIST, DELTA_PLAYLIST, CHUNKED_PLAYLIST, COMPRESSED_PLAYLIST]);

/** The live playlist of a rendition's newest records: a live playlist of the same timeline as the storage's. */
export function renderLivePlaylist(v: LiveRenditionView): string {
  const parts = mediaPlaylistParts({ index: v.index, from: 0, ext: v.ext, target: v.target, kind: 'live', ended: false, canSkipUntil: 0,
    chunkedBelow: 0, ...(v.ext === 'm4s' ? { initUri: (disc: number) => initName(disc) } : {}) });
  return parts.head + parts.tail;
}

/**
 * Answers a path under the stream's directory: [] for the stream's own files (master, MPD, patches),
 * [rendition, name] or [rendition, 'dash', name] for a rendition's. The caller checked the names.
 */
export async function answerLive(src: LiveSource, rest: readonly string[]): Promise<LiveAnswer> {
  if (src.ended) return missing('the event ended: its media is on the storage only');
  const [first, second, third] = rest;
  if (rest.length === 1 && first !== undefined) {
    if (first === MASTER) return src.lastMaster ? playlist(HLS, src.lastMaster) : missing('no master playlist yet');
    // A patch the live view cannot make: the MPD itself, which a player takes as a full update.
    if (first === DASH_MANIFEST || MPD_PATCH_RE.test(first)) {
      const mpd = await src.liveMpd();
      return mpd ? playlist(MPD, mpd) : missing('no MPD');
    }
    return missing(`${first} is not a live file`);
  }
  if (first === undefined || second === undefined) return missing('not a live file');
  const v = await src.liveRendition(first);
  if (!v) return missing(`no rendition ${first}`);
  if (rest.length === 2 && PLAYLIST_NAMES.has(second)) {
    return v.index.length > 0 ? playlist(HLS, renderLivePlaylist(v)) : missing('nothing listed yet');
  }
  if (rest.length === 3 && second === DASH_DIR && third !== undefined) {
    const seq = /^(\d{9,15})\.m4s$/.exec(third)?.[1];
    return seq === undefined ? missing(`${third} is not a DASH segment`) : segmentBytes(v, Number(seq), 'video/iso.segment');
  }
  if (rest.length !== 2) return missing('not a live file');
  const disc = parseInitName(second);
  if (disc !== undefined) {
    const init = v.recent.init(disc);
    return init ? media('video/mp4', init) : missing(`init segment ${second} is not held`);
  }
  const parsed = parseSegmentName(second);
  const pos = parsed ? v.index.posOf(parsed.seq) : -1;
  const rec = pos >= 0 ? v.index.at(pos) : undefined;
  // The whole name must be the listed one: a made-up name never gets another segment's bytes.
  if (!rec || rec.gap || segmentName(rec, v.ext) !== second) return missing(`${second} is not among the newest segments`);
  return segmentBytes(v, rec.seq, v.ext === 'ts' ? 'video/mp2t' : 'video/iso.segment');
}

async function segmentBytes(v: LiveRenditionView, seq: number, type: string): Promise<LiveAnswer> {
  const held = v.recent.segment(seq);
  if (held) return media(type, held);
  const file = v.spool.get(seq);
  if (file === undefined) return missing(`segment ${seq} is not held`);
  try {
    // Local disk, read at once: the thread pool may be held by writes to a frozen storage.
    return { status: 200, type, kind: 'provisional', body: readFileSync(file) };
  } catch (err) {
    // Listed meanwhile (the storage came back): it is in memory now.
    const now = v.recent.segment(seq);
    if (now) return media(type, now);
    return missing(`segment ${seq}: ${errnoCode(err) ?? 'unreadable'}`);
  }
}
