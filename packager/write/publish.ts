// Publishing a rendition after a change: the window and the storage cap decide what is listed and
// what may go, then the immutable chunks, the playlists (full and delta), the stream's master
// playlist and MPD are written (each atomically), and what left the window is deleted, late
// (RFC 8216 6.2.2). Takes the state it needs as arguments; the stream packager owns that state.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../common/log.js';
import { PART_HOLD_BACK_SECONDS, PART_TARGET_SECONDS, listedSeconds } from '../../common/stream-settings.js';
import type { PackagerEmitter, StreamRef } from '../events.js';
import { listDir, unlinkIfPresent, writeAtomic } from '../../common/files.js';
import {
  CHUNKED_PLAYLIST, COMPRESSED_PLAYLIST, DASH_DIR, DASH_MANIFEST, DELTA_PLAYLIST, MASTER, MPD_PATCH_RE, PLAYLIST, WINDOW_LISTING,
  dashSegmentName, initName, mpdPatchName, storedName, type SegmentExt, type StreamPaths,
} from '../layout.js';
import { periodOrigins, renderMpd, type DashInput } from '../render/dash.js';
import type { SegmentIndex } from '../index/segment-index.js';
import { parseMpd, renderMpdPatch, type ParsedMpd } from '../render/dash-patch.js';
import { renderGzipPlaylist } from '../render/gzip.js';
import {
  CHUNK_SIZE, mediaPlaylistParts, renderChunk, renderDeltaPlaylist, ssiPlaylist, type MediaPlaylistInput, type PlaylistKind,
} from '../render/hls.js';
import { renderMaster, type VariantInfo } from '../render/master.js';
import type { Rendition } from '../rendition.js';
import type { StreamSettings } from '../settings.js';
import { capTrim, purgeUpTo, windowHead } from '../index/window.js';

export interface PublishContext {
  paths: StreamPaths;
  settings: Readonly<StreamSettings>;
  ext: SegmentExt;
  /** The event is over (ENDLIST); with recording, its playlists list all of it. */
  ended: boolean;
  eventStartMs: number | undefined;
  now: () => number;
  log: Logger;
  events: PackagerEmitter;
  ref: StreamRef;
}

/** Window, cap, chunks, playlists, the stream's manifests, then the purge. */
export async function publish(ctx: PublishContext, r: Rendition, all: readonly Rendition[], manifests: Manifests): Promise<void> {
  const s = ctx.settings;
  r.listedFrom = !ctx.ended || !s.recording ? windowHead(r.index, r.listedFrom, s.windowSeconds, r.target) : 0;
  let upTo = purgeUpTo(r.index, 0, r.listedFrom, s, r.target);
  const capTo = s.recording ? 0 : capTrim(r.index, 0, { ...s, storageCapBytes: capShare(s.storageCapBytes, r, all) }, r.target);
  if (capTo > upTo) {
    r.counters.capTrims++;
    r.capTrimmed = true;
    ctx.log.warn({ rendition: r.name, segments: capTo - upTo, capBytes: s.storageCapBytes },
      'storage cap reached: deleting the oldest media early');
    upTo = capTo;
    r.listedFrom = Math.max(r.listedFrom, upTo);
  }
  // The live playlist's start never moves back (RFC 8216 6.2.2): a longer cap or none fills in as
  // the live edge moves on, the window's listing kept until the two starts meet.
  const from = Math.max(r.listedFrom, r.playlistFrom);
  r.playlistFrom = capping(ctx) ? windowHead(r.index, from, s.playlistCapSeconds, r.target) : from;
  const input = playlistInput(ctx, r);
  await writeChunks(r, input);
  // A chunk completed by this segment is included at once.
  input.chunkedBelow = r.chunkedBelow;
  await writeFullPlaylist(r, input);
  if (input.canSkipUntil > 0) await writeAtomic(path.join(r.dir, DELTA_PLAYLIST), renderDeltaPlaylist(input));
  await writeWindowListing(ctx, r, input);
  await manifests.write(ctx, all, false);
  if (upTo > 0) await purge(ctx, r, upTo, capTo === upTo && capTo > 0 ? 'cap' : 'window');
}

