// Builds DVR indexes for renderer and window tests without media.
import { SegmentIndex } from '../../agent/packager/segment-index.js';

export const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

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
