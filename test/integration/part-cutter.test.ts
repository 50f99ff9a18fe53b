import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ffmpegArgs, newSession } from '../../agent/encoder/args.js';
import { PART_TARGET_SECONDS } from '../../common/stream-settings.js';
import { INCOMING_DIR, PARTS_DIR, partName } from '../../packager/layout.js';
import { PartCutter } from '../../packager/parts/cutter.js';
import { PartStore, type LivePart } from '../../packager/parts/parts.js';
import { ffprobeDuration } from '../support/encode.js';
import { ffmpeg, tempDir, until } from '../support/run.js';

// The part cutter over what the encoder really writes for a low-latency rendition (ffmpegArgs with
// lowLatency: the segment muxer's growing fMP4 files and its csv list), fed to a watched parts/ dir
// a few KB at a time, as the encoder's writes reach the disk.

/** "Within a millisecond": the video's timescale counts 25 fps frames exactly. */
const MS = 0.001;
const WAIT_MS = 10_000;

interface Box { type: string; start: number; end: number }
function topBoxes(b: Buffer): Box[] {
  const out: Box[] = [];
  for (let p = 0; p + 8 <= b.length;) {
    const size = b.readUInt32BE(p);
    out.push({ type: b.toString('latin1', p + 4, p + 8), start: p, end: p + size });
    p += size;
  }
  return out;
}

/** One encoder segment file: its bytes, its top-level boxes, where its ftyp+moov end, its csv line after the name. */
interface Segment { bytes: Buffer; boxes: Box[]; initEnd: number; listed: string }
const mdats = (s: Segment): Box[] => s.boxes.filter((b) => b.type === 'mdat');

/** What the encoder wrote for one rendition, to be written again under any session name. */
async function encoded(dir: string, session: string): Promise<Segment[]> {
  const lines = (await fs.readFile(path.join(dir, `${session}.csv`), 'latin1')).split('\n').filter((l) => l !== '');
  return Promise.all(lines.map(async (line, n) => {
    const name = `${session}-${n}.mp4`;
    assert.ok(line.startsWith(`${name},`), `the encoder's list names ${name} on line ${n}: ${line}`);
    const bytes = await fs.readFile(path.join(dir, name));
    const boxes = topBoxes(bytes);
    const moov = boxes.find((b) => b.type === 'moov');
    assert.ok(moov, `${name} starts with its init (ftyp+moov)`);
    return { bytes, boxes, initEnd: moov.end, listed: line.slice(name.length) };
  }));
}

interface Rig {
  parts: string;
  incoming: string;
  cutter: PartCutter;
  store: PartStore;
  announced: Array<{ session: string; n: number; part: LivePart }>;
  completed: string[];
  logs: string[];
}

let source = '';
let video: Segment[] = [];
let audio: Segment[] = [];
const rigs: Array<{ dir: string; rig: Rig }> = [];
let encoding: Promise<void> | undefined;

/** Encodes once for every suite here: 4 s, two 2 s segments, of a 90p video and an audio rendition. */
function encodeOnce(): Promise<void> {
  encoding ??= (async () => {
    source = await tempDir('cutter-src');
    const session = 'src';
    // The agent makes the dirs the encoder writes to.
    for (const r of ['v', 'a']) await fs.mkdir(path.join(source, r, PARTS_DIR), { recursive: true });
    const res = await ffmpeg(ffmpegArgs({
      input: { kind: 'test-pattern', width: 160, height: 90, fps: 25, durationSeconds: 4 }, mode: 'transcode',
      renditions: [{ name: 'v', height: 90, videoKbps: 300 }, { name: 'a' }], format: 'fmp4', segmentSeconds: 2,
      session, streamDir: source, realtime: false, lowLatency: true,
    }));
    assert.equal(res.code, 0, `ffmpeg: ${res.stderr}`);
    video = await encoded(path.join(source, 'v', PARTS_DIR), session);
    audio = await encoded(path.join(source, 'a', PARTS_DIR), session);
    assert.ok(video.length >= 2 && audio.length >= 2, `two 2 s segments of each rendition (${video.length} video, ${audio.length} audio)`);
  })();
  return encoding;
}

after(async () => {
  if (source !== '') await fs.rm(source, { recursive: true, force: true });
});

