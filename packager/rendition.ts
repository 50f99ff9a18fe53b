// One rendition's state: its index, the encoder session it follows, what the media told us.
// Rebuilt from the directory alone after a crash.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  CHUNK_DIR, chunkName, chunkPieceName, chunkSizesName, parseChunkPieceName, parseInitName, parseSegmentName, storedName,
  type SegmentExt,
} from './layout.js';
import { listDir, unlinkIfPresent, writeAtomic } from '../common/files.js';
import type { InitMedia } from './media/inspect.js';
import { newCounters, type RenditionCounters } from './metrics.js';
import type { RenditionTail, SessionState } from './index/placement.js';
import type { SegmentRecord } from './layout.js';

export type { SessionState };
import { deflatePiece, type ChunkPiece } from './render/gzip.js';
import { CHUNK_SIZE } from './render/hls.js';
import { SegmentIndex } from './index/segment-index.js';
import { RecentMedia, liveViewSegments } from './live-view.js';
import { PartStore } from './parts/parts.js';

export interface MediaFacts {
  codecs: string[];
  width: number | undefined;
  height: number | undefined;
  frameRate: number | undefined;
}

export class Rendition {
  readonly index = new SegmentIndex();
  /** Position of the first segment of the DVR window (what is kept listed for time-shift). */
  listedFrom = 0;
  /** Position of the first segment the live playlist lists: listedFrom, or later where the playlist cap cuts. */
  playlistFrom = 0;
  /** The window's listing (WINDOW_LISTING) is on disk; undefined until first decided. */
  windowListed: boolean | undefined;
  /** Sequences below this have their chunk file on disk. */
  chunkedBelow = 0;
  /** The full playlist on disk is the chunked (SSI) form; undefined until first written. */
  chunkedForm: boolean | undefined;
  /** Compressed pieces of the chunks on disk, by first sequence (render/gzip.ts). */
  readonly pieces = new Map<number, ChunkPiece>();
  /** Discontinuity numbers that have an init_<d>.mp4. */
  readonly inits = new Set<number>();
  session: SessionState | undefined;
  /** Parsed init of the current session (fMP4). */
  init: InitMedia | undefined;
  /** Last encoder file number seen in this session, to notice a missing file. */
  lastN: number | undefined;
  /** A hole is known before the next segment (rejected segment, missing file). */
  holePending = false;
  /** Taken over from another writer and nothing listed since: a backlog of time it listed is dropped. */
  takenOver = false;
  facts: MediaFacts = { codecs: [], width: undefined, height: undefined, frameRate: undefined };
  /** Highest discontinuity number ever used (also of purged segments). */
  lastDisc = -1;
  target: number;
  /** The segment duration the encoder was asked for (an audio muxer cuts on its multiples). */
  readonly segmentUs: number;
  readonly counters: RenditionCounters = newCounters();
  /** The newest segments' bytes for the live view (filled only where the packager keeps them). */
  readonly recent: RecentMedia;
  /** Low latency: the newest segments' partial segments, in memory only. */
  readonly parts = new PartStore(8);
  /** The segment being moved onto the storage, placed but not listed yet (the live view lists it). */
  placing: { record: SegmentRecord; n: number; session: SessionState } | undefined;
  /** Bit rate figures over what is listed: the master playlist's BANDWIDTH and AVERAGE-BANDWIDTH. */
  peakBps = 0;
  totalBytes = 0;
  totalSeconds = 0;
  /** BANDWIDTH as advertised; it moves only when the measured peak leaves it by more than 10 %. */
  advertisedBps = 0;
  /** The storage cap deleted media early: the playlist is no longer a whole event. */
  capTrimmed = false;

  /** `dir` is on the shared storage; `spoolDir` (local disk) holds the encoder's incoming/. */
  constructor(readonly name: string, readonly dir: string, readonly spoolDir: string, readonly ext: SegmentExt,
    segmentSeconds: number) {
    this.target = Math.max(1, Math.round(segmentSeconds));
    this.segmentUs = Math.round(segmentSeconds * 1e6);
    this.recent = new RecentMedia(liveViewSegments(this.target));
  }

