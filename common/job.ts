// The job a transcoder runs for a stream: the contract between the controller (which builds one
// for each stream it assigns, in its heartbeat replies) and the agent (which runs it, or one from
// its local config). One schema, validated on both sides.
import { DvrError } from './errors.js';
import { NAME_SCHEMA } from './names.js';
import { compile, validateOrThrow } from './schema.js';
import {
  DVR_PROPERTIES, ENCODING_PROPERTIES, RECONNECT_GRACE_SCHEMA, encodingProblem, type DvrSettings,
  type EncodingSettings,
} from './stream-settings.js';

export type JobSource =
  | { url: string }
  | { testPattern: { width: number; height: number; fps: number } };

export interface TranscodeJob extends EncodingSettings {
  app: string;
  stream: string;
  source: JobSource;
  /** Seconds without media before the event ends (ENDLIST). */
  reconnectGraceSeconds: number;
  /**
   * The assignment's epoch: the controller raises it each time the stream moves to another
   * transcoder. The stream's directory records it, and an older assignment stops writing (0 for
   * jobs no controller assigns).
   */
  epoch: number;
  /** Retention is the controller's alone (it asks for expired media to go), and stays out of the job. */
  dvr: JobDvrSettings;
}

/** The cap is sent only when it is not the default (an older agent does not know it). */
export type JobDvrSettings = Omit<DvrSettings, 'retentionHours' | 'playlistCapSeconds'> & Partial<Pick<DvrSettings, 'playlistCapSeconds'>>;
/** An agent refuses fields it does not know: a job carries only what a transcoder uses, so an older agent takes it. */
const { retentionHours: _retention, ...JOB_DVR_PROPERTIES } = DVR_PROPERTIES;

export const transcodeJobSchema = {
  $id: 'transcode-job',
  type: 'object',
  additionalProperties: false,
  required: ['app', 'stream', 'source'],
  properties: {
    app: NAME_SCHEMA,
    stream: NAME_SCHEMA,
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
    ...ENCODING_PROPERTIES,
    reconnectGraceSeconds: RECONNECT_GRACE_SCHEMA,
    epoch: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 },
    dvr: { type: 'object', additionalProperties: false, default: {}, properties: JOB_DVR_PROPERTIES },
  },
} as const;

const validate = compile<TranscodeJob>(transcodeJobSchema);

export function parseTranscodeJob(input: unknown, where = 'transcode job'): Readonly<TranscodeJob> {
  const job = validateOrThrow(validate, input, where);
  const problem = encodingProblem(job);
  if (problem) throw new DvrError('DVR_ERR_CONFIG', `invalid ${where}: ${problem}`);
  return job;
}