/** The stream's storage cap, shared by its renditions in proportion to their bit rates. */
function capShare(capBytes: number, r: Rendition, all: readonly Rendition[]): number {
  if (capBytes <= 0) return 0;
  const total = all.reduce((a, x) => a + x.byteRate, 0);
  return total > 0 && r.byteRate > 0 ? Math.floor((capBytes * r.byteRate) / total) : capBytes;
}

/** The live playlist lists less than the window: the window is longer than the playlist cap. */
function capping(ctx: PublishContext): boolean {
  const s = ctx.settings;
  return !(ctx.ended && s.recording) && listedSeconds(s) < s.windowSeconds;
}

/**
 * Where the playlist is capped, the whole window's listing for the time-shift catalog (its head and
 * tail are rendered, its complete chunks included, as the full playlist's).
 */
async function writeWindowListing(ctx: PublishContext, r: Rendition, input: MediaPlaylistInput): Promise<void> {
  const file = path.join(r.dir, WINDOW_LISTING);
  if (r.playlistFrom > r.listedFrom) {
    await writeAtomic(file, ssiPlaylist(mediaPlaylistParts({ ...input, from: r.listedFrom, canSkipUntil: 0 })));
    r.windowListed = true;
  } else if (r.windowListed !== false) {
    await unlinkIfPresent(file);
    r.windowListed = false;
  }
}

function playlistKind(ctx: PublishContext, r: Rendition): PlaylistKind {
  if (ctx.ended && ctx.settings.recording) return 'vod';
  return ctx.settings.windowSeconds === 0 && !r.capTrimmed ? 'event' : 'live';
}

/** What the HLS renderers need of a rendition now. */
export function playlistInput(ctx: PublishContext, r: Rendition): MediaPlaylistInput {
  const kind = playlistKind(ctx, r);
  const s = ctx.settings;
  const wantsDelta = s.deltaUpdates && kind !== 'vod' && (s.windowSeconds === 0 || s.windowSeconds > 6 * r.target);
  const input: MediaPlaylistInput = {
    index: r.index, from: kind === 'vod' ? 0 : r.playlistFrom, ext: r.ext, target: r.target, kind,
    ended: ctx.ended, canSkipUntil: wantsDelta ? 6 * r.target : 0, chunkedBelow: r.chunkedBelow,
  };
  if (r.ext === 'm4s') input.initUri = (disc) => initName(disc);
  if (r.ext === 'm4s' && s.lowLatency) input.lowLatency = { partTarget: PART_TARGET_SECONDS, partHoldBack: PART_HOLD_BACK_SECONDS };
  return input;
}

/** Writes each newly completed chunk of CHUNK_SIZE segments once; they never change after. */
async function writeChunks(r: Rendition, input: MediaPlaylistInput): Promise<void> {
  if (r.chunkedBelow < r.index.firstSequence) r.chunkedBelow = r.index.firstSequence - (r.index.firstSequence % CHUNK_SIZE);
  while (r.chunkedBelow + CHUNK_SIZE <= r.index.nextSequence) {
    if (r.index.posOf(r.chunkedBelow) >= 0) await r.writeChunk(r.chunkedBelow, renderChunk(input, r.chunkedBelow));
    r.chunkedBelow += CHUNK_SIZE;
  }
}

/**
 * A playlist that includes chunks goes to index.m3u8.ssi, which nginx assembles, and compressed to
 * index.m3u8.gz.ssi for players that accept gzip; a plain one to index.m3u8, served as a file.
 * Only one form exists once the switch is done, and the new one is in place before the old one
 * goes, so a reader always finds one.
 */
async function writeFullPlaylist(r: Rendition, input: MediaPlaylistInput): Promise<void> {
  const parts = mediaPlaylistParts(input);
  const chunked = parts.chunks.length > 0;
  await writeAtomic(path.join(r.dir, chunked ? CHUNKED_PLAYLIST : PLAYLIST), ssiPlaylist(parts));
  if (chunked) {
    const gz = renderGzipPlaylist(parts, (seq) => r.pieces.get(seq));
    if (gz) await writeAtomic(path.join(r.dir, COMPRESSED_PLAYLIST), gz);
    else await unlinkIfPresent(path.join(r.dir, COMPRESSED_PLAYLIST));
  }
  if (chunked !== r.chunkedForm) {
    if (chunked) await unlinkIfPresent(path.join(r.dir, PLAYLIST));
    else for (const f of [CHUNKED_PLAYLIST, COMPRESSED_PLAYLIST]) await unlinkIfPresent(path.join(r.dir, f));
    r.chunkedForm = chunked;
  }
}