  get incomingDir(): string { return path.join(this.spoolDir, 'incoming'); }

  /** What placing the next segment needs to know (placement.ts); missing time up to `gapLimitMs` is listed as gaps. */
  tail(gapLimitMs: number): RenditionTail {
    const n = this.index.length;
    return {
      last: n > 0 ? { endMs: this.index.endMsAt(n - 1), disc: this.index.discAt(n - 1), mediaStartUs: this.index.mediaStartUsAt(n - 1),
        durationUs: this.index.durationUsAt(n - 1), ...(this.index.gapAt(n - 1) ? { gap: true } : {}) } : undefined,
      nextSeq: this.index.nextSequence, lastDisc: this.lastDisc, session: this.session, lastN: this.lastN,
      holePending: this.holePending, takenOver: this.takenOver, target: this.target, gapLimitMs,
    };
  }

  /** Counts a listed segment into the bit rate figures. */
  account(bytes: number, seconds: number): void {
    if (seconds <= 0) return;
    // A short last segment (encoder flush) says little about the peak rate.
    if (seconds >= this.target / 2) this.peakBps = Math.max(this.peakBps, (bytes * 8) / seconds);
    this.totalBytes += bytes;
    this.totalSeconds += seconds;
  }

  /** Bytes per second over what was listed; 0 before anything was. */
  get byteRate(): number {
    return this.totalSeconds > 0 ? this.totalBytes / this.totalSeconds : 0;
  }

  /** BANDWIDTH to advertise: steady, moved only when the measured peak leaves it by more than 10 %. */
  bandwidth(): number {
    if (Math.abs(this.peakBps - this.advertisedBps) > 0.1 * this.advertisedBps) this.advertisedBps = this.peakBps;
    return this.advertisedBps;
  }

  /** Scans the directory: segments by their names, chunk files, init segments. */
  async recover(): Promise<{ segments: number; ignored: string[] }> {
    const names = await listDir(this.dir);
    const found: Array<NonNullable<ReturnType<typeof parseSegmentName>>> = [];
    const ignored: string[] = [];
    for (const n of names) {
      const s = parseSegmentName(n);
      if (s && (s.ext === this.ext || s.ext === 'gap')) found.push(s);
      const d = parseInitName(n);
      if (d !== undefined) this.inits.add(d);
    }
    // A gap marker left beside a segment of the same number (a writer that lost the stream midway):
    // the media is what was listed.
    found.sort((a, b) => a.seq - b.seq || Number(a.gap === true) - Number(b.gap === true));
    for (let i = found.length - 1; i > 0; i--) if (found[i]?.seq === found[i - 1]?.seq) found.splice(i, 1);
    // Keep the newest contiguous run; anything before a hole cannot be listed consistently.
    let start = 0;
    for (let i = 1; i < found.length; i++) {
      if ((found[i]?.seq ?? 0) !== (found[i - 1]?.seq ?? 0) + 1) start = i;
    }
    for (const s of found.slice(0, start)) ignored.push(String(s.seq));
    const kept = found.slice(start);
    const chunkFiles = await listDir(path.join(this.dir, CHUNK_DIR));
    const chunks = new Set(chunkFiles);
    // Sizes from the chunks' size files; only segments of a chunk without one are stat-ed.
    const known = await this.chunkSizes(kept.map((s) => s.seq), chunks);
    const sizes = await mapLimit(kept, 64, async (s) => known.get(s.seq)
      ?? (await fs.stat(path.join(this.dir, storedName(s, this.ext)))).size);
    kept.forEach((s, i) => {
      this.index.push({ ...s, bytes: sizes[i] ?? 0 });
      this.lastDisc = Math.max(this.lastDisc, s.disc);
      this.target = Math.max(this.target, Math.round(s.durationUs / 1e6));
    });
    for (let p = 0; p < this.index.length; p++) {
      if (!this.index.gapAt(p)) this.account(this.index.bytesAt(p), this.index.durationUsAt(p) / 1e6);
    }
    for (const f of chunkFiles) {
      const piece = parseChunkPieceName(f);
      if (piece) this.pieces.set(piece.seq, { file: `${CHUNK_DIR}/${f}`, crc: piece.crc, length: piece.length });
    }
    let below = this.index.firstSequence - (this.index.firstSequence % CHUNK_SIZE);
    while (chunks.has(chunkName(below))) {
      // A chunk written before pieces (or size files) existed gets its piece now, once.
      if (!this.pieces.has(below)) {
        await this.writePiece(below, await fs.readFile(path.join(this.dir, CHUNK_DIR, chunkName(below)), 'utf8'));
      }
      if (!chunks.has(chunkSizesName(below))) await this.writeSizes(below);
      below += CHUNK_SIZE;
    }
    this.chunkedBelow = below;
    return { segments: kept.length, ignored };
  }

