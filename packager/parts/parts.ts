// Low latency: a rendition's newest partial segments in memory, by the encoder's segment (session
// and number) and, once the packager listed that segment, by its sequence number too. Parts are
// never written to the storage: the segment made of them is.
import { parsePartName } from '../layout.js';

export interface LivePart {
  /** Its URI (layout.ts partName): the session, the segment's number and the part's. */
  name: string;
  /** Its place in its segment, from 0. */
  k: number;
  durationUs: number;
  /** Starts with a keyframe (or has no video). */
  independent: boolean;
  /** moof+mdat (and what the encoder put before the moof). */
  data: Buffer;
}

export interface PartedSegment {
  session: string;
  n: number;
  parts: LivePart[];
  /** The encoder closed it: no part follows. */
  complete: boolean;
  /** Its sequence number once listed. */
  seq?: number;
}

const key = (session: string, n: number): string => `${session}-${n}`;

export class PartStore {
  private readonly segments = new Map<string, PartedSegment>();
  private readonly bySeq = new Map<number, PartedSegment>();

  /** `keep`: segments held (the newest), enough for the parts the live edge lists. */
  constructor(private readonly keep: number) {}

  add(session: string, n: number, part: LivePart): void {
    const s = this.entry(session, n);
    if (part.k === s.parts.length) s.parts.push(part);
  }

  complete(session: string, n: number): void {
    this.entry(session, n).complete = true;
  }

  /** The packager listed segment `n` of `session` as `seq`. */
  listed(session: string, n: number, seq: number): void {
    const s = this.segments.get(key(session, n));
    if (!s) return;
    s.seq = seq;
    this.bySeq.set(seq, s);
  }

  of(session: string, n: number): PartedSegment | undefined { return this.segments.get(key(session, n)); }
  ofSeq(seq: number): PartedSegment | undefined { return this.bySeq.get(seq); }

  /** A part by its URI, when held. */
  part(name: string): LivePart | undefined {
    const p = parsePartName(name);
    return p ? this.segments.get(key(p.session, p.n))?.parts[p.k] : undefined;
  }

  clear(): void {
    this.segments.clear();
    this.bySeq.clear();
  }

  private entry(session: string, n: number): PartedSegment {
    let s = this.segments.get(key(session, n));
    if (!s) {
      s = { session, n, parts: [], complete: false };
      this.segments.set(key(session, n), s);
      for (const [k, old] of this.segments) {
        if (this.segments.size <= this.keep) break;
        this.segments.delete(k);
        if (old.seq !== undefined) this.bySeq.delete(old.seq);
      }
    }
    return s;
  }
}
