import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hevcCodec } from '../../packager/media/codecs.js';
import { inspectInit, inspectSegment, SegmentRejected, type InitMedia } from '../../packager/media/inspect.js';
import { run } from '../support/run.js';

// The segment inspectors over real media (test/fixtures/segments, made by
// scripts/make-segment-corpus.sh), measured against ffprobe reading the same bytes, and over
// broken copies of it made here.

const CORPUS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/segments');
/** "Within a millisecond": timestamps are 90 kHz (TS) or the track's timescale (fMP4). */
const MS = 0.001;

interface Case { title: string; file: string; init?: string; video: 'h264' | 'hevc' | undefined }
const CASES: Case[] = [
  { title: 'H.264 + AAC TS from ffmpeg\'s hls muxer', file: 'h264-aac.ts', video: 'h264' },
  { title: 'HEVC + AAC TS (closed GOP, B-frames)', file: 'hevc-aac.ts', video: 'hevc' },
  { title: 'audio-only TS (AAC)', file: 'aac.ts', video: undefined },
  { title: 'nginx-rtmp\'s HLS fragment (audio ahead of the first video frame)', file: 'nginx-rtmp.ts', video: 'h264' },
  { title: 'fMP4 H.264 + AAC (one moof, two trafs)', file: 'fmp4-h264-aac.m4s', init: 'fmp4-h264-aac-init.mp4', video: 'h264' },
  { title: 'audio-only fMP4 (AAC)', file: 'fmp4-aac.m4s', init: 'fmp4-aac-init.mp4', video: undefined },
];

interface ProbeStream { index: number; codec_type: string; codec_name: string; profile?: string; level?: number; r_frame_rate?: string;
  time_base: string }
/** duration_time is absent where ffmpeg knows none (the first AAC packet after the priming samples of an fMP4). */
interface ProbePacket { stream_index: number; pts_time: string; duration_time?: string; flags: string }
interface Probe { format: { format_name: string; start_time: string }; streams: ProbeStream[]; packets: ProbePacket[] }

/** What ffprobe says of the stream the inspector measures (video when there is one, else audio). */
interface Measured { start: number; duration: number; firstFlags: string; stream: ProbeStream; probe: Probe }

let tmp = '';
const probes = new Map<string, Measured>();

async function ffprobe(file: string, mp4: boolean): Promise<Measured> {
  // The inspector reads fMP4 media time (tfdt, trun); ffmpeg's init segments carry an edit list
  // that shifts presentation by the audio's priming, which ffprobe applies unless told not to.
  const args = ['-v', 'error', ...(mp4 ? ['-ignore_editlist', '1'] : []), '-show_streams', '-show_packets', '-show_format',
    '-of', 'json', file];
  const res = await run('ffprobe', args);
  assert.equal(res.code, 0, `ffprobe ${file}: ${res.stderr}`);
  const probe = JSON.parse(res.stdout) as Probe;
  const stream = probe.streams.find((s) => s.codec_type === 'video') ?? probe.streams.find((s) => s.codec_type === 'audio');
  assert.ok(stream, `ffprobe finds no audio or video in ${file}`);
  const packets = probe.packets.filter((p) => p.stream_index === stream.index);
  const start = Math.min(...packets.map((p) => Number(p.pts_time)));
  const end = Math.max(...packets.map((p) => Number(p.pts_time) + Number(p.duration_time ?? 0)));
  return { start, duration: end - start, firstFlags: packets[0]?.flags ?? '', stream, probe };
}

async function read(name: string): Promise<Buffer> {
  return fs.readFile(path.join(CORPUS, name));
}

async function exists(name: string): Promise<boolean> {
  return fs.access(path.join(CORPUS, name)).then(() => true, () => false);
}

/** ffprobe reads an fMP4 segment after its init, as a player appends them. */
async function probeCase(c: Case): Promise<Measured> {
  if (!c.init) return ffprobe(path.join(CORPUS, c.file), false);
  const joined = path.join(tmp, `${c.file}.mp4`);
  await fs.writeFile(joined, Buffer.concat([await read(c.init), await read(c.file)]));
  return ffprobe(joined, true);
}

/** Asserts the inspector refuses `buf` with a SegmentRejected whose reason matches. */
function rejects(what: string, fn: () => unknown, reason: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SegmentRejected, `${what}: expected a SegmentRejected, got ${String(err)}`);
    assert.match(err.reason, reason, `${what}: the reason logged`);
    return true;
  }, `${what} was accepted: the packager would list it`);
}

