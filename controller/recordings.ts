// Recordings: ended events whose media is still on the shared storage (an event, or one kept as a
// version <stream>.<N> by the archive strategy 'version'), with what they take and when their
// retention (retentionHours, per stream) deletes them. Pure.
import type { RecordingRef } from '../common/protocol.js';
import type { StreamRow, VersionRow } from './store.js';

export interface Recording {
  app: string;
  /** The stream, or the version's directory (<stream>.<N>). */
  stream: string;
  /** The whole event (recording: true), the last DVR window, or an event kept as a version. */
  kind: 'event' | 'window' | 'version';
  /** The version's number (kind 'version'). */
  version?: number;
  /** When the event ended (its publisher left), ISO 8601. */
  endedAt: string | null;
  /** What it takes on the storage, as a transcoder last reported (null: not reported). */
  bytes: number | null;
  retentionHours: number;
  /** When it is deleted, ISO 8601; null: kept until the stream is deleted. */
  expiresAt: string | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** When media that ended at `endedAt` (ms) expires, or undefined when it is kept. */
function expiry(retentionHours: number | undefined, endedAt: number | undefined): number | undefined {
  const hours = retentionHours ?? 0;
  if (hours <= 0 || endedAt === undefined) return undefined;
  return endedAt + hours * 3_600_000;
}

/** When an ended stream's media expires (ms), or undefined when it is kept. */
export function expiryOf(s: Pick<StreamRow, 'endedAt' | 'settings'>): number | undefined {
  return expiry(s.settings.retentionHours, s.endedAt);
}

/** A version's retention is its stream's; a version whose stream was deleted (not its media) is kept. */
type RetentionOf = (app: string, stream: string) => number | undefined;

export function recordingsOf(ended: readonly StreamRow[], versions: readonly VersionRow[] = [], retentionOf: RetentionOf = () => 0):
Recording[] {
  const events = ended.filter((s) => s.status === 'ended' && s.mediaDeletedAt === undefined).map((s): Recording => {
    const expires = expiryOf(s);
    return { app: s.app, stream: s.stream, kind: s.settings.recording ? 'event' : 'window',
      endedAt: s.endedAt !== undefined ? iso(s.endedAt) : null, bytes: s.storedBytes ?? null,
      retentionHours: s.settings.retentionHours ?? 0, expiresAt: expires !== undefined ? iso(expires) : null };
  });
  const kept = versions.filter((v) => v.mediaDeletedAt === undefined).map((v): Recording => {
    const hours = retentionOf(v.app, v.stream) ?? 0;
    const expires = expiry(hours, v.endedAt);
    return { app: v.app, stream: `${v.stream}.${v.version}`, kind: 'version', version: v.version, endedAt: iso(v.endedAt),
      bytes: v.storedBytes ?? null, retentionHours: hours, expiresAt: expires !== undefined ? iso(expires) : null };
  });
  return [...events, ...kept];
}

/** The ended events and versions whose retention ran out by `now`: their media is to be deleted. */
export function expiredRecordings(ended: readonly StreamRow[], now: number, limit = 100, versions: readonly VersionRow[] = [],
  retentionOf: RetentionOf = () => 0): RecordingRef[] {
  const events = ended.filter((s) => s.status === 'ended' && s.mediaDeletedAt === undefined && (expiryOf(s) ?? Infinity) <= now)
    .map((s): RecordingRef => ({ app: s.app, stream: s.stream, endedAt: s.endedAt ?? 0 }));
  const kept = versions
    .filter((v) => v.mediaDeletedAt === undefined && (expiry(retentionOf(v.app, v.stream), v.endedAt) ?? Infinity) <= now)
    .map((v): RecordingRef => ({ app: v.app, stream: v.stream, endedAt: v.endedAt, version: v.version }));
  return [...events, ...kept].slice(0, limit);
}
