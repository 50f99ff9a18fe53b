// Copy-mode ingest on a node that is origin and transcoder at once: the origin's nginx-rtmp
// segments, the agent takes its fragments (no ffmpeg puller). Real nginx-rtmp, real publishers.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../common/log.js';
import { Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import { playAll, ffprobeDuration } from '../support/encode.js';
import { missingBefore, parsePlaylist, type ParsedSegment } from '../support/m3u8.js';
import { kill, publish, startOrigin, type Origin } from '../support/origin.js';
import { run, tempDir, until } from '../support/run.js';

const agentBin = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../bin/dvr-agent.cjs');

async function listed(root: string, stream: string): Promise<ReturnType<typeof parsePlaylist> | undefined> {
  try {
    return parsePlaylist(await fs.readFile(path.join(root, 'live', stream, 'source', 'index.m3u8'), 'utf8'));
  } catch {
    return undefined;
  }
}

async function segmentsListed(root: string, stream: string, n: number, deadlineMs = 40_000): Promise<ParsedSegment[]> {
  return until(`${n} segments of ${stream}`, async () => {
    const p = await listed(root, stream);
    // Media segments: gap entries list missing time.
    return p && p.segments.filter((s) => !s.gap).length >= n ? p.segments : undefined;
  }, deadlineMs, 100);
}

/** The largest wall-clock gap between one segment's end and the next one's start, in seconds. */
function largestGap(segs: ParsedSegment[]): number {
  let worst = 0;
  for (let i = 1; i < segs.length; i++) {
    const prev = segs[i - 1] as ParsedSegment;
    const cur = segs[i] as ParsedSegment;
    worst = Math.max(worst, ((cur.wallStart ?? 0) - (prev.wallStart ?? 0)) / 1000 - prev.duration);
  }
  return worst;
}

describe('copy mode from the origin\'s own fragments (origin and transcoder on one node)', function () {
  this.timeout(180_000);
  let origin: Origin;
  let base: string;
  let fragments: string;

  before(async () => {
    base = await tempDir('feed');
    fragments = path.join(base, 'fragments');
    origin = await startOrigin({ dir: fragments, fragmentSeconds: 1, playlistSeconds: 30 });
  });
  after(async () => {
    await origin.stop();
    await fs.rm(base, { recursive: true, force: true });
  });

  const job = (stream: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({
    app: 'live', stream, source: { url: origin.rtmpUrl(stream) }, mode: 'copy', format: 'ts', segmentSeconds: 1,
    dvr: { windowSeconds: 0 }, ...over });
  const agentConfig = (root: string, jobs: Array<Record<string, unknown>>): Record<string, unknown> => ({
    nodeId: 'feed-test', storageRoot: root, originSegments: { dir: fragments, fragmentSeconds: 1, sources: [origin.base] }, jobs });

  it('packages the fragments without a puller: the playlist plays, nothing piles up at nginx, '
    + 'a publisher restart is one discontinuity', async () => {
    const root = path.join(base, 'restart');
    let publisher = publish(origin.rtmpUrl('cam1'));
    const agent = await Agent.start(parseAgentConfig(agentConfig(root, [job('cam1')])), silentLogger());
    try {
      const first = await segmentsListed(root, 'cam1', 4);
      const pullers = await run('pgrep', ['-f', `ffmpeg.*${root}`]);
      assert.equal(pullers.stdout.trim(), '', 'no ffmpeg runs for the stream');
      assert.ok(first.every((s) => Math.abs(s.duration - 1) < 0.05), `durations ${first.map((s) => s.duration).join(',')}`);
      const file = path.join(root, 'live', 'cam1', 'source', first[1]?.uri ?? '');
      assert.ok(Math.abs(await ffprobeDuration(file) - (first[1]?.duration ?? 0)) < 0.05, 'EXTINF is what ffprobe measures');
      const left = (await fs.readdir(path.join(fragments, 'live', 'cam1'))).filter((f) => f.endsWith('.ts'));
      assert.ok(left.length <= 2, `nginx-rtmp's directory keeps only the fragment in flight: ${left.join(' ')}`);

      await kill(publisher);
      const killedAt = Date.now();
      await until('a 3 s outage', () => (Date.now() - killedAt >= 3000 ? true : undefined), 10_000, 100);
      const before = (await listed(root, 'cam1'))?.segments.length ?? 0;
      publisher = publish(origin.rtmpUrl('cam1'));
      const restartedAt = Date.now();
      const segs = await segmentsListed(root, 'cam1', before + 4);
      const discs = segs.filter((s) => s.discontinuity);
      assert.equal(discs.length, 1, 'exactly one discontinuity');
      assert.deepEqual(segs.map((s) => s.seq), segs.map((_s, i) => i), 'no segment lost or duplicated');
      const at = segs.indexOf(discs[0] as ParsedSegment);
      const hole = missingBefore(segs, at);
      const outage = (restartedAt - killedAt) / 1000;
      assert.ok(hole.seconds >= outage - 1.5 && hole.seconds <= outage + 4,
        `the DVR misses ${hole.seconds.toFixed(1)} s over a ${outage.toFixed(1)} s outage`);
      assert.ok(Math.abs(hole.listedAsGaps - hole.seconds) < 0.1,
        `the missing time is listed as gap entries (${hole.listedAsGaps.toFixed(1)} of ${hole.seconds.toFixed(1)} s)`);
      assert.ok(largestGap(segs.slice(0, at)) < 0.2 && largestGap(segs.slice(at)) < 0.2, 'no hole inside a publish');
      const figures = agent.transcoder.figures()[0];
      assert.equal(figures?.restarts, 1, 'the republish counts as the source\'s restart');
      assert.ok((figures?.segmentsWritten ?? 0) >= before + 4);
      assert.ok((figures?.inputBitrateBps ?? 0) > 0);

      await kill(publisher);
      // The publish's last fragment taken and listed, then ENDLIST: a player reads it to the end.
      await until('nginx-rtmp\'s last fragment to be taken', async () => ((await fs.readdir(path.join(fragments, 'live', 'cam1')))
        .some((f) => f.endsWith('.ts')) ? undefined : true), 10_000, 100);
      await agent.packager.stream('live', 'cam1').idle();
      await agent.packager.endStream('live', 'cam1');
      await agent.close();
      const played = await playAll(path.join(root, 'live', 'cam1', 'source', 'index.m3u8'));
      assert.equal(played.errors, '');
      // A player that does not know EXT-X-GAP (ffmpeg) fails to open the gap entries and goes on.
      const total = (await listed(root, 'cam1'))?.segments.filter((s) => !s.gap).reduce((a, s) => a + s.duration, 0) ?? 0;
      assert.ok(Math.abs(played.frames - total * 25) <= 2, `${played.frames} frames decoded for ${total.toFixed(2)} s of media`);
    } finally {
      await kill(publisher);
      await agent.close();
    }
  });

  it('after SIGKILL the agent comes back and continues the session: nothing lost, no discontinuity', async () => {
    const root = path.join(base, 'kill');
    await fs.mkdir(root, { recursive: true });
    const file = path.join(root, 'agent.json');
    const storage = path.join(root, 'media');
    await fs.writeFile(file, JSON.stringify(agentConfig(storage, [job('cam2')])));
    const startAgent = async (): Promise<ChildProcess> => {
      const proc = spawn(process.execPath, [agentBin, '--config', file], { stdio: ['ignore', 'pipe', 'ignore'] });
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => { if (l === 'ready') resolve(); });
        proc.once('exit', (c) => reject(new Error(`agent exited ${String(c)}`)));
      });
      return proc;
    };
    const publisher = publish(origin.rtmpUrl('cam2'));
    let proc = await startAgent();
    try {
      await segmentsListed(storage, 'cam2', 3);
      await kill(proc, 'SIGKILL');
      const killedAt = Date.now();
      // nginx-rtmp goes on writing fragments while the agent is away.
      await until('4 s without an agent', () => (Date.now() - killedAt >= 4000 ? true : undefined), 10_000, 100);
      const before = (await listed(storage, 'cam2'))?.segments.length ?? 0;
      proc = await startAgent();
      const segs = await segmentsListed(storage, 'cam2', before + 6);
      assert.deepEqual(segs.map((s) => s.seq), segs.map((_s, i) => i));
      assert.ok(segs.every((s) => !s.discontinuity), 'the session continues');
      assert.ok(largestGap(segs) < 0.2,
        `the fragments written while the agent was away are all listed (largest gap ${largestGap(segs).toFixed(2)} s)`);
      await kill(proc, 'SIGTERM');
      assert.equal(proc.exitCode, 0);
    } finally {
      await kill(publisher);
      await kill(proc, 'SIGKILL');
    }
  });

  it('silence beyond the reconnect grace ends the event (ENDLIST); the next publish goes live again', async () => {
    const root = path.join(base, 'grace');
    let publisher = publish(origin.rtmpUrl('cam3'));
    const agent = await Agent.start(parseAgentConfig(agentConfig(root, [job('cam3', { reconnectGraceSeconds: 2 })])), silentLogger());
    try {
      await segmentsListed(root, 'cam3', 3);
      await kill(publisher);
      const ended = await until('ENDLIST', async () => ((await listed(root, 'cam3'))?.endList ? true : undefined), 15_000, 100);
      assert.equal(ended, true);
      const before = (await listed(root, 'cam3'))?.segments.length ?? 0;
      publisher = publish(origin.rtmpUrl('cam3'));
      const live = await until('the event to go live again', async () => {
        const p = await listed(root, 'cam3');
        return p && !p.endList && p.segments.length > 0 && p.segments.length !== before ? p : undefined;
      }, 30_000, 100);
      assert.equal(live.endList, false);
    } finally {
      await kill(publisher);
      await agent.close();
    }
  });
});
