import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../common/log.js';
import type { Heartbeat } from '../../common/protocol.js';
import { Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import { parseTranscodeJob } from '../../common/job.js';
import { missingBefore, parsePlaylist, type ParsedSegment } from '../support/m3u8.js';
import { kill, publish, startOrigin, type Origin } from '../support/origin.js';
import { freePort, run, tempDir, until } from '../support/run.js';
import { patternJob } from '../support/jobs.js';
import { promtoolCheck } from '../support/promtool.js';

const agentBin = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../bin/dvr-agent.cjs');

async function playlist(root: string, stream: string, rendition = 'source'): Promise<ReturnType<typeof parsePlaylist> | undefined> {
  try {
    return parsePlaylist(await fs.readFile(path.join(root, 'live', stream, rendition, 'index.m3u8'), 'utf8'));
  } catch {
    return undefined;
  }
}

async function segmentsListed(root: string, stream: string, n: number, rendition = 'source',
  deadlineMs = 40_000): Promise<ParsedSegment[]> {
  return until(`${n} segments of ${stream}/${rendition}`, async () => {
    const p = await playlist(root, stream, rendition);
    // Media segments: gap entries list missing time.
    return p && p.segments.filter((s) => !s.gap).length >= n ? p.segments : undefined;
  }, deadlineMs, 100);
}

function config(root: string, over: Record<string, unknown>): ReturnType<typeof parseAgentConfig> {
  return parseAgentConfig({ nodeId: 'tc-test', storageRoot: root, encoder: { initialDelayMs: 300, maxDelayMs: 2000 }, ...over });
}

describe('transcoder agent', function () {
  this.timeout(180_000);
  let origin: Origin;
  before(async () => { origin = await startOrigin(); });
  after(async () => origin.stop());

  it('copy mode from an RTMP origin: a publisher restart is one discontinuity and no gap beyond the outage', async () => {
    const root = await tempDir('tc-copy');
    let publisher = publish(origin.rtmpUrl('cam1'));
    const agent = await Agent.start(config(root, { jobs: [{ app: 'live', stream: 'cam1', source: { url: origin.rtmpUrl('cam1') },
      mode: 'copy', segmentSeconds: 1, dvr: { windowSeconds: 0 } }] }), silentLogger());
    try {
      await segmentsListed(root, 'cam1', 4);
      // Copy-mode fMP4 is split (CMAF): the publisher's audio is a rendition of its own, grouped in the master.
      await segmentsListed(root, 'cam1', 4, 'audio');
      const master = await fs.readFile(path.join(root, 'live', 'cam1', 'master.m3u8'), 'utf8');
      assert.match(master, /^#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,URI="audio\/index\.m3u8"$/m);
      assert.match(master, /^#EXT-X-STREAM-INF:.*CODECS="avc1\.[0-9a-fA-F]+,mp4a\.40\.2".*AUDIO="audio"/m);
      const restartsBefore = agent.transcoder.source('live', 'cam1')?.restarts ?? 0;
      await kill(publisher);
      const killedAt = Date.now();
      await until('the agent to notice the source is gone',
        () => ((agent.transcoder.source('live', 'cam1')?.restarts ?? 0) > restartsBefore ? true : undefined), 20_000);
      // The outage under test lasts at least 4 s.
      await until('a 4 s outage', () => (Date.now() - killedAt >= 4000 ? true : undefined), 10_000, 100);
      const before = (await playlist(root, 'cam1'))?.segments.length ?? 0;
      publisher = publish(origin.rtmpUrl('cam1'));
      const restartedAt = Date.now();
      const segs = await segmentsListed(root, 'cam1', before + 4);
      const discs = segs.filter((s) => s.discontinuity);
      assert.equal(discs.length, 1, 'exactly one discontinuity');
      const at = segs.indexOf(discs[0] as ParsedSegment);
      assert.deepEqual(segs.map((s) => s.seq), segs.map((_s, i) => i), 'no segment lost or duplicated');
      const hole = missingBefore(segs, at);
      const outage = (restartedAt - killedAt) / 1000;
      assert.ok(hole.seconds >= outage - 1.5 && hole.seconds <= outage + 6,
        `the DVR misses ${hole.seconds.toFixed(1)} s over a ${outage.toFixed(1)} s outage`);
      assert.ok(Math.abs(hole.listedAsGaps - hole.seconds) < 0.1,
        `the missing time is listed as gap entries (${hole.listedAsGaps.toFixed(1)} of ${hole.seconds.toFixed(1)} s)`);
      const figures = agent.transcoder.figures()[0];
      assert.ok((figures?.segmentsWritten ?? 0) >= before + 4);
      assert.ok((figures?.restarts ?? 0) >= 1);
    } finally {
      await kill(publisher);
      await agent.close();
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it('an SRT listener takes a publisher directly', async () => {
    const root = await tempDir('tc-srt');
    const port = await freePort();
    const agent = await Agent.start(config(root, { jobs: [{ app: 'live', stream: 'srt1', source: { url: `srt://127.0.0.1:${port}?mode=listener` },
      mode: 'copy', segmentSeconds: 1 }] }), silentLogger());
    const publisher = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-f', 'mpegts', `srt://127.0.0.1:${port}?mode=caller`], { stdio: 'ignore' });
    try {
      const segs = await segmentsListed(root, 'srt1', 3);
      assert.ok(segs.every((s) => Math.abs(s.duration - 1) < 0.05), segs.map((s) => s.duration).join(','));
      // A video-only source in copy mode (fMP4, split into video and audio): the audio rendition is simply absent.
      const master = await fs.readFile(path.join(root, 'live', 'srt1', 'master.m3u8'), 'utf8');
      assert.doesNotMatch(master, /EXT-X-MEDIA:TYPE=AUDIO/);
      assert.deepEqual(parsePlaylist(master).variants.map((v) => v.uri), ['source/index.m3u8']);
      assert.equal(await playlist(root, 'srt1', 'audio'), undefined, 'no audio playlist');
    } finally {
      await kill(publisher);
      await agent.close();
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it('an ABR ladder with keyframes aligned across renditions', async () => {
    const root = await tempDir('tc-abr');
    const publisher = publish(origin.rtmpUrl('cam2'));
    const agent = await Agent.start(config(root, { jobs: [{ app: 'live', stream: 'cam2', source: { url: origin.rtmpUrl('cam2') },
      mode: 'transcode', format: 'fmp4', segmentSeconds: 1, ladder: [{ name: 'r360', height: 360, videoKbps: 600 },
        { name: 'r180', height: 180, videoKbps: 200 }, { name: 'audio' }] }] }), silentLogger());
    try {
      const hi = await segmentsListed(root, 'cam2', 5, 'r360');
      const lo = await segmentsListed(root, 'cam2', 5, 'r180');
      await segmentsListed(root, 'cam2', 5, 'audio');
      for (let i = 0; i < 4; i++) {
        assert.ok(Math.abs((hi[i]?.duration ?? 0) - (lo[i]?.duration ?? -1)) < 0.001,
          `segment ${i}: ${hi[i]?.duration} vs ${lo[i]?.duration}`);
      }
      const master = parsePlaylist(await fs.readFile(path.join(root, 'live', 'cam2', 'master.m3u8'), 'utf8'));
      assert.deepEqual(master.variants.map((v) => v.uri), ['r360/index.m3u8', 'r180/index.m3u8', 'audio/index.m3u8']);
      assert.equal(master.variants[0]?.attrs['RESOLUTION'], '640x360');
    } finally {
      await kill(publisher);
      await agent.close();
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it('new DVR settings for a running stream (a PATCH through the API) apply without restarting its encoder', async () => {
    const root = await tempDir('tc-patch');
    const job = { ...patternJob('patch'), dvr: { windowSeconds: 0 } };
    const agent = await Agent.start(config(root, { jobs: [job] }), silentLogger());
    try {
      const before = await segmentsListed(root, 'patch', 8);
      const source = agent.transcoder.source('live', 'patch') as unknown as { currentSession?: string; restarts: number };
      const session = source.currentSession;
      assert.ok(session);
      await agent.transcoder.reconcile([parseTranscodeJob({ ...job, dvr: { windowSeconds: 4, storageCapBytes: 50_000_000 } })]);
      const after = await until('the playlist to hold the 4 s window', async () => {
        const p = await playlist(root, 'patch');
        return p && p.segments.length > 0 && p.segments.length <= 5 ? p : undefined;
      }, 10_000, 100);
      assert.equal(agent.transcoder.source('live', 'patch'), source as never, 'the same source');
      assert.equal(source.currentSession, session, 'the same encoder session');
      assert.equal(source.restarts, 0);
      assert.ok((after.segments[0]?.seq ?? 0) > (before[0]?.seq ?? 0), 'the oldest segments left the window');
      assert.equal(after.segments.filter((s) => s.discontinuity).length, 0, 'no discontinuity');
      const state = JSON.parse(await fs.readFile(path.join(root, 'live', 'patch', 'stream.json'), 'utf8')) as
        { settings: { windowSeconds: number; storageCapBytes: number } };
      assert.deepEqual([state.settings.windowSeconds, state.settings.storageCapBytes], [4, 50_000_000], 'stream.json follows');
      await segmentsListed(root, 'patch', 1);
      const later = await until('more segments after the change', async () => {
        const p = await playlist(root, 'patch');
        return p && (p.segments.at(-1)?.seq ?? 0) >= (after.segments.at(-1)?.seq ?? 0) + 2 ? p : undefined;
      }, 10_000, 100);
      assert.ok(later.segments.length <= 5, `still the 4 s window: ${later.segments.length} segments`);
    } finally {
      await agent.close();
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it('after SIGKILL the agent comes back, adopts its encoder and continues without a discontinuity; SIGTERM stops cleanly', async () => {
    const root = await tempDir('tc-kill');
    const file = path.join(root, 'agent.json');
    const storage = path.join(root, 'media');
    await fs.writeFile(file, JSON.stringify({ nodeId: 'tc-kill', storageRoot: storage, jobs: [patternJob('pat')] }));
    const startAgent = async (): Promise<ReturnType<typeof spawn>> => {
      const proc = spawn(process.execPath, [agentBin, '--config', file], { stdio: ['ignore', 'pipe', 'ignore'] });
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => { if (l === 'ready') resolve(); });
        proc.once('exit', (c) => reject(new Error(`agent exited ${String(c)}`)));
      });
      return proc;
    };
    let proc = await startAgent();
    try {
      await segmentsListed(storage, 'pat', 3);
      const pidFile = JSON.parse(await fs.readFile(path.join(storage, '.state', 'live-pat.pid'), 'utf8')) as { pid: number };
      await kill(proc as never, 'SIGKILL');
      proc = await startAgent();
      const before = (await playlist(storage, 'pat'))?.segments.length ?? 0;
      const segs = await segmentsListed(storage, 'pat', before + 3);
      assert.deepEqual(segs.map((s) => s.seq), segs.map((_s, i) => i));
      assert.ok(segs.every((s) => !s.discontinuity), 'the adopted encoder continues the same session');
      const again = JSON.parse(await fs.readFile(path.join(storage, '.state', 'live-pat.pid'), 'utf8')) as { pid: number };
      assert.equal(again.pid, pidFile.pid, 'the same ffmpeg process');
      await kill(proc as never, 'SIGTERM');
      assert.equal(proc.exitCode, 0);
      const left = await run('pgrep', ['-f', storage]);
      assert.equal(left.stdout.trim(), '', 'SIGTERM stops the encoder too');
      const p = await playlist(storage, 'pat');
      assert.deepEqual(p?.segments.map((s) => s.seq), p?.segments.map((_s, i) => i));
    } finally {
      await kill(proc as never, 'SIGKILL');
      await run('pkill', ['-f', storage]);
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it('the shared storage unavailable for 20 s: segments spool locally and none is lost', async function () {
    const root = await tempDir('tc-nfs');
    const storage = path.join(root, 'shared');
    const spool = path.join(root, 'spool');
    const agent = await Agent.start(config(storage, { spoolRoot: spool,
      storage: { probeIntervalMs: 300, probeTimeoutMs: 2000, minFreeBytes: 0 }, jobs: [patternJob('out')] }), silentLogger());
    const lock = await run('chattr', ['-R', '+i', storage]);
    if (lock.code !== 0) {
      await agent.close();
      this.skip();
    }
    try {
      await until('the storage monitor to report the outage', () => (agent.storage.available ? undefined : true), 5000, 50);
      const listedAtOutage = (await playlist(storage, 'out'))?.segments.length ?? 0;
      await until('segments to pile up in the local spool', async () => {
        const files = await fs.readdir(path.join(spool, 'live', 'out', 'source', 'incoming'));
        return files.filter((f) => f.endsWith('.ts')).length >= 20 ? true : undefined;
      }, 30_000, 200);
      const body = await agent.heartbeatBody();
      assert.equal(body.storage.available, false);
      assert.match(body.storage.reason ?? '', /write probe failed|EPERM/);
    } finally {
      await run('chattr', ['-R', '-i', storage]);
    }
    try {
      await until('the storage to come back', () => (agent.storage.available ? true : undefined), 5000, 50);
      await until('the spool to drain', async () => {
        const files = await fs.readdir(path.join(spool, 'live', 'out', 'source', 'incoming'));
        return files.some((f) => f.endsWith('.ts')) ? undefined : true;
      }, 20_000, 100);
      const segs = (await segmentsListed(storage, 'out', 20));
      assert.deepEqual(segs.map((s) => s.seq), segs.map((_s, i) => i), 'listed in order, nothing lost');
      assert.ok(segs.every((s) => !s.discontinuity), 'the outage of the storage is not a hole in the media');
      const written = agent.transcoder.figures()[0]?.segmentsWritten ?? 0;
      assert.ok(segs.length >= written - 1, `${segs.length} listed of ${written} written`);
    } finally {
      await agent.close();
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it('runs the jobs the controller names in its heartbeat reply; one that cannot start or is invalid does not hold up the others; '
    + 'stops (ends) the ones it drops', async () => {
    const root = await tempDir('tc-jobs');
    // live/blocked cannot get its directory: a file is in the way.
    await fs.mkdir(path.join(root, 'live'), { recursive: true });
    await fs.writeFile(path.join(root, 'live', 'blocked'), '');
    let jobs: unknown[] = [patternJob('blocked'), patternJob('ctl')];
    let deleteRecordings: unknown[] | undefined;
    let purgeStreams: unknown[] | undefined;
    const controller = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end(JSON.stringify({ jobs, ...(deleteRecordings ? { deleteRecordings } : {}),
        ...(purgeStreams ? { purgeStreams } : {}) })));
    });
    // Ended events kept as versions by an earlier run (one of a packager before it noted their facts).
    await fs.mkdir(path.join(root, 'live', 'old', 'source'), { recursive: true });
    await fs.writeFile(path.join(root, 'live', 'old', 'source', '000000000_1_2000000_0_0.ts'), Buffer.alloc(1000));
    await fs.mkdir(path.join(root, 'live', 'old.0'), { recursive: true });
    const v0 = JSON.stringify({ status: 'ended', eventStartMs: 1_699_999_000_000, sessions: {}, settings: { windowSeconds: 60 },
      endedAt: 1_700_000_000_000, storedBytes: 4242 });
    await fs.writeFile(path.join(root, 'live', 'old.0', 'stream.json'), v0);
    await fs.mkdir(path.join(root, 'live', 'old.1', 'source'), { recursive: true });
    await fs.writeFile(path.join(root, 'live', 'old.1', 'source', 'x.ts'), Buffer.alloc(10));
    await fs.mkdir(path.join(root, 'live', 'aged.2', 'source'), { recursive: true });
    controller.listen(0, '127.0.0.1');
    await once(controller, 'listening');
    const agent = await Agent.start(config(root, { heartbeatSeconds: 1,
      controller: { url: `http://127.0.0.1:${(controller.address() as { port: number }).port}`, agentToken: 'agent-token-0123456789' } }), silentLogger());
    try {
      await segmentsListed(root, 'ctl', 2);
      const failed = (await agent.heartbeatBody()).failedJobs ?? [];
      assert.deepEqual(failed.map((f) => f.stream), ['live/blocked']);
      assert.match(failed[0]?.error ?? '', /live\/blocked/, 'the error names the stream and its path');
      await fs.rm(path.join(root, 'live', 'blocked'));
      await segmentsListed(root, 'blocked', 2);
      assert.equal((await agent.heartbeatBody()).failedJobs, undefined, 'retried with the next reply, and no longer reported');
      // An invalid job for a running stream is refused alone: the stream keeps its job, the others theirs.
      jobs = [patternJob('blocked'), { ...patternJob('ctl'), mode: 'copy', ladder: [{ name: 'a' }, { name: 'b' }] }];
      const refused = await until('the invalid job to be reported', async () => {
        const f = (await agent.heartbeatBody()).failedJobs ?? [];
        return f.length > 0 ? f : undefined;
      }, 10_000, 100);
      assert.deepEqual(refused.map((f) => f.stream), ['live/ctl']);
      assert.match(refused[0]?.error ?? '', /controller job \[1\]: \$\.ladder: copy mode takes exactly one rendition/);
      const listed = (await playlist(root, 'ctl'))?.segments.length ?? 0;
      await segmentsListed(root, 'ctl', listed + 2);
      assert.ok(agent.transcoder.has('live', 'ctl') && agent.transcoder.has('live', 'blocked'));
      assert.equal((await playlist(root, 'ctl'))?.endList, false, 'the live event goes on');
      assert.ok(((await agent.heartbeatBody()).streams.find((s) => s.stream === 'blocked')?.storedBytes ?? 0) > 0,
        'a stream\'s figures say what its media takes on the storage');
      jobs = [patternJob('blocked')];
      await until('the job to stop', () => (agent.transcoder.has('live', 'ctl') ? undefined : true), 15_000, 100);
      await until('the dropped job\'s event to end (ENDLIST)', async () =>
        ((await playlist(root, 'ctl'))?.endList ? true : undefined), 10_000, 100);
      assert.equal(await run('pgrep', ['-f', path.join(root, 'live', 'ctl')]).then((r) => r.stdout.trim()), '', 'its encoder is gone');
      // Its retention ran out: the controller asks for its media to go; the agent deletes it and says so.
      // A stream that runs here is not deleted, whatever the controller says.
      // (And a tombstone an interrupted deletion left behind goes too.)
      await fs.mkdir(path.join(root, 'live', '.deleting-old-1700000000000', 'source'), { recursive: true });
      deleteRecordings = [{ app: 'live', stream: 'ctl', endedAt: 1_800_000_000_000 }, { app: 'live', stream: 'blocked', endedAt: 1 }];
      await until('the ended event\'s directory to be deleted', async () =>
        (await fs.access(path.join(root, 'live', 'ctl')).then(() => undefined, () => true)), 10_000, 100);
      const body = await until('the deletion to be reported', async () => {
        const b = await agent.heartbeatBody();
        return b.deletedRecordings ? b : undefined;
      }, 10_000, 100);
      assert.deepEqual(body.deletedRecordings, [{ app: 'live', stream: 'ctl', endedAt: 1_800_000_000_000 }]);
      await fs.access(path.join(root, 'live', 'blocked', 'source', 'index.m3u8'));
      await until('the tombstone to go too', async () =>
        ((await fs.readdir(path.join(root, 'live'))).some((f) => f.startsWith('.deleting-')) ? undefined : true), 10_000, 100);

      // The versions on the storage were reported, with what each takes (its stream.json's facts, else its files).
      const versions = ((await agent.heartbeatBody()).versions ?? []).sort((a, b) => `${a.stream}.${a.version}`.localeCompare(
        `${b.stream}.${b.version}`));
      assert.deepEqual(versions.map((v) => [v.stream, v.version, v.bytes]), [['aged', 2, 0], ['old', 0, 4242], ['old', 1, 10]]);
      assert.equal(versions[1]?.endedAt, 1_700_000_000_000);
      // A version's retention ran out: that version goes, nothing else.
      deleteRecordings = [{ app: 'live', stream: 'aged', endedAt: versions[0]?.endedAt ?? 0, version: 2 }];
      await until('the version to be deleted', async () =>
        (await fs.access(path.join(root, 'live', 'aged.2')).then(() => undefined, () => true)), 10_000, 100);
      // A stream deleted with its media: its directory and every version, measured as they go.
      deleteRecordings = undefined;
      purgeStreams = [{ app: 'live', stream: 'old' }, { app: 'live', stream: 'blocked' }];
      const purged = await until('the purge to be reported', async () => (await agent.heartbeatBody()).purgedStreams, 10_000, 100);
      assert.deepEqual(purged, [{ app: 'live', stream: 'old', removed: ['live/old', 'live/old.0', 'live/old.1'],
        bytes: 1000 + Buffer.byteLength(v0) + 10 }]);
      assert.deepEqual((await fs.readdir(path.join(root, 'live'))).filter((d) => d.startsWith('old')), []);
      await fs.access(path.join(root, 'live', 'blocked', 'source', 'index.m3u8'));
    } finally {
      await agent.close();
      controller.close();
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it('a full disk is reported (storage state, heartbeat, metric) and segments wait in the spool', async () => {
    const root = await tempDir('tc-full');
    const agent = await Agent.start(config(path.join(root, 'shared'), { spoolRoot: path.join(root, 'spool'),
      storage: { minFreeBytes: Number.MAX_SAFE_INTEGER, probeIntervalMs: 300 },
      jobs: [patternJob('full')] }), silentLogger());
    try {
      assert.equal(agent.storage.available, false);
      assert.match(agent.storage.snapshot().reason ?? '', /disk full/);
      await until('segments waiting in the spool', async () => {
        const files = await fs.readdir(path.join(root, 'spool', 'live', 'full', 'source', 'incoming')).catch(() => [] as string[]);
        return files.filter((f) => f.endsWith('.ts')).length >= 2 ? true : undefined;
      }, 20_000, 100);
      assert.equal(await playlist(path.join(root, 'shared'), 'full'), undefined, 'nothing written to a full disk');
      assert.equal((await agent.heartbeatBody()).storage.available, false);
    } finally {
      await agent.close();
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it('heartbeats carry host and stream figures to the controller; /metrics exposes them', async () => {
    const root = await tempDir('tc-hb');
    const beats: Array<{ auth: string | undefined; body: Heartbeat; url: string }> = [];
    const controller = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        beats.push({ auth: req.headers.authorization, body: JSON.parse(body) as Heartbeat, url: req.url ?? '' });
        res.end('{}');
      });
    });
    controller.listen(0, '127.0.0.1');
    await once(controller, 'listening');
    const port = await freePort();
    const agent = await Agent.start(config(root, {
      controller: { url: `http://127.0.0.1:${(controller.address() as { port: number }).port}`, agentToken: 'agent-token-0123456789' },
      heartbeatSeconds: 1, metrics: { port, token: 'metrics-token-0123456789' },
      jobs: [patternJob('hb')] }), silentLogger());
    try {
      await segmentsListed(root, 'hb', 3);
      const beat = await until('a heartbeat with stream figures',
        () => beats.find((b) => (b.body.streams[0]?.segmentsWritten ?? 0) >= 2), 15_000, 100);
      assert.equal(beat.url, '/api/v1/nodes/tc-test/heartbeat');
      assert.equal(beat.auth, 'Bearer agent-token-0123456789');
      assert.ok(beat.body.system.memoryTotalBytes > 0 && beat.body.system.cpuLoadPercent >= 0);
      assert.ok((beat.body.system.storageFreeBytes ?? 0) > 0, 'disk free on the storage');
      assert.equal(beat.body.storage.available, true);
      const metricsUrl = `http://127.0.0.1:${port}/metrics`;
      assert.equal((await fetch(metricsUrl)).status, 401, 'metrics need the token when one is set');
      // The counter moves just after the playlist is written: read until it shows the 3 listed segments.
      const text = await until('dvr_segments_listed_total to count the listed segments', async () => {
        const t = await (await fetch(metricsUrl, { headers: { Authorization: 'Bearer metrics-token-0123456789' } })).text();
        const listed = /dvr_segments_listed_total\{stream="live\/hb",rendition="source"\} (\d+)/.exec(t);
        return Number(listed?.[1]) >= 3 ? t : undefined;
      }, 5_000, 100);
      assert.match(text, /dvr_storage_available 1/);
      assert.match(text, /dvr_encoder_restarts_total\{stream="live\/hb"\} 0/);
      assert.match(text, /^# TYPE dvr_segments_listed_total counter$/m, 'what only grows is a counter');
      assert.match(text, /^dvr_last_segment_latency_seconds\{stream="live\/hb",rendition="source"\} 0\.\d+$/m, 'in seconds');
      assert.equal(await promtoolCheck(text), '', 'promtool check metrics');
    } finally {
      await agent.close();
      controller.close();
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});