async function closeRigs(): Promise<void> {
  for (const { dir, rig } of rigs.splice(0)) {
    await rig.cutter.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** A rendition's spool dir with a started cutter feeding a PartStore, as the stream packager wires them. */
async function rig(): Promise<Rig> {
  const dir = await tempDir('cutter');
  const incoming = path.join(dir, INCOMING_DIR);
  await fs.mkdir(incoming);
  const store = new PartStore(10);
  const announced: Rig['announced'] = [];
  const completed: string[] = [];
  const logs: string[] = [];
  const log = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _e, done) { logs.push(chunk.toString()); done(); } }));
  const cutter = new PartCutter({ dir: path.join(dir, PARTS_DIR), incomingDir: incoming, log,
    onPart: (session, n, part) => {
      announced.push({ session, n, part });
      store.add(session, n, part);
    },
    onSegment: (session, n) => {
      completed.push(`${session}-${n}`);
      store.complete(session, n);
    } });
  await cutter.start();
  const r: Rig = { parts: path.join(dir, PARTS_DIR), incoming, cutter, store, announced, completed, logs };
  rigs.push({ dir, rig: r });
  return r;
}

/** Appends `bytes` a few KB at a time, each write a separate change for the watcher. */
async function append(file: string, bytes: Buffer, chunk = 4096): Promise<void> {
  for (let at = 0; at < bytes.length; at += chunk) await fs.appendFile(file, bytes.subarray(at, at + chunk));
}

const partsOf = (r: Rig, session: string, n: number): LivePart[] =>
  r.announced.filter((a) => a.session === session && a.n === n).map((a) => a.part);
const exists = (file: string): Promise<boolean> => fs.access(file).then(() => true, () => false);
/** What the cutter logged as a warning or an error (pino's levels 40 and up). */
const problems = (r: Rig): string[] => r.logs.filter((l) => (JSON.parse(l) as { level: number }).level >= 40);

/**
 * The contract for a file with a broken box (its third fragment): the cutter logs it and lives on; the
 * parts before it are announced once each, and the segment made of that file is the parts announced
 * (a player that fetched them at the live edge gets the same bytes in the segment); the next file is cut.
 */
async function survives(r: Rig, s: string, broken: Buffer, firstWrite: number, reason: RegExp): Promise<void> {
  const seg = video[0] as Segment;
  const raw = path.join(r.parts, `${s}-0.mp4`);
  await fs.appendFile(raw, broken.subarray(0, firstWrite));
  await r.cutter.flush();
  await append(raw, broken.subarray(firstWrite));
  await r.cutter.flush();
  await fs.appendFile(path.join(r.parts, `${s}.csv`), `${s}-0.mp4${seg.listed}\n`);
  await until('the broken segment listed complete', () => r.completed.includes(`${s}-0`) || undefined, WAIT_MS);

  // Logged once, however many writes came after it (the box never becomes readable).
  assert.equal(r.logs.filter((l) => l.includes('unreadable box') && reason.test(l)).length, 1,
    `not one error logged for ${String(reason)}:\n${r.logs.join('')}`);
  const parts = partsOf(r, s, 0);
  assert.deepEqual(parts.map((p) => p.k), parts.map((_, k) => k), 'parts numbered 0, 1, ... without a hole or a repeat');
  const datas = parts.map((p) => p.data.toString('base64'));
  assert.equal(new Set(datas).size, datas.length, `a fragment announced twice (${parts.length} parts)`);
  assert.equal(r.store.of(s, 0)?.parts.length, parts.length);
  assert.ok(parts.length >= 2, `the two whole fragments before the broken box not kept (${parts.length} parts)`);
  assert.ok((await fs.readFile(path.join(r.incoming, `${s}-0.m4s`))).equals(Buffer.concat(parts.map((p) => p.data))),
    'the segment differs from the parts the live edge served');
  assert.equal(await exists(raw), false, 'the broken file is left in parts/');

  const next = video[1] as Segment;
  await append(path.join(r.parts, `${s}-1.mp4`), next.bytes);
  await fs.appendFile(path.join(r.parts, `${s}.csv`), `${s}-1.mp4${next.listed}\n`);
  await until('the next segment complete', () => r.completed.includes(`${s}-1`) || undefined, WAIT_MS);
  assert.ok((await fs.readFile(path.join(r.incoming, `${s}-1.m4s`))).equals(next.bytes.subarray(next.initEnd)),
    'the file after the broken one is not cut whole');
}

