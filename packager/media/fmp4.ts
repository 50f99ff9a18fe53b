// Fragmented MP4 (CMAF) inspection: box structure, init segment tracks, moof/mdat pairs,
// first sample a sync sample, exact duration from the track run.
import { aacCodec, avcCodec, hevcCodecFromPtl } from './codecs.js';
import { SegmentRejected, type InitMedia, type SegmentMedia } from './types.js';

interface Box { type: string; start: number; body: number; end: number }

function readBoxes(buf: Uint8Array, from: number, to: number, where: string): Box[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const boxes: Box[] = [];
  let p = from;
  while (p < to) {
    if (p + 8 > to) throw new SegmentRejected(`${where}: truncated box header at byte ${p}`);
    let size = view.getUint32(p);
    const type = String.fromCharCode(buf[p + 4] ?? 0, buf[p + 5] ?? 0, buf[p + 6] ?? 0, buf[p + 7] ?? 0);
    let body = p + 8;
    if (size === 1) {
      if (p + 16 > to) throw new SegmentRejected(`${where}: truncated large box at byte ${p}`);
      size = Number(view.getBigUint64(p + 8));
      body = p + 16;
    } else if (size === 0) {
      size = to - p;
    }
    if (!/^[\x20-\x7e]{4}$/.test(type)) throw new SegmentRejected(`${where}: garbage box type at byte ${p}`);
    if (size < body - p || p + size > to) {
      throw new SegmentRejected(`${where}: box '${type}' at byte ${p} runs past the end (truncated)`);
    }
    boxes.push({ type, start: p, body, end: p + size });
    p += size;
  }
  return boxes;
}

function child(buf: Uint8Array, parent: Box, type: string, where: string): Box | undefined {
  return readBoxes(buf, parent.body, parent.end, where).find((b) => b.type === type);
}

function path(buf: Uint8Array, parent: Box, types: string[], where: string): Box | undefined {
  let cur: Box | undefined = parent;
  for (const t of types) {
    if (!cur) return undefined;
    cur = child(buf, cur, t, where);
  }
  return cur;
}

