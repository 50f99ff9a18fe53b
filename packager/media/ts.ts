// MPEG-TS segment inspection: structure (sync bytes, PAT/PMT), first frame a keyframe,
// exact duration from PES timestamps, codec strings from the parameter sets.
import { aacCodec, avcCodec, forEachNal, hevcCodecFromPtl, rbspOf } from './codecs.js';
import { SegmentRejected, type SegmentMedia } from './types.js';

const PACKET = 188;
const CLOCK = 90_000;
const PTS_WRAP = 2 ** 33;

const STREAM_H264 = 0x1b;
const STREAM_HEVC = 0x24;
const STREAM_AAC = 0x0f;
const AUDIO_TYPES = new Set([STREAM_AAC, 0x03, 0x04, 0x81, 0x87]);

interface TrackState {
  type: number;
  video: boolean;
  ptsList: number[];
  /** Payload chunks of the PES being collected: only those whose bytes are looked at. */
  chunks: Uint8Array[] | undefined;
  /** First PES payload of the track, kept to check the keyframe and read parameter sets. */
  first: Uint8Array | undefined;
  /** Count every ADTS frame (audio-only streams take their duration from them). */
  countFrames: boolean;
  audioSamples: number;
  audioRate: number;
  audioObjectType: number;
}

/**
 * Walks the packets by offset: only PES headers are read for timestamps; payload bytes are
 * gathered just for the first video access unit and for AAC frames when they are needed.
 */
export function inspectTs(buf: Uint8Array): SegmentMedia {
  if (buf.length === 0) throw new SegmentRejected('empty segment');
  if (buf.length % PACKET !== 0) {
    throw new SegmentRejected(`truncated: ${buf.length} bytes is not a whole number of 188-byte TS packets`);
  }
  let pmtPid: number | undefined;
  const tracks = new Map<number, TrackState>();

  for (let off = 0; off < buf.length; off += PACKET) {
    if (buf[off] !== 0x47) throw new SegmentRejected(`lost TS sync at byte ${off}`);
    const b1 = buf[off + 1] ?? 0;
    const pusi = (b1 & 0x40) !== 0;
    const pid = ((b1 & 0x1f) << 8) | (buf[off + 2] ?? 0);
    const afc = ((buf[off + 3] ?? 0) >> 4) & 0x3;
    let p = off + 4;
    if (afc === 2 || afc === 3) p += 1 + (buf[off + 4] ?? 0);
    const end = off + PACKET;
    if (afc === 0 || afc === 2 || p >= end) continue;

    if (pid === 0) {
      if (pusi) pmtPid = parsePat(buf.subarray(p, end)) ?? pmtPid;
    } else if (pid === pmtPid) {
      if (pusi && tracks.size === 0) parsePmt(buf.subarray(p, end), tracks);
    } else {
      const track = tracks.get(pid);
      if (track) feedPes(track, pusi, buf, p, end);
    }
  }
  if (pmtPid === undefined) throw new SegmentRejected('no PAT: not a self-contained TS segment');
  if (tracks.size === 0) throw new SegmentRejected('no PMT with elementary streams');
  for (const t of tracks.values()) finishPes(t);
  return summarise(tracks);
}

function parsePat(p: Uint8Array): number | undefined {
  const s = 1 + (p[0] ?? 0);
  if (p[s] !== 0x00) return undefined;
  const sectionLength = (((p[s + 1] ?? 0) & 0x0f) << 8) | (p[s + 2] ?? 0);
  const end = Math.min(p.length, s + 3 + sectionLength - 4);
  for (let i = s + 8; i + 4 <= end; i += 4) {
    const program = ((p[i] ?? 0) << 8) | (p[i + 1] ?? 0);
    if (program !== 0) return (((p[i + 2] ?? 0) & 0x1f) << 8) | (p[i + 3] ?? 0);
  }
  return undefined;
}