describe('part cutter (low latency): the encoder\'s growing fMP4 into parts', () => {
  before(encodeOnce);
  afterEach(closeRigs);

  it('cuts each fragment into a part as soon as its mdat is written, whole boxes only, in order, none longer than the 0.5 s '
    + 'part target; the init goes to incoming/ once its moov is written', async () => {
    const r = await rig();
    const s = newSession(1_700_000_000_000);
    const seg = video[0] as Segment;
    const raw = path.join(r.parts, `${s}-0.mp4`);
    const init = path.join(r.incoming, `${s}-init.mp4`);
    // Splits inside every box's size field, inside its type, in the middle of its body, and every 4 KB.
    const cuts = [...new Set([...seg.boxes.flatMap((b) => [b.start + 3, b.start + 6, Math.floor((b.start + b.end) / 2)]),
      ...Array.from({ length: Math.ceil(seg.bytes.length / 4096) }, (_, i) => (i + 1) * 4096), seg.bytes.length])]
      .filter((p) => p > 0 && p <= seg.bytes.length).sort((a, b) => a - b);
    let from = 0;
    for (const to of cuts) {
      await fs.appendFile(raw, seg.bytes.subarray(from, to));
      from = to;
      await r.cutter.flush();
      const whole = mdats(seg).filter((b) => b.end <= to).length;
      assert.equal(r.announced.length, whole, `with ${to} of ${seg.bytes.length} bytes written, ${whole} whole fragments: `
        + `a player would be offered ${r.announced.length} parts`);
      assert.equal(await exists(init), to >= seg.initEnd, `with ${to} bytes written (moov ends at ${seg.initEnd}): init in incoming/`);
    }

    const parts = partsOf(r, s, 0);
    assert.deepEqual(parts.map((p) => [p.name, p.k]), parts.map((_, k) => [partName(s, 0, k), k]), 'parts named and numbered in order');
    assert.ok(Buffer.concat(parts.map((p) => p.data)).equals(seg.bytes.subarray(seg.initEnd)),
      'the parts, back to back, are the encoder\'s file after its init: nothing lost, repeated or reordered');
    for (const p of parts) {
      assert.equal(topBoxes(p.data).map((b) => b.type).join('+'), 'moof+mdat', `${p.name} is one fragment`);
      assert.ok(p.durationUs > 0 && p.durationUs <= PART_TARGET_SECONDS * 1e6, `${p.name} lasts ${p.durationUs} µs, over the part target`);
    }
    const total = parts.reduce((t, p) => t + p.durationUs, 0) / 1e6;
    const probed = await ffprobeDuration(path.join(source, 'v', PARTS_DIR, 'src-0.mp4'));
    assert.ok(Math.abs(total - probed) < MS, `the parts last ${total} s, ffprobe reads ${probed} s in the encoder's segment`);
    assert.deepEqual(parts.map((p) => p.independent), parts.map((_, k) => k === 0),
      'only the first part starts with a keyframe (one GOP per 2 s segment): INDEPENDENT=YES on it alone');
    assert.ok((await fs.readFile(init)).equals(seg.bytes.subarray(0, seg.initEnd)), 'the init is the file\'s ftyp+moov');
    assert.equal(r.store.of(s, 0)?.parts.length, parts.length, 'the live edge holds every part');
    assert.equal(r.store.of(s, 0)?.complete, false, 'not listed by the encoder yet: the segment is still growing');
    assert.deepEqual(r.completed, []);
    assert.deepEqual(problems(r), [], 'a healthy file read in pieces logs no warning or error');
  });

  it('cuts an audio-only rendition too: every part independent, none over the part target', async () => {
    const r = await rig();
    const s = newSession(1_700_000_000_000);
    const seg = audio[0] as Segment;
    await append(path.join(r.parts, `${s}-0.mp4`), seg.bytes);
    await fs.appendFile(path.join(r.parts, `${s}.csv`), `${s}-0.mp4${seg.listed}\n`);
    await until('the audio segment complete', () => r.completed.includes(`${s}-0`) || undefined, WAIT_MS);
    const parts = partsOf(r, s, 0);
    assert.equal(parts.length, mdats(seg).length);
    assert.ok(parts.every((p) => p.independent), 'audio has no dependent frames: every part is INDEPENDENT');
    assert.ok(parts.every((p) => p.durationUs > 0 && p.durationUs <= PART_TARGET_SECONDS * 1e6),
      `part durations ${parts.map((p) => p.durationUs).join(', ')} µs`);
    assert.ok((await fs.readFile(path.join(r.incoming, `${s}-0.m4s`))).equals(seg.bytes.subarray(seg.initEnd)));
  });
});

