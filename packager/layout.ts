// Where a stream's files live, and the canonical segment name that lets the index be rebuilt
// from the directory alone: <seq>_<wallStartMs>_<durationUs>_<disc>_<mediaStartUs>.<ext>
import path from 'node:path';
import { checkName } from '../common/names.js';

export type SegmentExt = 'ts' | 'm4s';

export interface SegmentRecord {
  seq: number;
  /** Wall-clock start, ms since the epoch. */
  startMs: number;
  /** Duration measured from the media, microseconds. */
  durationUs: number;
  /** Discontinuity number: +1 at every encoder reconnect or known hole. */
  disc: number;
  /** Media timestamp of the first frame, microseconds (DASH presentationTimeOffset). */
  mediaStartUs: number;
  bytes: number;
  /** Missing time, listed as an EXT-X-GAP entry: no media, a zero-byte marker file of its own. */
  gap?: boolean;
}

const SEGMENT_RE = /^(\d{9,15})_(\d{10,15})_(\d{1,10})_(\d{1,9})_(\d{1,15})\.(ts|m4s|gap)$/;
const INCOMING_RE = /^([A-Za-z0-9]{1,40})-(\d{1,9})\.(ts|m4s)$/;
const INCOMING_INIT_RE = /^([A-Za-z0-9]{1,40})-init\.mp4$/;
const INIT_RE = /^init_(\d{1,9})\.mp4$/;

export const PLAYLIST = 'index.m3u8';
/** A playlist that includes chunks, as <playlist>.ssi: nginx assembles it with SSI (never served raw). */
export const SSI_SUFFIX = '.ssi';
/** The same for clients that accept gzip, compressed once (render/gzip.ts): <playlist>.gz.ssi. */
export const GZ_SSI_SUFFIX = `.gz${SSI_SUFFIX}`;
export const CHUNKED_PLAYLIST = `${PLAYLIST}${SSI_SUFFIX}`;
export const COMPRESSED_PLAYLIST = `${PLAYLIST}${GZ_SSI_SUFFIX}`;
/**
 * The whole window's listing where the live playlist is capped: read by the time-shift catalog,
 * never served (no <name>.m3u8 request maps to it, as index.m3u8 maps to index.m3u8.ssi).
 */
export const WINDOW_LISTING = 'window.ssi';
export const DELTA_PLAYLIST = 'index_delta.m3u8';
export const MASTER = 'master.m3u8';
export const DASH_MANIFEST = 'manifest.mpd';
/** State files (the stream's, the writer's lease) end so: never served. */
export const STATE_EXT = '.json';
export const STREAM_STATE = `stream${STATE_EXT}`;
export const INCOMING_DIR = 'incoming';
export const CHUNK_DIR = 'chunks';
export const DASH_DIR = 'dash';
/**
 * Low latency: where the encoder writes a rendition's segments while they grow, a fragment at a
 * time (<session>-<n>.mp4, the completed ones listed in <session>.csv). In the spool only.
 */
export const PARTS_DIR = 'parts';

const PART_RE = /^part_([A-Za-z0-9]{1,40})_(\d{1,9})_(\d{1,4})\.m4s$/;

/** A partial segment's name: the encoder's session, its segment number and the part's. Served from memory only. */
export function partName(session: string, n: number, k: number): string {
  return `part_${session}_${n}_${k}.m4s`;
}

export function parsePartName(name: string): { session: string; n: number; k: number } | undefined {
  const m = PART_RE.exec(name);
  return m ? { session: m[1] ?? '', n: Number(m[2]), k: Number(m[3]) } : undefined;
}

/**
 * A segment's name: its file, and the URI its playlist entry names. A gap entry's URI has the same
 * form but names no file (players that know EXT-X-GAP never fetch it; others get a 404 and go on,
 * as ffmpeg does, where a .gap URI would stop ffmpeg: not an allowed segment extension).
 */
export function segmentName(s: Omit<SegmentRecord, 'bytes'>, ext: SegmentExt): string {
  return `${String(s.seq).padStart(9, '0')}_${Math.round(s.startMs)}_${Math.round(s.durationUs)}_${s.disc}_`
    + `${Math.max(0, Math.round(s.mediaStartUs))}.${ext}`;
}

