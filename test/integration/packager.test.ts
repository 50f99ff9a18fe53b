import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../../common/log.js';
import { Packager } from '../../packager/packager.js';
import type { PackagerEvents } from '../../packager/events.js';
import { startEdge, type Edge } from '../support/edge.js';
import { drained, encode, ffprobeDuration, playAll, readText } from '../support/encode.js';
import { parsePlaylist } from '../support/m3u8.js';
import { run, tempDir } from '../support/run.js';

describe('packager with a real encoder', function () {
  this.timeout(120_000);
  let root: string;
  let edge: Edge;
  let packager: Packager;

  beforeEach(async () => {
    root = await tempDir('media');
    edge = await startEdge(root);
    packager = new Packager({ root, log: silentLogger() });
  });
  afterEach(async () => {
    await packager.close();
    await edge.stop();
    await fs.rm(root, { recursive: true, force: true });
  });

  it('TS, one rendition, unbounded window: exact durations, wall-clock time, playable end to end', async () => {
    const sp = await packager.addStream({ app: 'live', stream: 'ts1', renditions: ['src'], format: 'ts', windowSeconds: 0 });
    await encode({ streamDir: sp.paths.dir, session: 'sa', format: 'ts', renditions: [{ name: 'src', height: 360 }], seconds: 12 });
    await drained(sp);
    const p = parsePlaylist(await readText(path.join(sp.paths.dir, 'src', 'index.m3u8')));
    assert.equal(p.playlistType, 'EVENT');
    assert.equal(p.mediaSequence, 0);
    assert.equal(p.segments.length, 6);
    assert.equal(p.targetDuration, 2);
    assert.ok(p.segments[0]?.programDateTime, 'PROGRAM-DATE-TIME on the first segment');
    for (const s of p.segments) {
      const probed = await ffprobeDuration(path.join(sp.paths.dir, 'src', s.uri));
      assert.ok(Math.abs(probed - s.duration) < 0.010, `${s.uri}: EXTINF ${s.duration} vs ffprobe ${probed}`);
    }
    await sp.endEvent();
    const ended = parsePlaylist(await readText(path.join(sp.paths.dir, 'src', 'index.m3u8')));
    assert.ok(ended.endList);
    const played = await playAll(`${edge.url}/live/ts1/master.m3u8`);
    assert.equal(played.errors, '', 'ffmpeg decodes the whole window without errors');
    assert.equal(played.frames, 12 * 25);
  });

  it('fMP4, three renditions: master attributes from the media, EXT-X-MAP, DASH MPD, all playable', async () => {
    const renditions = [{ name: 'r360', height: 360, videoKbps: 800 }, { name: 'r180', height: 180, videoKbps: 300 }, { name: 'audio' }];
    const sp = await packager.addStream({ app: 'live', stream: 'abr', format: 'fmp4', windowSeconds: 0,
      renditions: renditions.map((r) => r.name) });
    const listed: Array<PackagerEvents['listed'][0]> = [];
    packager.events.on('listed', (e) => listed.push(e));
    await encode({ streamDir: sp.paths.dir, session: 'sb', format: 'fmp4', renditions, seconds: 8 });
    await drained(sp);
    await sp.endEvent();
    const master = parsePlaylist(await readText(path.join(sp.paths.dir, 'master.m3u8')));
    assert.deepEqual(master.variants.map((v) => v.uri), ['r360/index.m3u8', 'r180/index.m3u8', 'audio/index.m3u8']);
    const [hi, lo, audio] = master.variants.map((v) => v.attrs);
    assert.equal(hi?.['RESOLUTION'], '640x360');
    assert.equal(lo?.['RESOLUTION'], '320x180');
    assert.equal(audio?.['RESOLUTION'], undefined);
    assert.match(hi?.['CODECS'] ?? '', /^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/, 'video variants name the audio group codec too');
    assert.equal(hi?.['AUDIO'], 'audio');
    assert.equal(audio?.['CODECS'], 'mp4a.40.2');
    assert.equal(hi?.['FRAME-RATE'], '25.000');
    for (const v of [hi, lo, audio]) assert.ok(Number(v?.['BANDWIDTH']) >= Number(v?.['AVERAGE-BANDWIDTH'])
      && Number(v?.['AVERAGE-BANDWIDTH']) > 10_000);
    const files = await fs.readdir(path.join(sp.paths.dir, 'r360'));
    const sizes = await Promise.all(files.filter((f) => f.endsWith('.m4s'))
      .map(async (f) => (await fs.stat(path.join(sp.paths.dir, 'r360', f))).size));
    const avg = (sizes.reduce((a, b) => a + b, 0) * 8) / 8 + Number(audio?.['AVERAGE-BANDWIDTH']);
    assert.ok(Math.abs(Number(hi?.['AVERAGE-BANDWIDTH']) - avg) / avg < 0.05,
      `AVERAGE-BANDWIDTH ${hi?.['AVERAGE-BANDWIDTH']} vs measured ${avg}`);
    const media = parsePlaylist(await readText(path.join(sp.paths.dir, 'r360', 'index.m3u8')));
    assert.equal(media.segments[0]?.map, 'init_0.mp4');
    for (const s of media.segments.slice(0, 2)) {
      const probed = await ffprobeDuration(path.join(sp.paths.dir, 'r360', s.uri), path.join(sp.paths.dir, 'r360', 'init_0.mp4'));
      assert.ok(Math.abs(probed - s.duration) < 0.010, `${s.uri}: EXTINF ${s.duration} vs ffprobe ${probed}`);
    }
    assert.ok(listed.every((e) => e.latencyMs < 5_000));
    const hls = await playAll(`${edge.url}/live/abr/r360/index.m3u8`);
    assert.equal(hls.errors, '');
    assert.equal(hls.frames, 8 * 25);
    const mpd = await readText(path.join(sp.paths.dir, 'manifest.mpd'));
    assert.match(mpd, /type="static"/);
    const dash = await playAll(`${edge.url}/live/abr/manifest.mpd`);
    assert.equal(dash.errors, '');
    assert.equal(dash.frames, 8 * 25);
  });

  it('an encoder reconnect is one DISCONTINUITY; the DVR spans both sessions and plays through', async () => {
    const sp = await packager.addStream({ app: 'live', stream: 'rc', renditions: ['src'], format: 'ts', windowSeconds: 0 });
    await encode({ streamDir: sp.paths.dir, session: 'sone', format: 'ts', renditions: [{ name: 'src', height: 180 }], seconds: 6 });
    await drained(sp);
    await encode({ streamDir: sp.paths.dir, session: 'stwo', format: 'ts', renditions: [{ name: 'src', height: 180 }], seconds: 6 });
    await drained(sp);
    const p = parsePlaylist(await readText(path.join(sp.paths.dir, 'src', 'index.m3u8')));
    assert.equal(p.segments.length, 6);
    assert.deepEqual(p.segments.map((s) => s.discontinuity), [false, false, false, true, false, false]);
    assert.deepEqual(p.segments.map((s) => s.discSeq), [0, 0, 0, 1, 1, 1]);
    const before = p.segments[2];
    const after = p.segments[3];
    assert.ok(after?.programDateTime !== undefined && before !== undefined);
    assert.deepEqual(p.segments.map((s) => s.seq), [0, 1, 2, 3, 4, 5], 'sequence numbers continue across the reconnect');
    await sp.endEvent();
    const played = await playAll(`${edge.url}/live/rc/src/index.m3u8`);
    assert.equal(played.errors, '');
    assert.equal(played.frames, 12 * 25);
  });

  it('a sliding window purges late: nothing listed is missing, nothing expired stays', async () => {
    const sp = await packager.addStream({ app: 'live', stream: 'win', renditions: ['src'], format: 'ts', windowSeconds: 4,
      segmentSeconds: 1 });
    let purged = 0;
    packager.events.on('purged', (e) => { purged += e.count; });
    await encode({ streamDir: sp.paths.dir, session: 'sw', format: 'ts', renditions: [{ name: 'src', height: 180 }], seconds: 30,
      segmentSeconds: 1 });
    await drained(sp);
    const dir = path.join(sp.paths.dir, 'src');
    const p = parsePlaylist(await readText(path.join(dir, 'index.m3u8')));
    const listedSeconds = p.segments.reduce((a, s) => a + s.duration, 0);
    assert.ok(listedSeconds >= 4 && listedSeconds <= 5.01, `lists ${listedSeconds}s for a 4 s window`);
    assert.ok(p.mediaSequence > 20);
    const onDisk = (await fs.readdir(dir)).filter((f) => f.endsWith('.ts'));
    for (const s of p.segments) assert.ok(onDisk.includes(s.uri), `${s.uri} is listed but gone`);
    // Kept: the window (4 s) + RFC 8216 grace (duration + longest playlist, 4 s + 1 s) + the segment in flight.
    assert.ok(onDisk.length <= 12, `${onDisk.length} segments on disk`);
    assert.equal(purged + onDisk.length, 30);
    const oldestKept = Math.min(...onDisk.map((f) => Number(f.slice(0, 9))));
    assert.ok(p.mediaSequence - oldestKept >= 5, 'segments that left the window stay for the RFC 8216 grace');
  });

  it('a storage cap trims the oldest media first and says so in events and counters', async () => {
    const sp = await packager.addStream({ app: 'live', stream: 'cap', renditions: ['src'], format: 'ts', windowSeconds: 60,
      segmentSeconds: 1, storageCapBytes: 150_000 });
    const reasons = new Set<string>();
    packager.events.on('purged', (e) => reasons.add(e.reason));
    await encode({ streamDir: sp.paths.dir, session: 'sc', format: 'ts', renditions: [{ name: 'src', height: 180, videoKbps: 300 }],
      seconds: 20, segmentSeconds: 1 });
    await drained(sp);
    const dir = path.join(sp.paths.dir, 'src');
    const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.ts'));
    const sizes = await Promise.all(files.map(async (f) => (await fs.stat(path.join(dir, f))).size));
    const bytes = sizes.reduce((a, b) => a + b, 0);
    // The floor of 3 target durations may keep one segment more than the cap allows.
    assert.ok(bytes <= 150_000 + Math.max(...sizes), `${bytes} bytes on disk for a 150000-byte cap`);
    assert.ok(files.length < 10, `${files.length} segments kept of 20`);
    assert.ok(reasons.has('cap'));
    assert.ok((sp.counters()['src']?.capTrims ?? 0) > 0);
    const p = parsePlaylist(await readText(path.join(dir, 'index.m3u8')));
    for (const s of p.segments) assert.ok(files.includes(s.uri), `${s.uri} listed but deleted`);
    assert.ok(p.segments.reduce((a, s) => a + s.duration, 0) >= 3, 'never shorter than 3 target durations');
  });

  it('recording keeps the whole event and publishes it as VOD when it ends', async () => {
    const sp = await packager.addStream({ app: 'live', stream: 'rec', renditions: ['src'], format: 'ts', windowSeconds: 3,
      segmentSeconds: 1, recording: true });
    await encode({ streamDir: sp.paths.dir, session: 'sr', format: 'ts', renditions: [{ name: 'src', height: 180 }], seconds: 15,
      segmentSeconds: 1 });
    await drained(sp);
    const live = parsePlaylist(await readText(path.join(sp.paths.dir, 'src', 'index.m3u8')));
    assert.ok(live.mediaSequence > 5, 'the live playlist still slides');
    await sp.endEvent();
    const vod = parsePlaylist(await readText(path.join(sp.paths.dir, 'src', 'index.m3u8')));
    assert.equal(vod.playlistType, 'VOD');
    assert.ok(vod.endList);
    assert.equal(vod.mediaSequence, 0);
    assert.equal(vod.segments.length, 15);
    const played = await playAll(`${edge.url}/live/rec/src/index.m3u8`);
    assert.equal(played.errors, '');
    assert.equal(played.frames, 15 * 25);
  });

  for (const strategy of ['append', 'version', 'delete'] as const) {
    it(`re-publishing an ended event with archive strategy '${strategy}'`, async () => {
      const sp = await packager.addStream({ app: 'live', stream: 'arc', renditions: ['src'], format: 'ts', windowSeconds: 0,
        recording: true, archiveStrategy: strategy });
      await encode({ streamDir: sp.paths.dir, session: 'sfirst', format: 'ts', renditions: [{ name: 'src', height: 180 }], seconds: 4 });
      await drained(sp);
      await sp.endEvent();
      await encode({ streamDir: sp.paths.dir, session: 'ssecond', format: 'ts', renditions: [{ name: 'src', height: 180 }], seconds: 4 });
      await drained(sp);
      const p = parsePlaylist(await readText(path.join(sp.paths.dir, 'src', 'index.m3u8')));
      assert.equal(p.endList, false, 'live again');
      const onDisk = (await fs.readdir(path.join(sp.paths.dir, 'src'))).filter((f) => f.endsWith('.ts'));
      if (strategy === 'append') {
        assert.equal(p.segments.length, 4);
        assert.deepEqual(p.segments.map((s) => s.discontinuity), [false, false, true, false]);
        assert.equal(onDisk.length, 4);
      } else {
        assert.equal(p.segments.length, 2);
        assert.equal(p.segments[0]?.seq, 0);
        assert.equal(onDisk.length, 2);
      }
      const versioned = path.join(path.dirname(sp.paths.dir), 'arc.0');
      if (strategy === 'version') {
        const old = parsePlaylist(await readText(path.join(versioned, 'src', 'index.m3u8')));
        assert.equal(old.playlistType, 'VOD');
        assert.equal(old.segments.length, 2);
        const played = await playAll(`${edge.url}/live/arc.0/src/index.m3u8`);
        assert.equal(played.errors, '');
      } else {
        await assert.rejects(fs.stat(versioned));
      }
    });
  }

  it('rejects truncated, empty and garbage segments, keeps the playlist valid and marks the hole', async () => {
    const sp = await packager.addStream({ app: 'live', stream: 'bad', renditions: ['src'], format: 'ts', windowSeconds: 0 });
    const scratch = await tempDir('scratch');
    await fs.mkdir(path.join(scratch, 'src', 'incoming'), { recursive: true });
    await encode({ streamDir: scratch, session: 'sg', format: 'ts', renditions: [{ name: 'src', height: 180 }], seconds: 8 });
    const good = (n: number): Promise<Buffer> => fs.readFile(path.join(scratch, 'src', 'incoming', `sg-${n}.ts`));
    const rejected: Array<PackagerEvents['rejected'][0]> = [];
    packager.events.on('rejected', (e) => rejected.push(e));
    const incoming = path.join(sp.paths.dir, 'src', 'incoming');
    const drop = async (n: number, data: Buffer): Promise<void> => {
      await fs.writeFile(path.join(incoming, `.tmp-${n}`), data);
      await fs.rename(path.join(incoming, `.tmp-${n}`), path.join(incoming, `sg-${n}.ts`));
      await drained(sp);
    };
    await drop(0, await good(0));
    await drop(1, await good(1));
    const third = await good(2);
    await drop(2, third.subarray(0, third.length - 100));
    await drop(3, Buffer.alloc(0));
    await drop(4, Buffer.from('this is not a transport stream'.repeat(20)));
    await drop(5, await good(3));
    assert.deepEqual(rejected.map((r) => r.file), ['sg-2.ts', 'sg-3.ts', 'sg-4.ts']);
    assert.match(rejected[0]?.reason ?? '', /truncated/);
    assert.match(rejected[1]?.reason ?? '', /empty/);
    assert.equal(sp.counters()['src']?.segmentsRejected, 3);
    const p = parsePlaylist(await readText(path.join(sp.paths.dir, 'src', 'index.m3u8')));
    assert.equal(p.segments.length, 4);
    assert.deepEqual(p.segments.map((s) => s.discontinuity), [false, false, false, true], 'the hole is a discontinuity, not a silent jump');
    assert.deepEqual(p.segments.map((s) => s.gap), [false, false, true, false], 'the rejected segment\'s time is a gap entry');
    const [before, gap, after] = p.segments.slice(1);
    assert.ok(before && gap && after && Math.abs((gap.wallStart ?? 0) - ((before.wallStart ?? 0) + before.duration * 1000)) < 1
      && Math.abs((after.wallStart ?? 0) - ((gap.wallStart ?? 0) + gap.duration * 1000)) < 1, 'the wall-clock timeline is continuous');
    assert.ok(gap && Math.abs(gap.duration - 2) < 0.1, `the gap covers the missing segment (${gap?.duration} s)`);
    assert.deepEqual(await fs.readdir(incoming), []);
    // Restarted, the index is rebuilt from the directory: the gap entry with it (its empty marker file).
    const listing = await readText(path.join(sp.paths.dir, 'src', 'index.m3u8'));
    await packager.close();
    packager = new Packager({ root, log: silentLogger() });
    const again = await packager.addStream({ app: 'live', stream: 'bad', renditions: ['src'], format: 'ts', windowSeconds: 0 });
    await drained(again);
    assert.equal(await readText(path.join(again.paths.dir, 'src', 'index.m3u8')), listing, 'the same playlist after a restart');
    await fs.rm(scratch, { recursive: true, force: true });
  });

  it('reports an unwritable output directory clearly, keeps running and lists the segment once it is fixed', async function () {
    const blocked = path.join(root, 'not-a-dir');
    await fs.writeFile(blocked, 'x');
    const p2 = new Packager({ root: blocked, log: silentLogger() });
    await assert.rejects(p2.addStream({ app: 'live', stream: 'x' }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'DVR_ERR_OUTPUT_DIR');
      assert.match(err.message, /not-a-dir.*(ENOTDIR|EEXIST)/);
      return true;
    });
    await p2.close();

    const retrying = new Packager({ root, log: silentLogger(), retryDelayMs: 200 });
    const sp = await retrying.addStream({ app: 'live', stream: 'ro', renditions: ['src'], format: 'ts' });
    const dir = path.join(sp.paths.dir, 'src');
    const lock = await run('chattr', ['+i', dir]);
    if (lock.code !== 0) {
      await retrying.close();
      this.skip(); // this file system has no immutable flag
    }
    try {
      const problems: string[] = [];
      retrying.events.on('problem', (e) => problems.push(`${e.code} ${e.message}`));
      const listedOnce = new Promise((resolve) => retrying.events.once('listed', resolve));
      await encode({ streamDir: sp.paths.dir, session: 'sro', format: 'ts', renditions: [{ name: 'src', height: 180 }], seconds: 2 });
      const deadline = Date.now() + 10_000;
      while (problems.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.match(problems[0] ?? '', /DVR_ERR_OUTPUT_DIR .*live\/ro.*src.*(EPERM|EACCES)/);
      await run('chattr', ['-i', dir]);
      await listedOnce;
      await drained(sp);
      const p = parsePlaylist(await readText(path.join(dir, 'index.m3u8')));
      assert.equal(p.segments.length, 1);
    } finally {
      await run('chattr', ['-i', dir]);
      await retrying.close();
    }
  });
});