export function inspectInit(buf: Uint8Array): InitMedia {
  const where = 'init segment';
  if (buf.length === 0) throw new SegmentRejected(`${where}: empty`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const top = readBoxes(buf, 0, buf.length, where);
  const moov = top.find((b) => b.type === 'moov');
  if (!moov) throw new SegmentRejected(`${where}: no moov box`);
  const tracks: InitMedia['tracks'] = new Map();
  const inMoov = readBoxes(buf, moov.body, moov.end, where);
  for (const trak of inMoov.filter((b) => b.type === 'trak')) {
    const tkhd = child(buf, trak, 'tkhd', where);
    const mdhd = path(buf, trak, ['mdia', 'mdhd'], where);
    const hdlr = path(buf, trak, ['mdia', 'hdlr'], where);
    if (!tkhd || !mdhd || !hdlr) throw new SegmentRejected(`${where}: track without tkhd/mdhd/hdlr`);
    const trackId = view.getUint32(tkhd.body + ((buf[tkhd.body] ?? 0) === 1 ? 20 : 12));
    const timescale = view.getUint32(mdhd.body + ((buf[mdhd.body] ?? 0) === 1 ? 20 : 12));
    const handler = String.fromCharCode(...buf.subarray(hdlr.body + 8, hdlr.body + 12));
    const stsd = path(buf, trak, ['mdia', 'minf', 'stbl', 'stsd'], where);
    const kind = handler === 'vide' ? 'video' : handler === 'soun' ? 'audio' : 'other';
    const codec = stsd ? sampleEntryCodec(buf, stsd) : undefined;
    tracks.set(trackId, { timescale, kind, codec, defaultSampleDuration: 0, defaultSampleFlags: 0 });
  }
  const mvex = inMoov.find((b) => b.type === 'mvex');
  for (const trex of mvex ? readBoxes(buf, mvex.body, mvex.end, where).filter((b) => b.type === 'trex') : []) {
    const t = tracks.get(view.getUint32(trex.body + 4));
    if (t) {
      t.defaultSampleDuration = view.getUint32(trex.body + 12);
      t.defaultSampleFlags = view.getUint32(trex.body + 20);
    }
  }
  if (tracks.size === 0) throw new SegmentRejected(`${where}: no tracks`);
  return { tracks };
}

function sampleEntryCodec(buf: Uint8Array, stsd: Box): string | undefined {
  // stsd: fullbox header (4) + entry count (4), then sample entries.
  const entries = readBoxes(buf, stsd.body + 8, stsd.end, 'init segment');
  const entry = entries[0];
  if (!entry) return undefined;
  const find = (type: string): number => {
    for (let i = entry.body; i + 8 <= entry.end; i++) {
      if (buf[i] === type.charCodeAt(0) && buf[i + 1] === type.charCodeAt(1)
        && buf[i + 2] === type.charCodeAt(2) && buf[i + 3] === type.charCodeAt(3)) return i + 4;
    }
    return -1;
  };
  if (entry.type === 'avc1' || entry.type === 'avc3') {
    const c = find('avcC');
    return c < 0 ? undefined : avcCodec(buf[c + 1] ?? 0, buf[c + 2] ?? 0, buf[c + 3] ?? 0);
  }
  if (entry.type === 'hvc1' || entry.type === 'hev1') {
    const c = find('hvcC');
    // The hvcC's 12 profile/tier/level bytes after its version byte: the same layout as in an SPS.
    return c < 0 ? undefined : hevcCodecFromPtl(buf.subarray(c + 1, c + 13));
  }
  if (entry.type === 'mp4a') {
    const e = find('esds');
    if (e < 0) return 'mp4a.40.2';
    // Walk descriptors to DecoderSpecificInfo (tag 5); its first 5 bits are the object type.
    for (let i = e + 4; i < entry.end - 1; i++) {
      if (buf[i] === 0x05) {
        let j = i + 1;
        while (((buf[j] ?? 0) & 0x80) !== 0) j++;
        return aacCodec((buf[j + 1] ?? 0) >> 3);
      }
    }
    return 'mp4a.40.2';
  }
  return entry.type;
}

const NON_SYNC = 0x00010000;

type TrackRun = { start: number; ticks: number; firstFlags: number | undefined; frames: number };

export function inspectFmp4(buf: Uint8Array, init: InitMedia): SegmentMedia {
  return summariseFmp4(init, trackRuns(buf, init, 'fMP4 segment'));
}

/**
 * A partial segment (a low-latency stream's fragment): where it starts and how long it lasts, and
 * whether it starts with a keyframe (EXT-X-PART's INDEPENDENT; audio alone always does).
 */
export function inspectPart(buf: Uint8Array, init: InitMedia): { startTime: number; duration: number; independent: boolean } {
  const runs = trackRuns(buf, init, 'partial segment');
  const main = mainTracks(init);
  const acc = main.main ? runs.get(main.main.id) : undefined;
  if (!main.main || !acc || acc.frames === 0) throw new SegmentRejected('partial segment: no samples in the main track');
  const independent = !main.video || (acc.firstFlags !== undefined && (acc.firstFlags & NON_SYNC) === 0);
  return { startTime: acc.start / main.main.ts, duration: acc.ticks / main.main.ts, independent };
}

function trackRuns(buf: Uint8Array, init: InitMedia, where: string): Map<number, TrackRun> {
  if (buf.length === 0) throw new SegmentRejected(where === 'fMP4 segment' ? 'empty segment' : `empty ${where}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const top = readBoxes(buf, 0, buf.length, where);
  const moofs = top.filter((b) => b.type === 'moof');
  if (moofs.length === 0) throw new SegmentRejected(`${where}: no moof box`);
  if (!top.some((b) => b.type === 'mdat')) throw new SegmentRejected(`${where}: no mdat box`);
  const perTrack = new Map<number, TrackRun>();

  for (const moof of moofs) {
    for (const traf of readBoxes(buf, moof.body, moof.end, where).filter((b) => b.type === 'traf')) {
      const inTraf = readBoxes(buf, traf.body, traf.end, where);
      const tfhd = inTraf.find((b) => b.type === 'tfhd');
      if (!tfhd) throw new SegmentRejected(`${where}: traf without tfhd`);
      const tfFlags = view.getUint32(tfhd.body) & 0xffffff;
      const trackId = view.getUint32(tfhd.body + 4);
      const track = init.tracks.get(trackId);
      if (!track) throw new SegmentRejected(`${where}: track ${trackId} is not in the init segment (wrong init)`);
      let q = tfhd.body + 8;
      if (tfFlags & 0x01) q += 8;
      if (tfFlags & 0x02) q += 4;
      let defDuration = track.defaultSampleDuration;
      let defFlags = track.defaultSampleFlags;
      if (tfFlags & 0x08) { defDuration = view.getUint32(q); q += 4; }
      if (tfFlags & 0x10) q += 4;
      if (tfFlags & 0x20) defFlags = view.getUint32(q);
      const tfdt = inTraf.find((b) => b.type === 'tfdt');
      const base = !tfdt ? 0 : (buf[tfdt.body] ?? 0) === 1
        ? Number(view.getBigUint64(tfdt.body + 4)) : view.getUint32(tfdt.body + 4);
      const acc = perTrack.get(trackId) ?? { start: base, ticks: 0, firstFlags: undefined, frames: 0 };
      for (const trun of inTraf.filter((b) => b.type === 'trun')) {
        const flags = view.getUint32(trun.body) & 0xffffff;
        const count = view.getUint32(trun.body + 4);
        let r = trun.body + 8;
        if (flags & 0x01) r += 4;
        let firstFlags: number | undefined;
        if (flags & 0x04) { firstFlags = view.getUint32(r); r += 4; }
        const per = ((flags & 0x100) ? 4 : 0) + ((flags & 0x200) ? 4 : 0) + ((flags & 0x400) ? 4 : 0) + ((flags & 0x800) ? 4 : 0);
        if (r + per * count > trun.end) throw new SegmentRejected(`${where}: trun sample table runs past its box`);
        for (let i = 0; i < count; i++) {
          let s = r + per * i;
          let dur = defDuration;
          if (flags & 0x100) { dur = view.getUint32(s); s += 4; }
          if (flags & 0x200) s += 4;
          let sampleFlags = i === 0 && firstFlags !== undefined ? firstFlags : defFlags;
          if (flags & 0x400) { const f = view.getUint32(s); if (!(i === 0 && firstFlags !== undefined)) sampleFlags = f; }
          if (acc.frames === 0) acc.firstFlags = sampleFlags;
          acc.ticks += dur;
          acc.frames++;
        }
      }
      perTrack.set(trackId, acc);
    }
  }
  return perTrack;
}

type TrackRef = { id: number; ts: number };

/** The init's first video and audio tracks; the main one is the video where there is one. */
function mainTracks(init: InitMedia): { video?: TrackRef; audio?: TrackRef; main?: TrackRef } {
  let video: TrackRef | undefined;
  let audio: TrackRef | undefined;
  for (const [id, t] of init.tracks) {
    if (t.kind === 'video' && !video) video = { id, ts: t.timescale };
    if (t.kind === 'audio' && !audio) audio = { id, ts: t.timescale };
  }
  const main = video ?? audio;
  return { ...(video ? { video } : {}), ...(audio ? { audio } : {}), ...(main ? { main } : {}) };
}

function summariseFmp4(init: InitMedia, perTrack: Map<number, TrackRun>): SegmentMedia {
  const { video, audio, main } = mainTracks(init);
  const codecs: string[] = [];
  if (!main) throw new SegmentRejected('fMP4 segment: no audio or video track');
  const acc = perTrack.get(main.id);
  if (!acc || acc.frames === 0 || acc.ticks === 0) throw new SegmentRejected('fMP4 segment: no samples in the main track');
  if (video && acc.firstFlags !== undefined && (acc.firstFlags & NON_SYNC) !== 0) {
    throw new SegmentRejected('does not start with a keyframe');
  }
  const vc = video ? init.tracks.get(video.id)?.codec : undefined;
  const ac = audio ? init.tracks.get(audio.id)?.codec : undefined;
  if (vc) codecs.push(vc);
  if (ac) codecs.push(ac);
  const duration = acc.ticks / main.ts;
  return {
    container: 'fmp4', startTime: acc.start / main.ts, duration,
    hasVideo: !!video, hasAudio: !!audio, codecs,
    frameRate: video ? acc.frames / duration : undefined,
  };
}