/**
 * How long an MPD version is kept for patches, in target durations (plus the edge's second of
 * cache): a player refreshes every target duration, and every rendition's segment makes a version.
 */
const PATCH_KEEP_TARGETS = 2;
/** At most this many versions (each newer MPD writes a patch from each). */
const PATCH_MAX_VERSIONS = 16;

/**
 * The stream's master playlist and MPD; the master is rewritten only when it changes. A live MPD
 * names where the patch from it will be; once a newer MPD is published, the patch from each of the
 * last few versions to it is written there (until then the edge answers that name with the MPD).
 */
export class Manifests {
  private lastMaster = '';
  private versions: Array<{ ms: number; mpd: ParsedMpd | undefined }> = [];
  private lastPublishMs = 0;
  /** Patch files of an earlier run of the packager are swept once. */
  private swept = false;

  /** A new event (archive strategy version or delete) starts from nothing. */
  reset(): void {
    this.lastMaster = '';
    this.versions = [];
    this.swept = false;
  }

  /** The master playlist as last written. */
  get master(): string | undefined { return this.lastMaster === '' ? undefined : this.lastMaster; }

  async write(ctx: PublishContext, all: readonly Rendition[], force: boolean): Promise<void> {
    const variants = all.filter((r) => r.index.length > 0 && r.totalSeconds > 0).map((r) => ({ r, info: variantInfo(r, r.bandwidth()) }));
    if (variants.length === 0) return;
    const eventStartMs = ctx.eventStartMs ?? variants[0]?.r.index.startMsAt(0) ?? 0;
    const cut = capping(ctx) || variants.some((v) => v.r.playlistFrom > v.r.listedFrom);
    const dvr = cut ? { windowSeconds: ctx.settings.windowSeconds, eventStartMs } : undefined;
    const master = renderMaster(variants.map((v) => v.info), ctx.ext === 'm4s', dvr);
    if (force || master !== this.lastMaster) {
      await writeAtomic(path.join(ctx.paths.dir, MASTER), master);
      this.lastMaster = master;
    }
    if (ctx.ext !== 'm4s' || !ctx.settings.dash) return;
    // publishTime names the version a patch starts from: it only moves forward.
    const publishMs = Math.max(ctx.now(), this.lastPublishMs + 1);
    this.lastPublishMs = publishMs;
    const frame = mpdFrame(ctx, Math.max(...variants.map((v) => v.r.target)), publishMs);
    const mpd = renderMpd({
      renditions: variants.map((v) => ({ info: v.info, index: v.r.index, from: ctx.ended && ctx.settings.recording ? 0 : v.r.playlistFrom,
        segmentUs: v.r.segmentUs })),
      ...frame, ended: ctx.ended,
    });
    await writeAtomic(path.join(ctx.paths.dir, DASH_MANIFEST), mpd);
    await this.writePatches(ctx.paths.dir, ctx.ended ? undefined : { ms: publishMs, mpd: parseMpd(mpd) }, frame.patch.ttlSeconds * 1000);
  }

  /**
   * The patches from the versions of the last `keepMs` to `newest`; none once the event ended
   * (players reload the MPD, now static).
   */
  private async writePatches(dir: string, newest: { ms: number; mpd: ParsedMpd | undefined } | undefined, keepMs = 0): Promise<void> {
    if (!this.swept) {
      for (const f of await listDir(dir)) if (MPD_PATCH_RE.test(f)) await unlinkIfPresent(path.join(dir, f));
      this.swept = true;
    }
    if (!newest) {
      for (const v of this.versions) await unlinkIfPresent(path.join(dir, mpdPatchName(v.ms)));
      this.versions = [];
      return;
    }
    for (const old of this.versions) {
      const patch = renderMpdPatch(old.mpd, newest.mpd);
      if (patch) await writeAtomic(path.join(dir, mpdPatchName(old.ms)), patch);
      else await unlinkIfPresent(path.join(dir, mpdPatchName(old.ms)));
    }
    this.versions.push(newest);
    while (this.versions.length > PATCH_MAX_VERSIONS || (this.versions[0]?.ms ?? Infinity) < newest.ms - keepMs) {
      const gone = this.versions.shift();
      if (gone) await unlinkIfPresent(path.join(dir, mpdPatchName(gone.ms)));
    }
  }
}

