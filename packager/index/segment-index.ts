// The DVR index of one rendition: a growable ring of fixed-width columns (about 33 bytes a
// segment), so a week of 2 s segments costs a few MB and appending is O(1).
import type { SegmentRecord } from '../layout.js';
import { DvrError } from '../../common/errors.js';

export class SegmentIndex {
  private startMs = new Float64Array(64);
  private mediaStartUs = new Float64Array(64);
  private durationUs = new Uint32Array(64);
  private disc = new Uint32Array(64);
  private bytes = new Float64Array(64);
  private gap = new Uint8Array(64);
  private head = 0;
  private count = 0;
  private total = 0;
  private gaps = 0;
  /** Sequence number of the segment at position 0. */
  private firstSeq = 0;

  get length(): number { return this.count; }
  /** Gap entries it holds. */
  get gapCount(): number { return this.gaps; }
  /** Bytes of the segments it holds (what they take on the storage). */
  get totalBytes(): number { return this.total; }
  get firstSequence(): number { return this.firstSeq; }
  /** Sequence the next appended segment gets. */
  get nextSequence(): number { return this.firstSeq + this.count; }

  /** Appends a segment; its seq must be nextSequence (or any seq when the index is empty). */
  push(s: SegmentRecord): void {
    if (this.count === 0) this.firstSeq = s.seq;
    else if (s.seq !== this.nextSequence) throw new DvrError('DVR_ERR_INTERNAL',
      `segment ${s.seq} out of order, expected ${this.nextSequence}`);
    if (this.count === this.startMs.length) this.grow();
    const i = (this.head + this.count) % this.startMs.length;
    this.startMs[i] = s.startMs;
    this.mediaStartUs[i] = s.mediaStartUs;
    this.durationUs[i] = s.durationUs;
    this.disc[i] = s.disc;
    this.bytes[i] = s.bytes;
    this.gap[i] = s.gap === true ? 1 : 0;
    this.gaps += this.gap[i] ?? 0;
    this.total += s.bytes;
    this.count++;
  }

  /** Drops the oldest segment. */
  shift(): void {
    if (this.count === 0) return;
    this.total -= this.bytes[this.head] ?? 0;
    this.gaps -= this.gap[this.head] ?? 0;
    this.head = (this.head + 1) % this.startMs.length;
    this.count--;
    this.firstSeq++;
  }

  /** Position-based accessors (0 = oldest kept). */
  seqAt(pos: number): number { return this.firstSeq + pos; }
  startMsAt(pos: number): number { return this.startMs[this.slot(pos)] ?? 0; }
  durationUsAt(pos: number): number { return this.durationUs[this.slot(pos)] ?? 0; }
  endMsAt(pos: number): number { return this.startMsAt(pos) + this.durationUsAt(pos) / 1000; }
  discAt(pos: number): number { return this.disc[this.slot(pos)] ?? 0; }
  bytesAt(pos: number): number { return this.bytes[this.slot(pos)] ?? 0; }
  mediaStartUsAt(pos: number): number { return this.mediaStartUs[this.slot(pos)] ?? 0; }
  /** A gap entry: missing time, no media. */
  gapAt(pos: number): boolean { return this.gap[this.slot(pos)] === 1; }

  at(pos: number): SegmentRecord {
    return {
      seq: this.seqAt(pos), startMs: this.startMsAt(pos), durationUs: this.durationUsAt(pos),
      disc: this.discAt(pos), mediaStartUs: this.mediaStartUsAt(pos), bytes: this.bytesAt(pos),
      ...(this.gapAt(pos) ? { gap: true } : {}),
    };
  }

  /** Position of a sequence number, or -1. */
  posOf(seq: number): number {
    const p = seq - this.firstSeq;
    return p >= 0 && p < this.count ? p : -1;
  }

  private slot(pos: number): number {
    return (this.head + pos) % this.startMs.length;
  }

  private grow(): void {
    const cap = this.startMs.length * 2;
    const copy = <T extends Float64Array | Uint32Array | Uint8Array>(src: T, make: (n: number) => T): T => {
      const dst = make(cap);
      for (let k = 0; k < this.count; k++) dst[k] = src[(this.head + k) % src.length] ?? 0;
      return dst;
    };
    this.startMs = copy(this.startMs, (n) => new Float64Array(n));
    this.mediaStartUs = copy(this.mediaStartUs, (n) => new Float64Array(n));
    this.durationUs = copy(this.durationUs, (n) => new Uint32Array(n));
    this.disc = copy(this.disc, (n) => new Uint32Array(n));
    this.bytes = copy(this.bytes, (n) => new Float64Array(n));
    this.gap = copy(this.gap, (n) => new Uint8Array(n));
    this.head = 0;
  }
}