describe('part cutter (low latency): segments the encoder lists as complete', () => {
  before(encodeOnce);
  afterEach(closeRigs);

  it('makes a segment the encoder lists in its csv, read as lines are appended, of its parts byte for byte, '
    + 'and writes the session\'s init once', async () => {
    const r = await rig();
    const s = newSession(1_700_000_000_000);
    const list = path.join(r.parts, `${s}.csv`);
    const init = path.join(r.incoming, `${s}-init.mp4`);
    let initIno: number | undefined;
    for (const [n, seg] of video.slice(0, 2).entries()) {
      const raw = path.join(r.parts, `${s}-${n}.mp4`);
      await append(raw, seg.bytes);
      await until(`the ${mdats(seg).length} parts of segment ${n}`, () => partsOf(r, s, n).length === mdats(seg).length || undefined,
        WAIT_MS);
      // The list's line arrives in two writes: half a line completes nothing.
      const line = `${s}-${n}.mp4${seg.listed}\n`;
      await fs.appendFile(list, line.slice(0, line.length - 6));
      await r.cutter.flush();
      assert.deepEqual(r.completed, video.slice(0, n).map((_, i) => `${s}-${i}`), `segment ${n} completed by half a line of the list`);
      assert.ok(await exists(raw), `the encoder's file ${s}-${n}.mp4 removed before its line was whole`);
      await fs.appendFile(list, line.slice(line.length - 6));
      await until(`segment ${n} complete`, () => r.completed.includes(`${s}-${n}`) || undefined, WAIT_MS);

      const m4s = await fs.readFile(path.join(r.incoming, `${s}-${n}.m4s`));
      const parts = partsOf(r, s, n);
      assert.ok(m4s.equals(Buffer.concat(parts.map((p) => p.data))), `incoming/${s}-${n}.m4s is not its parts back to back`);
      assert.ok(m4s.equals(seg.bytes.subarray(seg.initEnd)), `incoming/${s}-${n}.m4s is not the encoder's file after its init`);
      assert.equal(await exists(raw), false, `the encoder's file ${s}-${n}.mp4 is left in parts/`);
      assert.equal(r.store.of(s, n)?.complete, true, 'the live edge knows no part follows');
      const probed = await ffprobeDuration(path.join(r.incoming, `${s}-${n}.m4s`), init);
      const total = parts.reduce((t, p) => t + p.durationUs, 0) / 1e6;
      assert.ok(Math.abs(probed - total) < MS, `ffprobe reads ${probed} s in init + segment ${n}, its parts say ${total} s`);
      // Segment 1's file starts with an init too: it must not replace the one written with segment 0.
      initIno ??= (await fs.stat(init)).ino;
      assert.equal((await fs.stat(init)).ino, initIno, `the init written again from segment ${n}`);
    }
    assert.ok((await fs.readFile(init)).equals((video[0] as Segment).bytes.subarray(0, (video[0] as Segment).initEnd)));
    assert.deepEqual((await fs.readdir(r.incoming)).sort(), [`${s}-0.m4s`, `${s}-1.m4s`, `${s}-init.mp4`],
      'incoming/ holds the init and the two segments, nothing else (no temp file, no second init)');
    assert.deepEqual(problems(r), [], 'healthy files log no warning or error');
  });

  it('makes a file the encoder lists complete but whose last fragment is torn into its whole parts only', async () => {
    const r = await rig();
    const s = newSession(1_700_000_000_000);
    const seg = video[0] as Segment;
    const fourth = mdats(seg)[3] as Box;
    await append(path.join(r.parts, `${s}-0.mp4`), seg.bytes.subarray(0, fourth.start + 1000));
    await fs.appendFile(path.join(r.parts, `${s}.csv`), `${s}-0.mp4${seg.listed}\n`);
    await until('the torn segment complete', () => r.completed.includes(`${s}-0`) || undefined, WAIT_MS);
    const parts = partsOf(r, s, 0);
    assert.equal(parts.length, 3, 'the torn fourth fragment announced as a part');
    assert.ok((await fs.readFile(path.join(r.incoming, `${s}-0.m4s`))).equals(seg.bytes.subarray(seg.initEnd, (mdats(seg)[2] as Box).end)),
      'the segment is not its three whole fragments');
  });

  it('a new cutter over a spool a stopped one left (an agent restart) finishes what the list names, without writing the init again',
    async () => {
      const first = await rig();
      const s = newSession(1_700_000_000_000);
      const [seg0, seg1] = video as [Segment, Segment];
      await append(path.join(first.parts, `${s}-0.mp4`), seg0.bytes);
      await fs.appendFile(path.join(first.parts, `${s}.csv`), `${s}-0.mp4${seg0.listed}\n`);
      await until('segment 0 complete', () => first.completed.includes(`${s}-0`) || undefined, WAIT_MS);
      await first.cutter.close();
      // While no cutter runs, the encoder writes segment 1 whole and lists it.
      await fs.writeFile(path.join(first.parts, `${s}-1.mp4`), seg1.bytes);
      await fs.appendFile(path.join(first.parts, `${s}.csv`), `${s}-1.mp4${seg1.listed}\n`);
      const init = path.join(first.incoming, `${s}-init.mp4`);
      const ino = (await fs.stat(init)).ino;

      const second = new PartCutter({ dir: first.parts, incomingDir: first.incoming, log: pino({ level: 'silent' }),
        onPart: (session, n, part) => first.announced.push({ session, n, part }),
        onSegment: (session, n) => first.completed.push(`${session}-${n}`) });
      rigs.push({ dir: path.dirname(first.parts), rig: { ...first, cutter: second } });
      await second.start();
      await until('segment 1 complete', () => first.completed.includes(`${s}-1`) || undefined, WAIT_MS);
      assert.deepEqual(first.completed, [`${s}-0`, `${s}-1`], 'segment 0 (gone from parts/) completed again');
      assert.ok((await fs.readFile(path.join(first.incoming, `${s}-1.m4s`))).equals(seg1.bytes.subarray(seg1.initEnd)));
      assert.equal((await fs.stat(init)).ino, ino, 'the init written again from segment 1');
    });
});