function parsePmt(p: Uint8Array, tracks: Map<number, TrackState>): void {
  const s = 1 + (p[0] ?? 0);
  if (p[s] !== 0x02) return;
  const sectionLength = (((p[s + 1] ?? 0) & 0x0f) << 8) | (p[s + 2] ?? 0);
  const end = Math.min(p.length, s + 3 + sectionLength - 4);
  const infoLength = (((p[s + 10] ?? 0) & 0x0f) << 8) | (p[s + 11] ?? 0);
  const found: Array<[number, number]> = [];
  for (let i = s + 12 + infoLength; i + 5 <= end;) {
    const type = p[i] ?? 0;
    const pid = (((p[i + 1] ?? 0) & 0x1f) << 8) | (p[i + 2] ?? 0);
    const esInfo = (((p[i + 3] ?? 0) & 0x0f) << 8) | (p[i + 4] ?? 0);
    found.push([pid, type]);
    i += 5 + esInfo;
  }
  const hasVideo = found.some(([, type]) => type === STREAM_H264 || type === STREAM_HEVC);
  for (const [pid, type] of found) {
    tracks.set(pid, { type, video: type === STREAM_H264 || type === STREAM_HEVC, ptsList: [], chunks: undefined, first: undefined,
      countFrames: !hasVideo && type === STREAM_AAC, audioSamples: 0, audioRate: 0, audioObjectType: 0 });
  }
}

/** The payload of this PES is looked at: the first of each track, every AAC one of an audio-only stream. */
function wanted(t: TrackState): boolean {
  return t.first === undefined || t.countFrames;
}

function feedPes(t: TrackState, pusi: boolean, buf: Uint8Array, p: number, end: number): void {
  if (pusi) {
    finishPes(t);
    if (buf[p] !== 0 || buf[p + 1] !== 0 || buf[p + 2] !== 1) {
      throw new SegmentRejected('PES start code missing');
    }
    const flags = buf[p + 7] ?? 0;
    const headerLength = buf[p + 8] ?? 0;
    if ((flags & 0x80) !== 0) t.ptsList.push(readPts(buf, p + 9));
    if (wanted(t)) t.chunks = [buf.subarray(Math.min(end, p + 9 + headerLength), end)];
  } else if (t.chunks) {
    t.chunks.push(buf.subarray(p, end));
  }
}

function finishPes(t: TrackState): void {
  const chunks = t.chunks;
  if (!chunks) return;
  t.chunks = undefined;
  const data = chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
  if (t.first === undefined) t.first = data;
  if (t.type === STREAM_AAC) countAdts(t, data);
}

function countAdts(t: TrackState, data: Uint8Array): void {
  const rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
  for (let i = 0; i + 7 <= data.length;) {
    if (data[i] !== 0xff || ((data[i + 1] ?? 0) & 0xf0) !== 0xf0) break;
    const b2 = data[i + 2] ?? 0;
    t.audioObjectType = ((b2 >> 6) & 0x3) + 1;
    t.audioRate = rates[(b2 >> 2) & 0xf] ?? 0;
    const frameLength = (((data[i + 3] ?? 0) & 0x3) << 11) | ((data[i + 4] ?? 0) << 3) | ((data[i + 5] ?? 0) >> 5);
    const frames = ((data[i + 6] ?? 0) & 0x3) + 1;
    t.audioSamples += 1024 * frames;
    if (frameLength < 7) break;
    i += frameLength;
  }
}

function readPts(p: Uint8Array, i: number): number {
  const a = p[i] ?? 0, b = p[i + 1] ?? 0, c = p[i + 2] ?? 0, d = p[i + 3] ?? 0, e = p[i + 4] ?? 0;
  return ((a >> 1) & 0x07) * 2 ** 30 + ((b << 7) | (c >> 1)) * 2 ** 15 + ((d << 7) | (e >> 1));
}