// RFC 6381 from what ffprobe names: H.264 profile_idc, AAC audio object type.
const AVC_PROFILES: Record<string, number> = { 'Constrained Baseline': 66, Baseline: 66, Main: 77, Extended: 88, High: 100 };
const AAC_OBJECT_TYPES: Record<string, number> = { LC: 2, 'HE-AAC': 5, 'HE-AACv2': 29 };
/** HEVC general_profile_idc by ffprobe's profile name. */
const HEVC_PROFILES: Record<string, number> = { Main: 1, 'Main 10': 2, 'Main Still Picture': 3, Rext: 4 };
const hex2 = (n: number): string => n.toString(16).padStart(2, '0');
const rate = (r: string | undefined): number => {
  const [num, den] = (r ?? '0/1').split('/').map(Number);
  return (num ?? 0) / (den || 1);
};

// --- TS packet surgery -------------------------------------------------------------------
const PACKET = 188;
const pidOf = (b: Uint8Array, off: number): number => (((b[off + 1] ?? 0) & 0x1f) << 8) | (b[off + 2] ?? 0);
const pusiOf = (b: Uint8Array, off: number): boolean => ((b[off + 1] ?? 0) & 0x40) !== 0;
/** Offset of a packet's payload (after any adaptation field). */
function payloadOf(b: Uint8Array, off: number): number {
  const afc = ((b[off + 3] ?? 0) >> 4) & 0x3;
  return off + 4 + (afc === 2 || afc === 3 ? 1 + (b[off + 4] ?? 0) : 0);
}
function packetsOfPid(b: Uint8Array, pid: number): number[] {
  const out: number[] = [];
  for (let off = 0; off < b.length; off += PACKET) if (pidOf(b, off) === pid) out.push(off);
  return out;
}
/** Start of the section in the first packet of `pid` (after the pointer field). */
function sectionOf(b: Uint8Array, pid: number): number {
  const off = packetsOfPid(b, pid)[0];
  assert.ok(off !== undefined, `no packet of PID ${pid}`);
  const p = payloadOf(b, off);
  return p + 1 + (b[p] ?? 0);
}
/** PID of the PMT, from the PAT's first program. */
function pmtPidOf(b: Uint8Array): number {
  const s = sectionOf(b, 0);
  return (((b[s + 10] ?? 0) & 0x1f) << 8) | (b[s + 11] ?? 0);
}
/** PID of the H.264 stream (type 0x1b), from the PMT. */
function h264PidOf(b: Uint8Array): number {
  const s = sectionOf(b, pmtPidOf(b));
  const end = s + 3 + ((((b[s + 1] ?? 0) & 0x0f) << 8) | (b[s + 2] ?? 0)) - 4;
  for (let i = s + 12 + ((((b[s + 10] ?? 0) & 0x0f) << 8) | (b[s + 11] ?? 0)); i + 5 <= end;) {
    if (b[i] === 0x1b) return (((b[i + 1] ?? 0) & 0x1f) << 8) | (b[i + 2] ?? 0);
    i += 5 + ((((b[i + 3] ?? 0) & 0x0f) << 8) | (b[i + 4] ?? 0));
  }
  return assert.fail('no H.264 stream in the PMT');
}

// --- MP4 box surgery ---------------------------------------------------------------------
interface Box { type: string; start: number; end: number }
function boxes(b: Uint8Array, from: number, to: number): Box[] {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: Box[] = [];
  for (let p = from; p + 8 <= to;) {
    const size = view.getUint32(p);
    out.push({ type: String.fromCharCode(...b.subarray(p + 4, p + 8)), start: p, end: p + size });
    p += size;
  }
  return out;
}
function box(b: Uint8Array, types: string[], within?: Box): Box {
  let cur: Box | undefined = within;
  for (const t of types) {
    cur = boxes(b, cur ? cur.start + 8 : 0, cur ? cur.end : b.length).find((x) => x.type === t);
    assert.ok(cur, `the corpus file has no '${types.join('/')}' box`);
  }
  return cur as Box;
}
function setUint32(b: Uint8Array, at: number, v: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, v);
}

