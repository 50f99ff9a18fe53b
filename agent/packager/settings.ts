// A stream's DVR settings: validated once by a schema, defaults in one place, then frozen.
import { compile, validateOrThrow } from '../../common/schema.js';

export type ArchiveStrategy = 'append' | 'version' | 'delete';
export type SegmentFormat = 'ts' | 'fmp4';

export interface StreamSettings {
  app: string;
  stream: string;
  /** Rendition names, highest first; each gets <rendition>/incoming/ for the encoder. */
  renditions: string[];
  format: SegmentFormat;
  /** DVR window in seconds; 0 = unbounded (from the start of the event). */
  windowSeconds: number;
  /** Keep the whole event; when it ends it stays as a VOD playlist. */
  recording: boolean;
  archiveStrategy: ArchiveStrategy;
  /** Bytes the stream may keep on disk, shared by its renditions by bit rate; 0 = no cap. */
  storageCapBytes: number;
  /** The encoder's segment duration: the playlist's target duration. */
  segmentSeconds: number;
  /** Write a DASH MPD (fMP4 only). */
  dash: boolean;
  /** Offer delta updates (EXT-X-SKIP) for windows longer than 6 target durations. */
  deltaUpdates: boolean;
}

const NAME = { type: 'string', pattern: '^[a-z0-9_-]{1,64}$' };

export const streamSettingsSchema = {
  $id: 'stream-settings',
  type: 'object',
  additionalProperties: false,
  required: ['app', 'stream'],
  properties: {
    app: NAME,
    stream: NAME,
    renditions: { type: 'array', items: NAME, minItems: 1, maxItems: 16, uniqueItems: true, default: ['source'] },
    format: { enum: ['ts', 'fmp4'], default: 'ts' },
    windowSeconds: { type: 'number', minimum: 0, maximum: 31 * 86400, default: 0 },
    recording: { type: 'boolean', default: false },
    archiveStrategy: { enum: ['append', 'version', 'delete'], default: 'append' },
    storageCapBytes: { type: 'number', minimum: 0, default: 0 },
    segmentSeconds: { type: 'number', minimum: 0.5, maximum: 30, default: 2 },
    dash: { type: 'boolean', default: true },
    deltaUpdates: { type: 'boolean', default: true },
  },
} as const;

const validate = compile<StreamSettings>(streamSettingsSchema);

/** Players choke on playlists past this many entries (about 30 h of 2 s segments per rendition). */
export const MAX_COMFORTABLE_ENTRIES = 54_000;

export function parseStreamSettings(input: unknown): Readonly<StreamSettings> {
  return validateOrThrow(validate, input, 'stream settings');
}

/** Advice that does not stop the stream but that a sysadmin should see. */
export function settingsWarnings(s: Readonly<StreamSettings>): string[] {
  const warnings: string[] = [];
  const entries = (s.windowSeconds * s.renditions.length) / s.segmentSeconds;
  if (s.windowSeconds > 0 && entries > MAX_COMFORTABLE_ENTRIES) {
    warnings.push(`stream ${s.app}/${s.stream}: window ${s.windowSeconds}s x ${s.renditions.length} renditions / `
      + `${s.segmentSeconds}s segments = ${Math.round(entries)} playlist entries (> ${MAX_COMFORTABLE_ENTRIES}); `
      + 'players without delta updates will struggle: shorten the window or lengthen segments');
  }
  if (s.windowSeconds === 0 && !s.recording) {
    warnings.push(`stream ${s.app}/${s.stream}: unbounded window without recording keeps every segment until the stream is deleted`);
  }
  if (s.recording && s.storageCapBytes > 0) {
    warnings.push(`stream ${s.app}/${s.stream}: recording keeps every segment; storageCapBytes only shortens the live window`);
  }
  if (s.dash && s.format !== 'fmp4') {
    warnings.push(`stream ${s.app}/${s.stream}: DASH needs fMP4 segments; no MPD is written for format 'ts'`);
  }
  return warnings;
}