/** Unwraps 33-bit timestamps relative to the first one so a wrap inside a segment is harmless. */
function unwrap(list: number[]): number[] {
  const first = list[0] ?? 0;
  return list.map((v) => {
    let d = v - first;
    if (d < -PTS_WRAP / 2) d += PTS_WRAP;
    else if (d > PTS_WRAP / 2) d -= PTS_WRAP;
    return first + d;
  });
}

function medianStep(sorted: number[]): number {
  const steps: number[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const s = (sorted[i] ?? 0) - (sorted[i - 1] ?? 0);
    if (s > 0) steps.push(s);
  }
  steps.sort((a, b) => a - b);
  return steps[Math.floor(steps.length / 2)] ?? 0;
}

function summarise(tracks: Map<number, TrackState>): SegmentMedia {
  const all = [...tracks.values()];
  const video = all.find((t) => t.type === STREAM_H264 || t.type === STREAM_HEVC);
  const audio = all.find((t) => AUDIO_TYPES.has(t.type));
  const codecs: string[] = [];
  let duration: number;
  let startTime: number;
  let frameRate: number | undefined;

  if (video) {
    if (video.ptsList.length === 0 || !video.first) throw new SegmentRejected('video stream has no frames');
    const hevc = video.type === STREAM_HEVC;
    const { keyframe, codec } = scanFirstAccessUnit(video.first, hevc);
    if (!keyframe) throw new SegmentRejected('does not start with a keyframe');
    if (codec) codecs.push(codec);
    const pts = unwrap(video.ptsList).sort((a, b) => a - b);
    const step = medianStep(pts);
    const first = pts[0] ?? 0;
    duration = ((pts[pts.length - 1] ?? first) - first + step) / CLOCK;
    startTime = first / CLOCK;
    frameRate = step > 0 ? CLOCK / step : undefined;
  } else if (audio) {
    if (audio.ptsList.length === 0) throw new SegmentRejected('audio stream has no frames');
    const pts = unwrap(audio.ptsList);
    startTime = (pts[0] ?? 0) / CLOCK;
    duration = audio.audioRate > 0 ? audio.audioSamples / audio.audioRate
      : ((pts[pts.length - 1] ?? 0) - (pts[0] ?? 0) + medianStep(pts)) / CLOCK;
  } else {
    throw new SegmentRejected('no audio or video elementary stream in the PMT');
  }
  if (audio && audio.type === STREAM_AAC && audio.audioObjectType > 0) codecs.push(aacCodec(audio.audioObjectType));
  if (!(duration > 0)) throw new SegmentRejected('zero duration');
  return { container: 'ts', startTime, duration, hasVideo: !!video, hasAudio: !!audio, codecs, frameRate };
}

function scanFirstAccessUnit(data: Uint8Array, hevc: boolean): { keyframe: boolean; codec: string | undefined } {
  let keyframe = false;
  let codec: string | undefined;
  // Parameter sets come before the first slice; the slice's type says keyframe or not, and the
  // scan stops there instead of walking the frame's data.
  forEachNal(data, hevc, (type, at) => {
    if (!hevc) {
      if (type === 7 && codec === undefined) codec = avcCodec(data[at + 1] ?? 0, data[at + 2] ?? 0, data[at + 3] ?? 0);
      if (type === 5) keyframe = true;
      if (type >= 1 && type <= 5) return true;
    } else {
      if (type === 33 && codec === undefined) codec = hevcFromSps(data, at);
      if (type >= 16 && type <= 21) keyframe = true;
      if (type < 32) return true;
    }
    return undefined;
  });
  return { keyframe, codec };
}

function hevcFromSps(d: Uint8Array, at: number): string | undefined {
  // After the NAL header (2 bytes): sps_video_parameter_set_id etc. (1 byte), then the general
  // profile_tier_level (12 bytes), whose runs of zero bytes carry emulation prevention bytes.
  const rbsp = rbspOf(d, at + 2, 13);
  return rbsp.length === 13 ? hevcCodecFromPtl(rbsp.subarray(1)) : undefined;
}
