// A rendition's DASH SegmentTimeline as runs of equal durations (one <S> each), kept as segments
// arrive: an MPD lists a week in O(runs), not O(segments), and renders in as little.
//
// AAC frames do not divide a segment (2 s at 48 kHz is 93.75 frames of 1024 samples), so an audio
// muxer cuts at the first frame past each multiple of the segment duration and its segments
// alternate 94/94/94/93 frames: no two neighbours are equal and `r` never folds them. Where a
// rendition is cut on such a grid, its boundaries are listed on the grid (each within one audio
// frame of the media's own, as other packagers list them): the durations become equal and fold.
// Media is placed by its own timestamps (tfdt), so a player plays it as before.

/** Consecutive segments of one discontinuity with the same listed duration. */
export interface Run {
  disc: number;
  /** Sequence number of the first. */
  seq: number;
  count: number;
  /** Listed media time of the first, microseconds. */
  t: number;
  /** Listed duration of each, microseconds. */
  d: number;
  /** The longest of them, listed or measured: what maxSegmentDuration must cover. */
  longestUs: number;
}

export interface TimelineSegment { seq: number; disc: number; mediaStartUs: number; durationUs: number }

/** How far a boundary may sit from the grid and still be listed on it: one audio frame and some. */
const snapToleranceUs = (gridUs: number): number => Math.min(gridUs / 4, 100_000);

export class Timeline {
  private runs: Run[] = [];
  private head = 0;
  private end = 0;

  /**
   * `gridUs`: the duration the rendition is cut at (its segment duration), for a rendition cut on a
   * grid (audio); undefined lists each boundary where the media has it (video, cut at keyframes).
   */
  constructor(readonly gridUs: number | undefined) {}

  /** Appends the next segment; `originUs` is the media time its discontinuity's Period starts at. */
  add(s: TimelineSegment, originUs: number): void {
    const last = this.runs[this.runs.length - 1];
    const within = last !== undefined && last.disc === s.disc && s.seq === last.seq + last.count;
    // Inside a discontinuity each segment begins where the one before ends (the packager starts a
    // new one at any hole), so only a Period's first boundary is taken from the media.
    const t = within ? this.end : this.place(Math.round(s.mediaStartUs), originUs);
    let e = this.gridUs !== undefined ? this.place(Math.round(s.mediaStartUs + s.durationUs), originUs) : t + s.durationUs;
    if (e <= t) e = t + s.durationUs;
    const d = Math.round(e - t);
    const longestUs = Math.max(d, Math.ceil(s.durationUs));
    if (within && last.d === d) {
      last.count++;
      last.longestUs = Math.max(last.longestUs, longestUs);
    } else {
      this.runs.push({ disc: s.disc, seq: s.seq, count: 1, t, d, longestUs });
    }
    this.end = t + d;
  }

  /** Forgets the runs wholly before `seq` (the index was purged up to it). */
  dropBefore(seq: number): void {
    while (this.head < this.runs.length) {
      const r = this.runs[this.head];
      if (!r || r.seq + r.count > seq) break;
      this.head++;
    }
    // Compact now and then, so that dropping stays O(1) amortised.
    if (this.head > 64 && this.head * 2 > this.runs.length) {
      this.runs = this.runs.slice(this.head);
      this.head = 0;
    }
  }

  /** The runs from sequence `seq` on, the first cut to begin there. */
  from(seq: number): Run[] {
    // Runs are in sequence order: find the first that reaches `seq` by bisection.
    let lo = this.head;
    let hi = this.runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.runs[mid];
      if (r && r.seq + r.count <= seq) lo = mid + 1;
      else hi = mid;
    }
    const out = this.runs.slice(lo);
    const first = out[0];
    const skip = first ? seq - first.seq : 0;
    if (first && skip > 0) out[0] = { ...first, seq: first.seq + skip, count: first.count - skip, t: first.t + skip * first.d };
    return out;
  }

  /** A boundary on the grid where it lies within the tolerance of a grid point, else as measured. */
  private place(us: number, originUs: number): number {
    const g = this.gridUs;
    if (g === undefined) return us;
    const k = Math.round((us - originUs) / g);
    const onGrid = originUs + k * g;
    return Math.abs(us - onGrid) <= snapToleranceUs(g) ? Math.round(onGrid) : us;
  }
}