  /**
   * The sizes the size files of the chunks holding `seqs` give, by sequence. A file that does not
   * read as one size per segment of its chunk is passed over (its segments are stat-ed instead).
   */
  private async chunkSizes(seqs: number[], chunkFiles: Set<string>): Promise<Map<number, number>> {
    const firsts = [...new Set(seqs.map((q) => q - (q % CHUNK_SIZE)))].filter((f) => chunkFiles.has(chunkSizesName(f)));
    const out = new Map<number, number>();
    await mapLimit(firsts, 16, async (first) => {
      const text = await fs.readFile(path.join(this.dir, CHUNK_DIR, chunkSizesName(first)), 'utf8').catch(() => '');
      const lines = text.split('\n');
      if (lines.pop() !== '' || lines.length !== CHUNK_SIZE || !lines.every((l) => /^\d{1,12}$/.test(l))) return;
      lines.forEach((l, i) => out.set(first + i, Number(l)));
    });
    return out;
  }

  /** Writes the size file of the chunk from `firstSeq` when the index holds all its segments. */
  private async writeSizes(firstSeq: number): Promise<void> {
    const pos = this.index.posOf(firstSeq);
    if (pos < 0 || pos + CHUNK_SIZE > this.index.length) return;
    let text = '';
    for (let i = 0; i < CHUNK_SIZE; i++) text += `${this.index.bytesAt(pos + i)}\n`;
    await writeAtomic(path.join(this.dir, CHUNK_DIR, chunkSizesName(firstSeq)), text);
  }

  /** Writes a chunk's text and its compressed piece; both are immutable once written. */
  async writeChunk(firstSeq: number, text: string): Promise<void> {
    await fs.mkdir(path.join(this.dir, CHUNK_DIR), { recursive: true });
    await writeAtomic(path.join(this.dir, CHUNK_DIR, chunkName(firstSeq)), text);
    await this.writePiece(firstSeq, text);
    await this.writeSizes(firstSeq);
  }

  private async writePiece(firstSeq: number, text: string): Promise<void> {
    const piece = deflatePiece(text);
    const name = chunkPieceName(firstSeq, piece.crc, piece.length);
    await writeAtomic(path.join(this.dir, CHUNK_DIR, name), piece.data);
    this.pieces.set(firstSeq, { file: `${CHUNK_DIR}/${name}`, crc: piece.crc, length: piece.length });
  }

  /** Deletes a chunk that no listed segment needs any more, both forms. */
  async deleteChunk(firstSeq: number): Promise<void> {
    await unlinkIfPresent(path.join(this.dir, CHUNK_DIR, chunkName(firstSeq)));
    await unlinkIfPresent(path.join(this.dir, CHUNK_DIR, chunkSizesName(firstSeq)));
    const piece = this.pieces.get(firstSeq);
    if (piece) await unlinkIfPresent(path.join(this.dir, piece.file));
    this.pieces.delete(firstSeq);
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
