// Segment integrity check and measurement: the one entry point the packager calls.
import { inspectFmp4, inspectInit } from './fmp4.js';
import { inspectTs } from './ts.js';
import type { InitMedia, SegmentMedia } from './types.js';

export { SegmentRejected } from './types.js';
export type { InitMedia, SegmentMedia } from './types.js';
export { inspectInit };

export function inspectSegment(buf: Uint8Array, init?: InitMedia): SegmentMedia {
  return init ? inspectFmp4(buf, init) : inspectTs(buf);
}
