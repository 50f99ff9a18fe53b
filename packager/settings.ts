// A stream's DVR settings: validated once by a schema, defaults in one place, then frozen.
import { NAME_SCHEMA } from '../common/names.js';
import { compile, validateOrThrow } from '../common/schema.js';
import {
  DVR_PROPERTIES, ENCODING_PROPERTIES, RECONNECT_GRACE_SCHEMA, settingsAdvice, type DvrSettings, type SegmentFormat,
} from '../common/stream-settings.js';

export type { ArchiveStrategy, SegmentFormat } from '../common/stream-settings.js';

/** What the packager needs of a stream: its names, its renditions, its format and segment length, its DVR. */
export interface StreamSettings extends DvrSettings {
  app: string;
  stream: string;
  /** Rendition names, highest first; each gets <rendition>/incoming/ for the encoder. */
  renditions: string[];
  format: SegmentFormat;
  /** The encoder's segment duration: the playlist's target duration. */
  segmentSeconds: number;
  /** How long the source may be gone within one event (the transcoder's job says). */
  reconnectGraceSeconds: number;
  /** Partial segments and blocking reloads at the live edge (the encoder writes fragments to <rendition>/parts/). */
  lowLatency: boolean;
}

export const streamSettingsSchema = {
  $id: 'stream-settings',
  type: 'object',
  additionalProperties: false,
  required: ['app', 'stream'],
  properties: {
    app: NAME_SCHEMA,
    stream: NAME_SCHEMA,
    renditions: { type: 'array', items: NAME_SCHEMA, minItems: 1, maxItems: 16, uniqueItems: true, default: ['source'] },
    format: ENCODING_PROPERTIES.format,
    segmentSeconds: ENCODING_PROPERTIES.segmentSeconds,
    lowLatency: ENCODING_PROPERTIES.lowLatency,
    reconnectGraceSeconds: RECONNECT_GRACE_SCHEMA,
    ...DVR_PROPERTIES,
  },
} as const;

const validate = compile<StreamSettings>(streamSettingsSchema);

export function parseStreamSettings(input: unknown): Readonly<StreamSettings> {
  return validateOrThrow(validate, input, 'stream settings');
}

/** Advice that does not stop the stream but that a sysadmin should see. */
export function settingsWarnings(s: Readonly<StreamSettings>): string[] {
  return settingsAdvice(`${s.app}/${s.stream}`, { ...s, renditions: s.renditions.length });
}
