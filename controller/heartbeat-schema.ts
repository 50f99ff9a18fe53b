// What a heartbeat may carry, checked before any of it reaches the store: names are names, figures
// are non-negative numbers, lists are bounded. Fields it does not know are ignored (an agent newer
// than its controller keeps reporting during a rolling upgrade); those it knows must be right.
import { compile, describeErrors } from '../common/schema.js';
import { NAME_SCHEMA, STREAM_DIR_PATTERN } from '../common/names.js';
import { DVR_PROPERTIES, ENCODING_PROPERTIES } from '../common/stream-settings.js';
import { DvrError } from '../common/errors.js';
import type { Heartbeat } from '../common/protocol.js';

/** A figure: a non-negative number, or null where the agent could not measure it (NaN serialises as null). */
const figure = { type: ['number', 'null'], minimum: 0 } as const;
const optionalFigure = figure;
/** An archived event's number (<stream>.<N>). */
const VERSION = { type: 'integer', minimum: 0, maximum: 999_999_999 } as const;

export const heartbeatSchema = {
  $id: 'heartbeat', type: 'object', required: ['nodeId'],
  properties: {
    nodeId: NAME_SCHEMA,
    role: { enum: ['transcoder', 'edge', 'origin', 'relay'] },
    sentAt: { type: 'string', maxLength: 40 },
    address: { type: 'string', pattern: '^[0-9A-Fa-f.:]{2,45}$' },
    storage: { type: 'object', properties: { available: { type: 'boolean' }, reason: { type: 'string', maxLength: 500 } } },
    system: { type: 'object', properties: {
      cpuLoadPercent: figure, memoryUsedBytes: figure, memoryTotalBytes: figure, networkRxBytesPerSec: figure,
      networkTxBytesPerSec: figure, storageFreeBytes: optionalFigure, storageTotalBytes: optionalFigure } },
    streams: { type: 'array', maxItems: 10_000, items: { type: 'object', required: ['app', 'stream'], properties: {
      app: NAME_SCHEMA, stream: { type: 'string', pattern: STREAM_DIR_PATTERN }, inputBitrateBps: figure,
      segmentsWritten: figure, lateSegments: figure, encoderSpeed: figure, restarts: figure, ended: { type: 'boolean' },
      storedBytes: figure, segmentLatencyMs: figure, lastSegmentAgeSeconds: figure, spooling: { type: 'boolean' },
      local: { type: 'object', properties: { ...ENCODING_PROPERTIES, dvr: { type: 'object', properties: DVR_PROPERTIES } } } } } },
    connections: figure,
    nginx: { enum: ['up', 'down'] },
    liveView: { type: 'object', required: ['port'], properties: { port: { type: 'integer', minimum: 1, maximum: 65535 } } },
    deletedRecordings: { type: 'array', maxItems: 1000, items: { type: 'object', required: ['app', 'stream', 'endedAt'],
      properties: { app: NAME_SCHEMA, stream: NAME_SCHEMA, endedAt: { type: 'number', minimum: 0 }, version: VERSION } } },
    versions: { type: 'array', maxItems: 10_000, items: { type: 'object', required: ['app', 'stream', 'version', 'endedAt', 'bytes'],
      properties: { app: NAME_SCHEMA, stream: NAME_SCHEMA, version: VERSION, endedAt: { type: 'number', minimum: 0 }, bytes: figure } } },
    purgedStreams: { type: 'array', maxItems: 1000, items: { type: 'object', required: ['app', 'stream', 'removed', 'bytes'],
      properties: { app: NAME_SCHEMA, stream: NAME_SCHEMA, bytes: figure,
        removed: { type: 'array', maxItems: 100_000, items: { type: 'string', maxLength: 200 } } } } },
    failedJobs: { type: 'array', maxItems: 1000, items: { type: 'object', required: ['stream', 'error'], properties: {
      stream: { type: 'string', maxLength: 200 }, error: { type: 'string', maxLength: 2000 } } } },
  },
} as const;

const validate = compile<Heartbeat & { address?: string }>(heartbeatSchema);

/** The heartbeat, or a DvrError (400) naming the first fields that are wrong. */
export function parseHeartbeat(body: unknown): Heartbeat & { address?: string } {
  if (!validate(body)) {
    throw new DvrError('DVR_ERR_BAD_REQUEST', `heartbeat: ${describeErrors(validate.errors)}`);
  }
  return body;
}
