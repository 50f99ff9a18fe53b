// A stream's settings, one contract: the names, the encoding (format, mode, ladder, segment
// length) and the DVR settings (window, recording, archive strategy, storage cap, DASH, delta
// updates), with their defaults in one place. The API's stream schema, the job a transcoder gets
// and the packager's settings are built from these pieces. Leaf module: schema fragments and types.

import { NAME_SCHEMA } from './names.js';

export type SegmentFormat = 'ts' | 'fmp4';
export type ArchiveStrategy = 'append' | 'version' | 'delete';

export interface RenditionSpec {
  name: string;
  /** Output picture height; width follows the aspect ratio. Omitted: audio only. */
  height?: number;
  videoKbps?: number;
  audioKbps?: number;
}

/** How a stream is encoded and segmented. */
export interface EncodingSettings {
  /** ts (HLS) or fmp4 (HLS and DASH). */
  format: SegmentFormat;
  /** copy: the source passes through (one rendition); transcode: the ladder. */
  mode: 'copy' | 'transcode';
  ladder: RenditionSpec[];
  /** The encoder's segment duration: the playlist's target duration. */
  segmentSeconds: number;
  /**
   * Low-latency HLS at the live edge: partial segments and blocking playlist reloads (fMP4 only).
   * Absent in a stream made before it: off.
   */
  lowLatency?: boolean;
}

/** How its DVR behaves. */
export interface DvrSettings {
  /** DVR window in seconds; 0 = unbounded (from the start of the event). */
  windowSeconds: number;
  /** Keep the whole event; when it ends it stays as a VOD playlist. */
  recording: boolean;
  /** What a new publish does to an ended event: continue it, keep it as <stream>.<N>, or delete it. */
  archiveStrategy: ArchiveStrategy;
  /** Bytes the stream may keep on disk, shared by its renditions by bit rate; 0 = no cap. */
  storageCapBytes: number;
  /** Write a DASH MPD (fMP4 only). */
  dash: boolean;
  /** Offer delta updates (EXT-X-SKIP) for windows longer than 6 target durations. */
  deltaUpdates: boolean;
  /** Hours an ended event's media is kept after its end, then deleted; 0 = kept until the stream is. */
  retentionHours: number;
  /**
   * Seconds of entries the live playlist and MPD list at most when the window is longer (0 = no
   * cap); the rest of the window stays reachable through the time-shift URLs. An unbounded window
   * (an EVENT playlist, which may never drop an entry) is not capped.
   */
  playlistCapSeconds: number;
}

export const RENDITION_SCHEMA = {
  type: 'object', additionalProperties: false, required: ['name'], properties: {
    name: NAME_SCHEMA, height: { type: 'integer', minimum: 16, maximum: 2160 },
    videoKbps: { type: 'integer', minimum: 16, maximum: 100_000 }, audioKbps: { type: 'integer', minimum: 8, maximum: 512 },
  },
} as const;

/**
 * How long a source may be gone before its event ends: the transcoder waits that long for the
 * publisher, and the packager lists missing time up to that long as gaps.
 */
export const RECONNECT_GRACE_SCHEMA = { type: 'number', minimum: 0, maximum: 3600, default: 30 } as const;

export const ENCODING_PROPERTIES = {
  format: { enum: ['ts', 'fmp4'], default: 'fmp4' },
  mode: { enum: ['copy', 'transcode'], default: 'copy' },
  ladder: { type: 'array', minItems: 1, maxItems: 8, default: [{ name: 'source' }], items: RENDITION_SCHEMA },
  segmentSeconds: { type: 'number', minimum: 0.5, maximum: 30, default: 2 },
  lowLatency: { type: 'boolean', default: false },
} as const;

/**
 * A low-latency stream's partial segments: at most this long (EXT-X-PART-INF's PART-TARGET). The
 * encoder cuts a fragment once 90 % of it is reached, so a whole frame more still fits (25, 30 and
 * 60 fps video, 48 kHz AAC audio).
 */