/** A gap entry's empty marker on the storage, from the name its playlist entry has: <name>.gap. */
export function gapMarkerName(name: string): string {
  return name.replace(/\.(ts|m4s)$/, '.gap');
}

/** What a segment is stored as: its media file, or for a gap entry the marker that recovery reads. */
export function storedName(s: Omit<SegmentRecord, 'bytes'>, ext: SegmentExt): string {
  return s.gap === true ? gapMarkerName(segmentName(s, ext)) : segmentName(s, ext);
}

export function parseSegmentName(name: string): (Omit<SegmentRecord, 'bytes'> & { ext: SegmentExt | 'gap' }) | undefined {
  const m = SEGMENT_RE.exec(name);
  if (!m) return undefined;
  const ext = m[6] as SegmentExt | 'gap';
  return {
    seq: Number(m[1]), startMs: Number(m[2]), durationUs: Number(m[3]), disc: Number(m[4]),
    mediaStartUs: Number(m[5]), ext, ...(ext === 'gap' ? { gap: true } : {}),
  };
}

export function initName(disc: number): string {
  return `init_${disc}.mp4`;
}

export function parseInitName(name: string): number | undefined {
  const m = INIT_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** An encoder's finished file in incoming/: `<session>-<n>.ts|m4s` or `<session>-init.mp4`. */
export type IncomingFile =
  | { kind: 'segment'; session: string; n: number; ext: SegmentExt }
  | { kind: 'init'; session: string };

export function parseIncomingName(name: string): IncomingFile | undefined {
  const m = INCOMING_RE.exec(name);
  if (m) return { kind: 'segment', session: m[1] ?? '', n: Number(m[2]), ext: m[3] as SegmentExt };
  const i = INCOMING_INIT_RE.exec(name);
  if (i) return { kind: 'init', session: i[1] ?? '' };
  return undefined;
}

export function chunkName(firstSeq: number): string {
  return `${String(firstSeq).padStart(9, '0')}.m3u8`;
}

/**
 * The byte sizes of a chunk's segments, one decimal line each from its first, written with the
 * chunk: recovery reads a week's sizes from a few hundred of these rather than stat-ing every
 * segment (the stat calls were the whole cost of a 7 d recovery on a network mount).
 */
export function chunkSizesName(firstSeq: number): string {
  return `${String(firstSeq).padStart(9, '0')}.sizes`;
}

/** A chunk's compressed piece ends so; the edge sends pieces as they are, never through its own compression. */
export const CHUNK_PIECE_EXT = '.deflate';
const CHUNK_PIECE_RE = /^(\d{9,15})_([0-9a-f]{8})_(\d{1,12})\.deflate$/;

/** A chunk's compressed piece; its name carries the CRC-32 and length of the text it inflates to. */
export function chunkPieceName(firstSeq: number, crc: number, length: number): string {
  return `${String(firstSeq).padStart(9, '0')}_${crc.toString(16).padStart(8, '0')}_${length}${CHUNK_PIECE_EXT}`;
}

export function parseChunkPieceName(name: string): { seq: number; crc: number; length: number } | undefined {
  const m = CHUNK_PIECE_RE.exec(name);
  return m ? { seq: Number(m[1]), crc: parseInt(m[2] ?? '', 16), length: Number(m[3]) } : undefined;
}

/** The MPD Patch from the MPD published at `publishMs` to the newest (render/dash-patch.ts). */
export function mpdPatchName(publishMs: number): string {
  return `manifest-patch-${publishMs}.mpp`;
}

/** A patch's name as a regex source (the edge answers a missing one with the MPD itself). */
export const MPD_PATCH_SOURCE = 'manifest-patch-\\d{1,15}\\.mpp';
export const MPD_PATCH_RE = new RegExp(`^${MPD_PATCH_SOURCE}$`);

export function dashSegmentName(seq: number): string {
  return `${String(seq).padStart(9, '0')}.m4s`;
}

export interface StreamPaths {
  root: string;
  app: string;
  stream: string;
  dir: string;
}

/** Validates every component before it becomes a path. */
export function streamPaths(root: string, app: string, stream: string): StreamPaths {
  checkName('app', app);
  checkName('stream', stream);
  return { root, app, stream, dir: path.join(root, app, stream) };
}

export function renditionDir(p: StreamPaths, rendition: string): string {
  return path.join(p.dir, checkName('rendition', rendition));
}