describe('part cutter (low latency): a newer session, broken files', () => {
  before(encodeOnce);
  afterEach(closeRigs);

  it('drops an earlier session\'s unfinished file (its encoder died) once a newer session\'s file appears, and its list with it',
    async () => {
      const r = await rig();
      const old = newSession(1_700_000_000_000);
      const fresh = newSession(1_700_000_060_000);
      const [seg0, seg1] = video as [Segment, Segment];
      await append(path.join(r.parts, `${old}-0.mp4`), seg0.bytes);
      await fs.appendFile(path.join(r.parts, `${old}.csv`), `${old}-0.mp4${seg0.listed}\n`);
      await until('the old session\'s segment 0 complete', () => r.completed.includes(`${old}-0`) || undefined, WAIT_MS);
      // Its encoder dies in segment 1, in the middle of the third fragment.
      const torn = path.join(r.parts, `${old}-1.mp4`);
      const third = mdats(seg1)[2] as Box;
      await append(torn, seg1.bytes.subarray(0, Math.floor((third.start + third.end) / 2)));
      await until('two parts of the old session\'s segment 1', () => partsOf(r, old, 1).length === 2 || undefined, WAIT_MS);
      await r.cutter.flush();
      assert.ok(await exists(torn), 'the newest session\'s growing file was dropped');

      await append(path.join(r.parts, `${fresh}-0.mp4`), seg0.bytes);
      await until('the old session\'s unfinished file and its list gone from parts/', async () =>
        !(await exists(torn)) && !(await exists(path.join(r.parts, `${old}.csv`))) || undefined, WAIT_MS);
      await until('the new session\'s parts', () => partsOf(r, fresh, 0).length === mdats(seg0).length || undefined, WAIT_MS);
      await fs.appendFile(path.join(r.parts, `${fresh}.csv`), `${fresh}-0.mp4${seg0.listed}\n`);
      await until('the new session\'s segment 0 complete', () => r.completed.includes(`${fresh}-0`) || undefined, WAIT_MS);

      assert.deepEqual(r.completed, [`${old}-0`, `${fresh}-0`], 'the unfinished segment is never completed');
      assert.equal(r.store.of(old, 1)?.complete, false);
      assert.deepEqual((await fs.readdir(r.incoming)).sort(), [`${old}-0.m4s`, `${old}-init.mp4`, `${fresh}-0.m4s`, `${fresh}-init.mp4`],
        'incoming/ holds no half segment of the old session');
      assert.deepEqual(await fs.readdir(r.parts), [`${fresh}.csv`], 'parts/ holds the running session\'s list alone');
    });

  it('drops the empty list of an earlier session that died in its first segment once a newer session runs', async () => {
    const r = await rig();
    const old = newSession(1_700_000_000_000);
    const fresh = newSession(1_700_000_060_000);
    const [seg0] = video as [Segment];
    // Its encoder made its list and died in segment 0, before the first fragment.
    await fs.writeFile(path.join(r.parts, `${old}.csv`), '');
    await append(path.join(r.parts, `${old}-0.mp4`), seg0.bytes.subarray(0, seg0.initEnd));
    await r.cutter.flush();
    await append(path.join(r.parts, `${fresh}-0.mp4`), seg0.bytes);
    await until('the old session\'s file and its empty list gone', async () =>
      !(await exists(path.join(r.parts, `${old}-0.mp4`))) && !(await exists(path.join(r.parts, `${old}.csv`))) || undefined, WAIT_MS);
    assert.deepEqual(await fs.readdir(r.parts), [`${fresh}-0.mp4`]);
  });

  it('lives on past a box whose size field is broken (under 8 bytes): logged, no part announced twice, the next file cut',
    async () => {
      const r = await rig();
      const seg = video[0] as Segment;
      const broken = Buffer.from(seg.bytes);
      const third = seg.boxes.filter((b) => b.type === 'moof')[2] as Box;
      broken.writeUInt32BE(4, third.start);
      // The first write ends in the third moof: the read that cuts parts 0 and 1 also meets the broken box.
      await survives(r, newSession(1_700_000_000_000), broken, third.start + 100, /a box of 4 bytes/);
    });

  it('lives on past a fragment the inspector rejects (a track its init does not have): logged, no part announced twice, '
    + 'the next file cut', async () => {
    const r = await rig();
    const seg = video[0] as Segment;
    const broken = Buffer.from(seg.bytes);
    const third = seg.boxes.filter((b) => b.type === 'moof')[2] as Box;
    const tfhd = broken.indexOf('tfhd', third.start, 'latin1');
    assert.ok(tfhd > third.start && tfhd < third.end, 'a tfhd in the third moof');
    broken.writeUInt32BE(99, tfhd + 8);
    const thirdMdat = mdats(seg)[2] as Box;
    await survives(r, newSession(1_700_000_000_000), broken, thirdMdat.end + 100, /track 99 is not in the init segment/);
  });
});