export const PART_TARGET_SECONDS = 0.5;
/** Where a low-latency player sits behind the newest part (PART-HOLD-BACK): three part targets, as RFC 8216bis advises. */
export const PART_HOLD_BACK_SECONDS = 3 * PART_TARGET_SECONDS;

/** Three hours of entries: 5,400 of 2 s segments. */
export const PLAYLIST_CAP_DEFAULT_SECONDS = 3 * 3600;

/** The live listing's span: the window, or the cap where the window is longer. */
export function listedSeconds(s: Pick<DvrSettings, 'windowSeconds' | 'playlistCapSeconds'>): number {
  return s.playlistCapSeconds > 0 && s.windowSeconds > s.playlistCapSeconds ? s.playlistCapSeconds : s.windowSeconds;
}

/** Players choke on playlists past this many entries (about 30 h of 2 s segments per rendition). */
export const MAX_COMFORTABLE_ENTRIES = 54_000;

/**
 * Advice on a stream's settings that does not stop it but that a sysadmin should see: the agent
 * logs it, the API shows it with the stream.
 */
export function settingsAdvice(name: string, s: DvrSettings & { renditions: number; segmentSeconds: number }): string[] {
  const warnings: string[] = [];
  const listed = listedSeconds(s);
  const entries = (listed * s.renditions) / s.segmentSeconds;
  if (listed > 0 && entries > MAX_COMFORTABLE_ENTRIES) {
    warnings.push(`stream ${name}: ${listed === s.windowSeconds ? 'window' : 'playlist cap'} ${listed}s x ${s.renditions} renditions / `
      + `${s.segmentSeconds}s segments = ${Math.round(entries)} playlist entries (> ${MAX_COMFORTABLE_ENTRIES}); `
      + 'players without delta updates will struggle: shorten the window (or the playlist cap) or lengthen segments');
  }
  if (s.windowSeconds === 0 && !s.recording) {
    warnings.push(`stream ${name}: unbounded window without recording keeps every segment until the stream is deleted`);
  }
  if (s.recording && s.storageCapBytes > 0) {
    warnings.push(`stream ${name}: recording keeps every segment; storageCapBytes only shortens the live window`);
  }
  return warnings;
}

export const DVR_PROPERTIES = {
  windowSeconds: { type: 'number', minimum: 0, maximum: 31 * 86400, default: 3600 },
  recording: { type: 'boolean', default: false },
  archiveStrategy: { enum: ['append', 'version', 'delete'], default: 'append' },
  storageCapBytes: { type: 'number', minimum: 0, default: 0 },
  dash: { type: 'boolean', default: true },
  deltaUpdates: { type: 'boolean', default: true },
  retentionHours: { type: 'number', minimum: 0, maximum: 10 * 366 * 24, default: 0 },
  playlistCapSeconds: { type: 'number', minimum: 0, maximum: 31 * 86400, default: PLAYLIST_CAP_DEFAULT_SECONDS },
} as const;

/**
 * What a schema cannot say of an encoding: copy mode takes one rendition, and rendition names are
 * unique (each is a directory). The message names the JSON path; undefined when it is fine.
 */
export function encodingProblem(e: Pick<EncodingSettings, 'mode' | 'ladder'> & Partial<EncodingSettings>, at = '$'): string | undefined {
  if (e.mode === 'copy' && e.ladder.length !== 1) return `${at}.ladder: copy mode takes exactly one rendition`;
  if (e.lowLatency === true && e.format === 'ts') return `${at}.lowLatency: low-latency HLS needs fMP4 segments (format: fmp4)`;
  if (e.lowLatency === true && e.segmentSeconds !== undefined && e.segmentSeconds < 2 * PART_TARGET_SECONDS) {
    return `${at}.lowLatency: segments of ${e.segmentSeconds} s are shorter than two ${PART_TARGET_SECONDS} s parts (segmentSeconds >= 1)`;
  }
  const seen = new Map<string, number>();
  for (const [i, r] of e.ladder.entries()) {
    const first = seen.get(r.name);
    if (first !== undefined) return `${at}.ladder[${i}].name: '${r.name}' is already the name of ladder[${first}]`;
    seen.set(r.name, i);
  }
  return undefined;
}
