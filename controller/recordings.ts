// Recordings: ended events whose media is still on the shared storage, with what they take and when
// their retention (retentionHours, per stream) deletes them. Pure.
import type { RecordingRef } from '../common/protocol.js';
import type { StreamRow } from './store.js';

export interface Recording {
  app: string;
  stream: string;
  /** The whole event (recording: true) or the last DVR window. */
  kind: 'event' | 'window';
  /** When the event ended (its publisher left), ISO 8601. */
  endedAt: string | null;
  /** What it takes on the storage, as its transcoder last reported (null: not reported). */
  bytes: number | null;
  retentionHours: number;
  /** When it is deleted, ISO 8601; null: kept until the stream is deleted. */
  expiresAt: string | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** When an ended stream's media expires (ms), or undefined when it is kept. */
export function expiryOf(s: Pick<StreamRow, 'endedAt' | 'settings'>): number | undefined {
  const hours = s.settings.retentionHours ?? 0;
  if (hours <= 0 || s.endedAt === undefined) return undefined;
  return s.endedAt + hours * 3_600_000;
}

export function recordingsOf(ended: readonly StreamRow[]): Recording[] {
  return ended.filter((s) => s.status === 'ended' && s.mediaDeletedAt === undefined).map((s) => {
    const expires = expiryOf(s);
    return { app: s.app, stream: s.stream, kind: s.settings.recording ? 'event' : 'window',
      endedAt: s.endedAt !== undefined ? iso(s.endedAt) : null, bytes: s.storedBytes ?? null,
      retentionHours: s.settings.retentionHours ?? 0, expiresAt: expires !== undefined ? iso(expires) : null };
  });
}

/** The ended events whose retention ran out by `now`: their media is to be deleted. */
export function expiredRecordings(ended: readonly StreamRow[], now: number, limit = 100): RecordingRef[] {
  return ended.filter((s) => s.status === 'ended' && s.mediaDeletedAt === undefined && (expiryOf(s) ?? Infinity) <= now)
    .slice(0, limit).map((s) => ({ app: s.app, stream: s.stream, endedAt: s.endedAt ?? 0 }));
}
