// stream.json: what a stream's packager keeps beside its media (the event's state, the encoder
// sessions it follows, its settings), written by the packager and read by it after a restart and
// by the edge's time-shift service. One schema for the reads, so neither casts what it finds.
import { compile } from '../common/schema.js';
import type { SessionState } from './index/placement.js';
import type { StreamSettings } from './settings.js';

export interface StreamStateFile {
  status: 'live' | 'ended';
  eventStartMs: number | undefined;
  sessions: Record<string, SessionState>;
  settings: StreamSettings;
  /** When the event ended (ms); kept with it when it is archived as a version. */
  endedAt?: number;
  /** What the event's media took when it ended, bytes. */
  storedBytes?: number;
}

const SESSION_SCHEMA = {
  type: 'object', required: ['session', 'disc', 'anchorWallMs', 'anchorMediaUs'],
  properties: { session: { type: 'string' }, disc: { type: 'integer', minimum: 0 }, anchorWallMs: { type: 'number' },
    anchorMediaUs: { type: 'number' } },
} as const;

/**
 * What a reader may rely on: fields are checked where present (an older packager wrote fewer), and
 * the settings as far as readers use them; the packager's own settings schema checks the rest.
 */
const validate = compile<Partial<StreamStateFile>>({
  $id: 'stream-state', type: 'object',
  properties: {
    status: { enum: ['live', 'ended'] },
    eventStartMs: { type: 'number', minimum: 0 },
    endedAt: { type: 'number', minimum: 0 },
    storedBytes: { type: 'number', minimum: 0 },
    sessions: { type: 'object', additionalProperties: SESSION_SCHEMA },
    settings: { type: 'object', properties: { windowSeconds: { type: 'number', minimum: 0 } } },
  },
});

/** A stream.json's content, or undefined when it is not one (being replaced, or damaged: read again later). */
export function parseStreamState(json: unknown): Partial<StreamStateFile> | undefined {
  const copy: unknown = structuredClone(json);
  return validate(copy) ? copy : undefined;
}
