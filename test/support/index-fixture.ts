// Builds DVR indexes for renderer and window tests without media.
import { SegmentIndex } from '../../packager/index/segment-index.js';

export const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

/**
 * Segments 0-3 of a session, 5 s missing (the encoder was gone) listed as three gap entries, then a
 * new session of 4 segments: what the packager lists for a reconnect within the reconnect grace.
 */
export function indexWithGap(): SegmentIndex {
  const index = new SegmentIndex();
  let seq = 0;
  for (let i = 0; i < 4; i++) {
    index.push({ seq: seq++, startMs: T0 + i * 2000, durationUs: 2e6, disc: 0, mediaStartUs: i * 2e6, bytes: 1000 });
  }
  for (const [fromMs, ms] of [[8000, 1667], [9667, 1667], [11_334, 1666]] as const) {
    index.push({ seq: seq++, startMs: T0 + fromMs, durationUs: ms * 1000, disc: 0, mediaStartUs: fromMs * 1000, bytes: 0, gap: true });
  }
  for (let i = 0; i < 4; i++) {
    index.push({ seq: seq++, startMs: T0 + 13_000 + i * 2000, durationUs: 2e6, disc: 1, mediaStartUs: 500_000 + i * 2e6, bytes: 1000 });
  }
  return index;
}

/** `count` segments of `durationSec`; discontinuities start at the given positions. */
export function makeIndex(count: number, durationSec = 2, discAt: number[] = [], firstSeq = 0): SegmentIndex {
  const index = new SegmentIndex();
  let disc = 0;
  let t = T0;
  for (let i = 0; i < count; i++) {
    if (discAt.includes(i)) {
      disc++;
      t += 5000; // the encoder was gone for 5 s
    }
    index.push({ seq: firstSeq + i, startMs: t, durationUs: durationSec * 1e6, disc, mediaStartUs: i * durationSec * 1e6, bytes: 1000 });
    t += durationSec * 1000;
  }
  return index;
}
