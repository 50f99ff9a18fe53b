// A transcode job: where the stream comes from, how it is encoded, and its DVR settings.
// Validated once by a schema (the same for a local config and for jobs from the controller).
import { DvrError } from '../../common/errors.js';
import { compile, validateOrThrow } from '../../common/schema.js';
import type { RenditionSpec } from '../encoder/args.js';
import { streamSettingsSchema, type StreamSettings } from '../packager/settings.js';

export type JobSource =
  | { url: string }
  | { testPattern: { width: number; height: number; fps: number } };

export interface TranscodeJob {
  app: string;
  stream: string;
  source: JobSource;
  mode: 'copy' | 'transcode';
  ladder: RenditionSpec[];
  format: 'ts' | 'fmp4';
  segmentSeconds: number;
  /** Seconds without media before the event ends (ENDLIST); default 30. */
  reconnectGraceSeconds: number;
  /**
   * The assignment's epoch: the controller raises it each time the stream moves to another
   * transcoder. The stream's directory records it, and an older assignment stops writing (0 for
   * jobs no controller assigns).
   */
  epoch: number;
  dvr: Omit<StreamSettings, 'app' | 'stream' | 'renditions' | 'format' | 'segmentSeconds'>;
}

const NAME = { type: 'string', pattern: '^[a-z0-9_-]{1,64}$' };
const dvrProperties = Object.fromEntries(Object.entries(streamSettingsSchema.properties)
  .filter(([k]) => !['app', 'stream', 'renditions', 'format', 'segmentSeconds'].includes(k)));

export const transcodeJobSchema = {
  $id: 'transcode-job',
  type: 'object',
  additionalProperties: false,
  required: ['app', 'stream', 'source'],
  properties: {
    app: NAME,
    stream: NAME,
    source: {
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['url'],
          properties: { url: { type: 'string', pattern: '^(rtmps?|srt)://[^\\s]{1,500}$' } } },
        { type: 'object', additionalProperties: false, required: ['testPattern'], properties: { testPattern: {
          type: 'object', additionalProperties: false, required: ['width', 'height', 'fps'],
          properties: { width: { type: 'integer', minimum: 16, maximum: 3840 }, height: { type: 'integer', minimum: 16, maximum: 2160 },
            fps: { type: 'integer', minimum: 1, maximum: 60 } } } } },
      ],
    },
    mode: { enum: ['copy', 'transcode'], default: 'copy' },
    ladder: {
      type: 'array', minItems: 1, maxItems: 8, default: [{ name: 'source' }],
      items: { type: 'object', additionalProperties: false, required: ['name'], properties: {
        name: NAME, height: { type: 'integer', minimum: 16, maximum: 2160 },
        videoKbps: { type: 'integer', minimum: 16, maximum: 100_000 }, audioKbps: { type: 'integer', minimum: 8, maximum: 512 } } },
    },
    format: { enum: ['ts', 'fmp4'], default: 'ts' },
    segmentSeconds: { type: 'number', minimum: 0.5, maximum: 30, default: 2 },
    reconnectGraceSeconds: { type: 'number', minimum: 0, maximum: 3600, default: 30 },
    epoch: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 },
    dvr: { type: 'object', additionalProperties: false, default: {}, properties: dvrProperties },
  },
} as const;

const validate = compile<TranscodeJob>(transcodeJobSchema);

export function parseTranscodeJob(input: unknown, where = 'transcode job'): Readonly<TranscodeJob> {
  const job = validateOrThrow(validate, input, where);
  if (job.mode === 'copy' && job.ladder.length !== 1) {
    throw new DvrError('DVR_ERR_CONFIG', `invalid ${where}: $.ladder: copy mode takes exactly one rendition`);
  }
  return job;
}