describe('segment inspection', () => {
  before(async function () {
    this.timeout(60_000);
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'dvr-inspect-'));
    for (const c of CASES) {
      if (await exists(c.file)) probes.set(c.file, await probeCase(c));
    }
    // A TS segment cut at a packet boundary, as ffprobe reads it.
    const whole = await read('h264-aac.ts');
    const cut = path.join(tmp, 'h264-aac-half.ts');
    await fs.writeFile(cut, whole.subarray(0, Math.floor(whole.length / 2 / PACKET) * PACKET));
    probes.set('h264-aac-half.ts', await ffprobe(cut, false));
    probes.set('mid-gop.ts', await ffprobe(path.join(CORPUS, 'mid-gop.ts'), false));
  });

  after(async () => {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  describe('real segments against ffprobe', () => {
    it('the corpus is small, and holds what the script says', async () => {
      const files = await fs.readdir(CORPUS);
      let bytes = 0;
      for (const f of files) bytes += (await fs.stat(path.join(CORPUS, f))).size;
      assert.ok(bytes < 300 * 1024, `test/fixtures/segments holds ${bytes} bytes`);
      for (const c of CASES.filter((x) => x.video !== 'hevc')) {
        assert.ok(files.includes(c.file), `${c.file} is missing: run scripts/make-segment-corpus.sh`);
      }
      assert.ok(files.includes('mid-gop.ts'));
    });

    for (const c of CASES) {
      describe(c.title, () => {
        let init: InitMedia | undefined;
        let probe: Measured;

        before(async function () {
          const found = probes.get(c.file);
          if (!found) this.skip(); // HEVC when the corpus was made without libx265
          probe = found as Measured;
          if (c.init) init = inspectInit(await read(c.init));
        });

        it('starts where ffprobe says its first frame is', async () => {
          const m = inspectSegment(await read(c.file), init);
          assert.ok(Math.abs(m.startTime - probe.start) <= MS,
            `inspector: first frame at ${m.startTime} s, ffprobe: ${probe.start} s (a hole would be misjudged by the difference)`);
          if (!c.video && !c.init) assert.ok(Math.abs(m.startTime - Number(probe.probe.format.start_time)) <= MS,
            'and where -show_format says it starts');
        });

        it('lasts as long as ffprobe\'s packets of the same track', async () => {
          const m = inspectSegment(await read(c.file), init);
          assert.ok(Math.abs(m.duration - probe.duration) <= MS,
            `inspector: ${m.duration} s, ffprobe: ${probe.duration} s (EXTINF and the window would be off by the difference)`);
        });

        it('names the container, the tracks and their codecs as RFC 6381 strings', async () => {
          const m = inspectSegment(await read(c.file), init);
          assert.equal(m.container, c.init ? 'fmp4' : 'ts');
          assert.match(probe.probe.format.format_name, c.init ? /mp4/ : /^mpegts$/);
          const types = new Set(probe.probe.streams.map((s) => s.codec_type));
          assert.equal(m.hasVideo, types.has('video'), 'has video');
          assert.equal(m.hasAudio, types.has('audio'), 'has audio');
          const expected: RegExp[] = [];
          const v = probe.probe.streams.find((s) => s.codec_type === 'video');
          if (v?.codec_name === 'h264') {
            const profile = AVC_PROFILES[v.profile ?? ''];
            assert.ok(profile !== undefined && v.level !== undefined, `ffprobe names profile ${v.profile}, level ${v.level}`);
            expected.push(new RegExp(`^avc1\\.${hex2(profile)}[0-9a-f]{2}${hex2(v.level)}$`));
          } else if (v?.codec_name === 'hevc') {
            // ffprobe's level is general_level_idc; the compatibility flags and constraint bytes it does not name.
            const profile = HEVC_PROFILES[v.profile ?? ''];
            assert.ok(profile !== undefined && v.level !== undefined, `ffprobe names profile ${v.profile}, level ${v.level}`);
            expected.push(new RegExp(`^hvc1\\.${profile}\\.[0-9a-f]{1,8}\\.L${v.level}(\\.[0-9A-Fa-f]{2}){0,6}$`));
          }
          const a = probe.probe.streams.find((s) => s.codec_type === 'audio');
          if (a) expected.push(new RegExp(`^mp4a\\.40\\.${AAC_OBJECT_TYPES[a.profile ?? ''] ?? 'unknown'}$`));
          assert.equal(m.codecs.length, expected.length, `codecs ${m.codecs.join(',')}: one per track, video first`);
          expected.forEach((re, i) => assert.match(m.codecs[i] ?? '', re, 'the CODECS a player checks before it plays'));
        });

        if (c.video === 'hevc') {
          it('reads the HEVC codec string from the SPS with its emulation prevention bytes removed', async () => {
            // The SPS of hevc-aac.ts (x265, Main, level 1) after its NAL header (42 01) and its first byte (01):
            //   01 | 60 00 00 [03] 00 | 90 00 00 [03] 00 00 [03] 00 | 1e
            // without the three emulation prevention bytes [03], the general profile_tier_level is
            //   profile_space 0, tier 0, profile_idc 1 | compatibility flags 60000000 (Main and Main 10,
            //   reversed: 6) | constraint bytes 90 00 00 00 00 00 (progressive, frame only) | level_idc 30,
            // the bytes ffmpeg also writes in the hvcC when it remuxes the file to MP4.
            // ISO/IEC 14496-15 E.3: hvc1.1.6.L30.90 (trailing zero constraint bytes left out).
            assert.deepEqual(inspectSegment(await read(c.file)).codecs, ['hvc1.1.6.L30.90', 'mp4a.40.2']);
          });
        }

        it('measures the frame rate of video, and none for audio only', async () => {
          const m = inspectSegment(await read(c.file), init);
          if (c.video) {
            assert.equal(probe.stream.codec_type, 'video');
            assert.ok(m.frameRate !== undefined && Math.abs(m.frameRate - rate(probe.stream.r_frame_rate)) < 0.01,
              `inspector: ${m.frameRate} fps, ffprobe: ${probe.stream.r_frame_rate}`);
            assert.match(probe.firstFlags, /^K/, 'ffprobe agrees the segment starts with a keyframe');
          } else {
            assert.equal(m.frameRate, undefined);
          }
        });

        if (c.init) {
          it('reads each track of the init segment as ffprobe does', async () => {
            const tracks = [...(init as InitMedia).tracks.values()];
            const streams = probe.probe.streams;
            assert.deepEqual(tracks.map((t) => t.kind), streams.map((s) => s.codec_type));
            assert.deepEqual(tracks.map((t) => `1/${t.timescale}`), streams.map((s) => s.time_base), 'track timescales');
            assert.deepEqual(tracks.map((t) => t.codec?.slice(0, 4)), streams.map((s) => (s.codec_name === 'h264' ? 'avc1' : 'mp4a')));
          });
        }
      });
    }

    it('refuses a segment that starts mid-GOP, which ffprobe cannot decode from its start either', async () => {
      const buf = await read('mid-gop.ts');
      const probe = probes.get('mid-gop.ts') as Measured;
      assert.doesNotMatch(probe.firstFlags, /^K/, 'the corpus file does start with a non-key frame');
      rejects('a segment starting mid-GOP', () => inspectSegment(buf), /does not start with a keyframe/);
    });
  });

  describe('truncated and corrupted TS', () => {
    let whole: Buffer;
    before(async () => {
      whole = await read('h264-aac.ts');
      assert.equal(whole.length % PACKET, 0);
    });
    const copy = (): Buffer => Buffer.from(whole);

    it('a TS cut at a packet boundary passes as a shorter segment, measured as ffprobe measures it', () => {
      const half = whole.subarray(0, Math.floor(whole.length / 2 / PACKET) * PACKET);
      const m = inspectSegment(half);
      const probe = probes.get('h264-aac-half.ts') as Measured;
      const full = inspectSegment(whole);
      // Nothing in TS marks the end of a segment: only rename-on-complete keeps half-written files out.
      assert.ok(m.duration < full.duration * 0.75, `half the packets measure ${m.duration} s of ${full.duration} s`);
      assert.ok(Math.abs(m.duration - probe.duration) <= MS, `inspector: ${m.duration} s, ffprobe: ${probe.duration} s`);
      assert.equal(m.startTime, full.startTime);
    });

    it('refuses a TS cut inside a packet', () => {
      for (const len of [Math.floor(whole.length / 2 / PACKET) * PACKET + PACKET / 2, whole.length - 1, PACKET + 1, 100]) {
        rejects(`the first ${len} bytes`, () => inspectSegment(whole.subarray(0, len)),
          new RegExp(`^truncated: ${len} bytes is not a whole number of 188-byte TS packets$`));
      }
    });

    it('refuses an empty file', () => {
      rejects('an empty file', () => inspectSegment(new Uint8Array(0)), /^empty segment$/);
    });

    it('refuses a packet without its sync byte, naming where', () => {
      for (const packet of [0, 10, whole.length / PACKET - 1]) {
        const bad = copy();
        bad[packet * PACKET] = 0x46;
        rejects(`a bad sync byte in packet ${packet}`, () => inspectSegment(bad), new RegExp(`^lost TS sync at byte ${packet * PACKET}$`));
      }
    });

    it('refuses a segment whose PAT is zeroed (no program to find the tracks by)', () => {
      const bad = copy();
      const pats = packetsOfPid(bad, 0);
      assert.ok(pats.length > 0);
      for (const off of pats) bad.fill(0, off + 4, off + PACKET);
      rejects('a zeroed PAT', () => inspectSegment(bad), /^no PAT: not a self-contained TS segment$/);
    });

    it('refuses a segment whose PMT is zeroed (no elementary streams)', () => {
      const bad = copy();
      for (const off of packetsOfPid(bad, pmtPidOf(bad))) bad.fill(0, off + 4, off + PACKET);
      rejects('a zeroed PMT', () => inspectSegment(bad), /^no PMT with elementary streams$/);
    });

    it('refuses a PES whose start code is damaged', () => {
      const bad = copy();
      const first = packetsOfPid(bad, h264PidOf(bad)).find((off) => pusiOf(bad, off));
      assert.ok(first !== undefined);
      bad[payloadOf(bad, first) + 2] = 0x02;
      rejects('a broken PES start code', () => inspectSegment(bad), /^PES start code missing$/);
    });

    it('refuses a segment whose first video frame is not a keyframe (its IDR NAL made a non-IDR slice)', () => {
      const bad = copy();
      const first = packetsOfPid(bad, h264PidOf(bad)).find((off) => pusiOf(bad, off)) as number;
      // In the first access unit, turn NAL type 5 (IDR slice) into 1 (non-IDR slice).
      for (let i = payloadOf(bad, first); i + 3 < first + PACKET; i++) {
        if (bad[i] === 0 && bad[i + 1] === 0 && bad[i + 2] === 1 && ((bad[i + 3] ?? 0) & 0x1f) === 5) {
          bad[i + 3] = ((bad[i + 3] ?? 0) & 0xe0) | 1;
          rejects('an access unit without IDR', () => inspectSegment(bad), /^does not start with a keyframe$/);
          return;
        }
      }
      assert.fail('no IDR NAL in the first video packet of the corpus file');
    });

    it('an audio-only TS cut mid-packet is refused too; one cut at a packet boundary lasts the ADTS frames it still holds', async () => {
      const aac = await read('aac.ts');
      rejects('half an audio segment', () => inspectSegment(aac.subarray(0, 1000)), /^truncated/);
      const full = inspectSegment(aac);
      const part = inspectSegment(aac.subarray(0, 10 * PACKET));
      assert.ok(part.duration > 0 && part.duration < full.duration, `${part.duration} s of ${full.duration} s`);
      assert.ok(Math.abs(part.duration * 48_000 / 1024 - Math.round(part.duration * 48_000 / 1024)) < 1e-6, 'a whole number of AAC frames');
    });
  });

  describe('truncated and corrupted fMP4', () => {
    let seg: Buffer;
    let init: InitMedia;
    let audioInit: InitMedia;
    let initBytes: Buffer;
    before(async () => {
      seg = await read('fmp4-h264-aac.m4s');
      initBytes = await read('fmp4-h264-aac-init.mp4');
      init = inspectInit(initBytes);
      audioInit = inspectInit(await read('fmp4-aac-init.mp4'));
    });

    it('refuses a segment cut in half: its mdat runs past the end', () => {
      const mdat = box(seg, ['mdat']);
      const half = Math.floor(seg.length / 2);
      assert.ok(mdat.start < half && half < mdat.end, 'the cut falls inside the mdat');
      rejects('half a segment', () => inspectSegment(seg.subarray(0, half), init),
        new RegExp(`^fMP4 segment: box 'mdat' at byte ${mdat.start} runs past the end \\(truncated\\)$`));
    });

    it('refuses a segment cut inside a box header', () => {
      const second = boxes(seg, 0, seg.length)[1] as Box;
      rejects('a cut box header', () => inspectSegment(seg.subarray(0, second.start + 4), init),
        new RegExp(`^fMP4 segment: truncated box header at byte ${second.start}$`));
    });

    it('refuses a box whose length runs past the end of the file', () => {
      const bad = Buffer.from(seg);
      const moof = box(bad, ['moof']);
      setUint32(bad, moof.start, bad.length);
      rejects('a moof longer than the file', () => inspectSegment(bad, init),
        new RegExp(`box 'moof' at byte ${moof.start} runs past the end`));
    });

    it('refuses a box whose length runs past the end of its parent', () => {
      const bad = Buffer.from(seg);
      const moof = box(bad, ['moof']);
      const traf = box(bad, ['traf'], moof);
      setUint32(bad, traf.start, moof.end - traf.start + 8);
      rejects('a traf longer than its moof', () => inspectSegment(bad, init),
        new RegExp(`box 'traf' at byte ${traf.start} runs past the end`));
    });

    it('refuses a box type that is not text', () => {
      const bad = Buffer.from(seg);
      bad.fill(0, 4, 8);
      rejects('a zeroed box type', () => inspectSegment(bad, init), /^fMP4 segment: garbage box type at byte 0$/);
    });

    it('refuses a segment whose first video sample is not a sync sample', () => {
      const bad = Buffer.from(seg);
      const trun = box(bad, ['moof', 'traf', 'trun']);
      const view = new DataView(bad.buffer, bad.byteOffset, bad.byteLength);
      const flags = view.getUint32(trun.start + 8) & 0xffffff;
      assert.ok(flags & 0x04, 'ffmpeg writes first_sample_flags in the video trun');
      const at = trun.start + 16 + (flags & 0x01 ? 4 : 0);
      setUint32(bad, at, view.getUint32(at) | 0x00010000);
      rejects('a fragment starting on a non-sync sample', () => inspectSegment(bad, init), /^does not start with a keyframe$/);
    });

    it('refuses a segment read with another stream\'s init', () => {
      rejects('video + audio fragments against an audio-only init', () => inspectSegment(seg, audioInit),
        /^fMP4 segment: track 2 is not in the init segment \(wrong init\)$/);
    });

    it('refuses a TS segment given an init instead of misreading it', async () => {
      const ts = await read('h264-aac.ts');
      rejects('TS bytes as fMP4', () => inspectSegment(ts, init), /^fMP4 segment: /);
    });

    it('refuses an empty segment', () => {
      rejects('an empty fMP4 segment', () => inspectSegment(new Uint8Array(0), init), /^empty segment$/);
    });

    it('refuses an init segment that is empty, truncated, or has no moov', () => {
      rejects('an empty init', () => inspectInit(new Uint8Array(0)), /^init segment: empty$/);
      const moov = box(initBytes, ['moov']);
      rejects('half an init', () => inspectInit(initBytes.subarray(0, Math.floor(initBytes.length / 2))),
        new RegExp(`^init segment: box 'moov' at byte ${moov.start} runs past the end \\(truncated\\)$`));
      rejects('an init of just its ftyp', () => inspectInit(initBytes.subarray(0, moov.start)), /^init segment: no moov box$/);
      rejects('a media segment as init', () => inspectInit(seg), /^init segment: no moov box$/);
    });
  });
});

describe('HEVC codec strings (ISO/IEC 14496-15 Annex E)', () => {
  it('writes the constraint indicator bytes, each as hex, leaving out the trailing zero ones', () => {
    // The Annex's own examples (there with hev1): Main profile, level 3.1, and a range-extensions
    // profile in profile space 1, high tier, level 4, with two constraint bytes.
    assert.equal(hevcCodec(0, 0, 1, 0x60000000, 93, [0xb0, 0, 0, 0, 0, 0]), 'hvc1.1.6.L93.B0');
    assert.equal(hevcCodec(1, 1, 4, 0x82000000, 120, [0xb0, 0x23, 0, 0, 0, 0]), 'hvc1.A4.41.H120.B0.23');
    assert.equal(hevcCodec(0, 0, 2, 0x20000000, 150, [0x90, 0, 0x01, 0, 0, 0]), 'hvc1.2.4.L150.90.00.01', 'inner zero bytes stay');
    assert.equal(hevcCodec(0, 0, 1, 0x60000000, 93, [0, 0, 0, 0, 0, 0]), 'hvc1.1.6.L93', 'no constraint flag set');
  });
});