/**
 * What an MPD of the stream says besides its renditions: its clock, window and target, its identity
 * and where the patch from this version will be (kept two target durations and the edge's second of
 * cache). The storage's MPD and the live view's share it, so a player moving between them sees one MPD.
 */
function mpdFrame(ctx: PublishContext, target: number, publishMs: number): Pick<DashInput,
  'availabilityStartMs' | 'windowSeconds' | 'target' | 'publishMs'> & { patch: NonNullable<DashInput['patch']> } {
  const s = ctx.settings;
  return { availabilityStartMs: ctx.eventStartMs ?? 0, windowSeconds: capping(ctx) ? s.playlistCapSeconds : s.windowSeconds,
    target, publishMs,
    patch: { mpdId: `e${Math.round(ctx.eventStartMs ?? 0)}`, location: mpdPatchName(publishMs),
      ttlSeconds: PATCH_KEEP_TARGETS * target + 2 } };
}

function variantInfo(r: Rendition, bandwidth: number): VariantInfo {
  return { rendition: r.name, bandwidth, averageBandwidth: Math.min(bandwidth, (r.totalBytes * 8) / r.totalSeconds),
    codecs: r.facts.codecs, width: r.facts.width, height: r.facts.height, frameRate: r.facts.frameRate };
}

/**
 * The live view's MPD (live-view.ts): the presentation the storage's MPD describes, listing the
 * live view's records of each rendition (its Periods where the full MPD has them). Undefined where
 * the stream has no MPD or nothing listed.
 */
export function renderLiveMpd(ctx: PublishContext, views: ReadonlyArray<{ r: Rendition; index: SegmentIndex }>): string | undefined {
  if (ctx.ext !== 'm4s' || !ctx.settings.dash || ctx.ended) return undefined;
  const listed = views.filter((v) => v.index.length > 0 && v.r.totalSeconds > 0);
  if (listed.length === 0) return undefined;
  // The live view answers a patch request with this MPD: a full update.
  return renderMpd({
    renditions: listed.map((v) => ({ info: variantInfo(v.r, v.r.advertisedBps), index: v.index, from: 0, segmentUs: v.r.segmentUs,
      origins: periodOrigins(v.r.index) })),
    ...mpdFrame(ctx, Math.max(...listed.map((v) => v.r.target)), ctx.now()), ended: false,
  });
}

/** Deletes the first `upTo` segments (and chunks and init segments no segment needs any more). */
async function purge(ctx: PublishContext, r: Rendition, upTo: number, reason: 'window' | 'cap'): Promise<void> {
  let bytes = 0;
  let count = 0;
  for (let i = 0; i < upTo; i++) {
    const rec = r.index.at(0);
    await unlinkIfPresent(path.join(r.dir, storedName(rec, r.ext)));
    if (r.ext === 'm4s') await unlinkIfPresent(path.join(r.dir, DASH_DIR, dashSegmentName(rec.seq)));
    if ((rec.seq + 1) % CHUNK_SIZE === 0) await r.deleteChunk(rec.seq + 1 - CHUNK_SIZE);
    bytes += rec.bytes;
    count++;
    r.index.shift();
    r.listedFrom = Math.max(0, r.listedFrom - 1);
    r.playlistFrom = Math.max(0, r.playlistFrom - 1);
  }
  const minDisc = r.index.length > 0 ? r.index.discAt(0) : r.lastDisc;
  for (const d of [...r.inits]) {
    if (d < minDisc) {
      await unlinkIfPresent(path.join(r.dir, initName(d)));
      r.inits.delete(d);
    }
  }
  r.counters.segmentsPurged += count;
  r.counters.bytesPurged += bytes;
  ctx.log.debug({ rendition: r.name, count, bytes, reason }, 'purged');
  ctx.events.emit('purged', { ...ctx.ref, rendition: r.name, count, bytes, reason });
}
