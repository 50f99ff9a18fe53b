// DVR window and purge decisions: pure functions of the index and the stream's settings.
import type { SegmentIndex } from './segment-index.js';

export interface WindowSettings {
  /** Seconds of media kept listed; 0 = unbounded (EVENT playlist). */
  windowSeconds: number;
  /** Keep every segment of the event (recording): purge never deletes. */
  recording: boolean;
  /** Optional cap on the bytes one rendition keeps on disk; 0 = none. */
  storageCapBytes: number;
}

/** Target duration: the longest segment rounded to the nearest integer (RFC 8216 4.3.3.1). */
export function targetDuration(maxDurationUs: number, configuredSeconds: number): number {
  return Math.max(1, Math.round(maxDurationUs / 1e6), Math.round(configuredSeconds));
}

/**
 * Position of the first segment listed when `spanSeconds` are (the DVR window, or the live
 * playlist's cap where the window is longer; 0: unbounded). The span is measured in wall-clock
 * seconds back from the live edge, and a playlist is never shorter than 3 target durations.
 */
export function windowHead(index: SegmentIndex, from: number, spanSeconds: number, target: number): number {
  const n = index.length;
  if (n === 0 || spanSeconds <= 0) return from;
  const liveEnd = index.endMsAt(n - 1);
  const span = Math.max(spanSeconds, 3 * target) * 1000;
  let pos = from;
  while (pos < n - 1 && liveEnd - index.startMsAt(pos) > span + 0.5) pos++;
  return pos;
}

/**
 * Segments before `purgeUpTo` may be deleted now. RFC 8216 6.2.2: a segment removed from the
 * playlist stays available for its own duration plus the longest playlist that listed it, which
 * is at most the window plus one target duration. Recording keeps everything.
 */
export function purgeUpTo(index: SegmentIndex, from: number, head: number, settings: WindowSettings, target: number): number {
  if (settings.recording || settings.windowSeconds <= 0 || index.length === 0) return from;
  const liveEnd = index.endMsAt(index.length - 1);
  const spanMs = Math.max(settings.windowSeconds, 3 * target) * 1000;
  const longestPlaylistMs = spanMs + target * 1000;
  let pos = from;
  while (pos < head) {
    // The segment left the window when the live edge passed its end plus the window.
    const leftAt = index.endMsAt(pos) + spanMs;
    if (liveEnd < leftAt + index.durationUsAt(pos) / 1000 + longestPlaylistMs) break;
    pos++;
  }
  return pos;
}

/**
 * Storage cap: how many of the oldest kept segments must go (listed ones leave the playlist
 * first) so the rendition fits in its cap, never below 3 target durations listed.
 */
export function capTrim(index: SegmentIndex, from: number, settings: WindowSettings, target: number): number {
  if (settings.storageCapBytes <= 0 || index.length === 0) return from;
  let total = 0;
  for (let p = from; p < index.length; p++) total += index.bytesAt(p);
  const liveEnd = index.endMsAt(index.length - 1);
  let pos = from;
  while (total > settings.storageCapBytes && pos < index.length - 1
    && liveEnd - index.startMsAt(pos + 1) >= 3 * target * 1000) {
    total -= index.bytesAt(pos);
    pos++;
  }
  return pos;
}