describe('part store (low latency): the newest segments\' parts in memory', () => {
  const part = (session: string, n: number, k: number): LivePart => ({ name: partName(session, n, k), k, durationUs: 480_000,
    independent: k === 0, data: Buffer.from(`${session}.${n}.${k}`) });

  it('holds the newest `keep` segments: a part by its URI, a listed segment by its sequence number, an older one by neither', () => {
    const store = new PartStore(2);
    for (const n of [0, 1, 2]) {
      for (const k of [0, 1]) store.add('s1', n, part('s1', n, k));
      store.listed('s1', n, 100 + n);
    }
    assert.equal(store.part(partName('s1', 2, 1))?.data.toString(), 's1.2.1');
    assert.equal(store.ofSeq(101)?.n, 1);
    assert.equal(store.of('s1', 0), undefined, 'the oldest segment held beyond `keep`');
    assert.equal(store.ofSeq(100), undefined, 'an evicted segment still found by its sequence number');
    assert.equal(store.part(partName('s1', 0, 0)), undefined);
    assert.equal(store.part('part_s1_2_x.m4s'), undefined, 'a name that is no part\'s');
  });

  it('takes a segment\'s parts in order only: a repeat or a part past a hole is ignored', () => {
    const store = new PartStore(4);
    store.add('s1', 0, part('s1', 0, 0));
    store.add('s1', 0, part('s1', 0, 0));
    store.add('s1', 0, part('s1', 0, 2));
    store.add('s1', 0, part('s1', 0, 1));
    assert.deepEqual(store.of('s1', 0)?.parts.map((p) => p.k), [0, 1]);
    assert.equal(store.of('s1', 0)?.complete, false);
    store.complete('s1', 0);
    assert.equal(store.of('s1', 0)?.complete, true);
  });
});
