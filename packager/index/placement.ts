// Where a checked segment goes in a rendition's timeline: its sequence number, its wall-clock
// start, its discontinuity number, and whether it starts a new encoder session. Pure: a function of
// the rendition's tail, the file's name and what the media says, unit-tested like window.ts.

/** The encoder session a rendition follows (stream.json keeps it): its discontinuity and its clock anchor. */
export interface SessionState {
  session: string;
  disc: number;
  /** Wall-clock ms and media µs of the session's first segment: wall = anchorWall + (media - anchorMedia). */
  anchorWallMs: number;
  anchorMediaUs: number;
}

/** What placement needs to know of a rendition: its last listed segment and the session it follows. */
export interface RenditionTail {
  /** `gap`: the last entry is a gap entry (listed just before a segment that did not make it, a crash between). */
  last: { endMs: number; disc: number; mediaStartUs: number; durationUs: number; gap?: boolean } | undefined;
  nextSeq: number;
  /** Highest discontinuity number ever used (also of purged segments); -1 for none. */
  lastDisc: number;
  session: SessionState | undefined;
  /** The encoder's file number of the last segment of the session. */
  lastN: number | undefined;
  /** A hole is known before this segment (one was rejected, or a file went missing). */
  holePending: boolean;
  /** The stream was just taken over from another writer: nothing listed by this one yet. */
  takenOver: boolean;
  /** The playlist's target duration, seconds. */
  target: number;
  /**
   * Missing time up to this long (ms) between the last segment and a new discontinuity is listed as
   * gap entries (the encoder came back within the reconnect grace, a segment was rejected); longer
   * (an event appended to hours later) is a discontinuity only.
   */
  gapLimitMs: number;
}

/** A stretch of missing time as listed: EXT-X-GAP entries of the discontinuity before it. */
export interface GapRecord { seq: number; startMs: number; durationUs: number; disc: number; mediaStartUs: number; gap: true }

/** The segment as it arrived: the encoder session and file number from its name, its last write, its media. */
export interface Arrival {
  session: string;
  n: number;
  arrivedMs: number;
  durationUs: number;
  mediaStartUs: number;
  /**
   * The session's clock, when another rendition of the stream follows the same encoder session:
   * the renditions of one encoder share its timestamps, so they share its wall-clock anchor (each
   * anchored on its own arrival, a copied video that starts 0.7 s after its audio was listed at
   * the audio's start).
   */
  clock?: Pick<SessionState, 'anchorWallMs' | 'anchorMediaUs'>;
}

export type Placement =
  /** Time the previous writer listed already (a backlog after a takeover): not listed again. */
  | { kind: 'superseded' }
  | {
    kind: 'list';
    record: { seq: number; startMs: number; durationUs: number; disc: number; mediaStartUs: number };
    /** Gap entries listed before the record (their sequence numbers precede its). */
    gaps: GapRecord[];
    /** The session the segment belongs to now: a new one, the same, or the same re-anchored. */
    session: SessionState;
    newSession: boolean;
    /** fMP4: the init segment of the new discontinuity comes from incoming/, or is the previous one linked. */
    initFrom: 'incoming' | 'link' | undefined;
  };

/**
 * Places a segment. A new session (the encoder reconnected) or a hole (a missing file number, media
 * timestamps that jump) gets a new discontinuity number. Wall-clock time follows the session's
 * anchor (its first segment's arrival in any rendition) by the media timestamps, and never goes back.
 */
export function placeSegment(t: RenditionTail, a: Arrival): Placement {
  const prevEnd = t.last?.endMs ?? 0;
  if (t.takenOver && t.last !== undefined && a.arrivedMs < prevEnd - t.target * 500) return { kind: 'superseded' };
  const newSession = t.session?.session !== a.session;
  let state = t.session;
  // After gap entries comes a new discontinuity, whatever the media says: DASH numbers a Period's
  // segments consecutively, and the gap entries are not in it.
  let hole = t.holePending || t.last?.gap === true || (!newSession && t.lastN !== undefined && a.n !== t.lastN + 1);
  if (!newSession && state && t.last !== undefined && t.last.disc >= state.disc) {
    const expected = t.last.mediaStartUs + t.last.durationUs;
    if (Math.abs(a.mediaStartUs - expected) > 500_000 * t.target) hole = true;
    // Timestamps went back without a reconnect: re-anchored at the live edge.
    if (a.mediaStartUs < expected - 500_000 * t.target) state = { ...state, anchorWallMs: prevEnd, anchorMediaUs: a.mediaStartUs };
  }
  let disc: number;
  let initFrom: 'incoming' | 'link' | undefined;
  if (newSession || !state) {
    disc = t.lastDisc + 1;
    initFrom = 'incoming';
    const anchor = a.clock ?? { anchorWallMs: Math.max(prevEnd, a.arrivedMs - a.durationUs / 1000), anchorMediaUs: a.mediaStartUs };
    state = { session: a.session, disc, anchorWallMs: anchor.anchorWallMs, anchorMediaUs: anchor.anchorMediaUs };
  } else if (state.disc > t.lastDisc) {
    disc = state.disc; // the session was registered before a failure; its init is in place
  } else if (hole) {
    disc = t.lastDisc + 1;
    initFrom = 'link';
  } else {
    disc = t.lastDisc;
  }
  const startMs = Math.max(prevEnd, Math.round(state.anchorWallMs + (a.mediaStartUs - state.anchorMediaUs) / 1000));
  const gaps = t.last !== undefined && disc !== t.last.disc ? gapRecords(t, t.last, startMs) : [];
  return { kind: 'list', record: { seq: t.nextSeq + gaps.length, startMs, durationUs: a.durationUs, disc, mediaStartUs: a.mediaStartUs },
    gaps, session: state, newSession, initFrom };
}

/** Below this, missing time is not listed (clock jitter between sessions, not media lost). */
const MIN_GAP_MS = 500;

/**
 * Gap entries covering [the last segment's end, startMs): equal parts of at most the target
 * duration, continuing the last segment's discontinuity and media time, so that the wall-clock
 * timeline stays continuous and a player skips the hole (RFC 8216bis EXT-X-GAP).
 */
function gapRecords(t: RenditionTail, last: NonNullable<RenditionTail['last']>, startMs: number): GapRecord[] {
  const missingMs = startMs - last.endMs;
  if (missingMs < MIN_GAP_MS || missingMs > t.gapLimitMs) return [];
  const count = Math.ceil(missingMs / (t.target * 1000));
  const out: GapRecord[] = [];
  const mediaEndUs = last.mediaStartUs + last.durationUs;
  for (let k = 0; k < count; k++) {
    // Whole milliseconds, as the marker's name keeps them (a restart rebuilds the same entries).
    const fromMs = Math.round(last.endMs + (missingMs * k) / count);
    const toMs = Math.round(last.endMs + (missingMs * (k + 1)) / count);
    out.push({ seq: t.nextSeq + k, startMs: fromMs, durationUs: (toMs - fromMs) * 1000, disc: last.disc,
      mediaStartUs: mediaEndUs + (fromMs - last.endMs) * 1000, gap: true });
  }
  return out;
}
