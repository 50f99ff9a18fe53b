// One writer per stream, with two real agents on one storage: the stream moves to a second agent
// under a newer assignment (epoch) while the first still runs it, as after a partition between the
// first and the controller. The new owner claims the stream's directory, waits, continues the index
// from the directory; the old one finds the newer epoch before its next write and stops. The
// playlist shows one writer after the other: no sequence listed twice, one discontinuity between.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import { readLease } from '../../packager/write/lease.js';
import { parseTranscodeJob } from '../../common/job.js';
import { silentLogger } from '../../common/log.js';
import { patternJob } from '../support/jobs.js';
import { parsePlaylist } from '../support/m3u8.js';
import { tempDir, until } from '../support/run.js';

describe('one writer per stream (fencing by assignment epoch)', function () {
  this.timeout(120_000);
  let dir: string;
  const agents: Agent[] = [];

  before(async () => { dir = await tempDir('fencing'); });
  after(async () => {
    for (const a of agents) await a.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const start = async (node: string): Promise<Agent> => {
    const a = await Agent.start(parseAgentConfig({ nodeId: node, storageRoot: path.join(dir, 'storage'),
      spoolRoot: path.join(dir, node, 'spool'), stateDir: path.join(dir, node, 'state'),
      storage: { probeIntervalMs: 300, takeoverDelayMs: 1500 } }), silentLogger());
    agents.push(a);
    return a;
  };
  const playlist = async (): Promise<ReturnType<typeof parsePlaylist> | undefined> => {
    const text = await fs.readFile(path.join(dir, 'storage', 'live', 'moved', 'source', 'index.m3u8'), 'utf8').catch(() => '');
    return text ? parsePlaylist(text) : undefined;
  };
  const job = (epoch: number): ReturnType<typeof parseTranscodeJob> =>
    parseTranscodeJob({ ...patternJob('moved'), dvr: { windowSeconds: 0 }, epoch });

  it('the newer assignment writes, the older one stops before it: nothing listed twice, nothing interleaved', async () => {
    const a = await start('tc-a');
    const b = await start('tc-b');
    await a.transcoder.reconcile([job(1)]);
    await until('tc-a to list 4 segments', async () => ((await playlist())?.segments.length ?? 0) >= 4 ? true : undefined, 30_000, 100);
    assert.deepEqual(await readLease(path.join(dir, 'storage', 'live', 'moved')).then((l) => [l?.node, l?.epoch]), ['tc-a', 1]);

    // The controller moved the stream to tc-b (epoch 2); nobody told tc-a.
    // tc-a finds out at its next write (its checks are at most half the takeover delay old, so its
    // last write comes before tc-b's first).
    await b.transcoder.reconcile([job(2)]);
    await until('tc-a to stop by itself', () => (a.transcoder.has('live', 'moved') ? undefined : true), 10_000, 50);
    assert.deepEqual(a.transcoder.failures().map((f) => f.stream), ['live/moved']);
    assert.match(a.transcoder.failures()[0]?.error ?? '', /moved to tc-b \(assignment epoch 2\)/);

    const before = (await playlist())?.segments.length ?? 0;
    await until('tc-b to list 4 more segments', async () =>
      ((await playlist())?.segments.length ?? 0) >= before + 4 ? true : undefined, 30_000, 100);
    const p = await playlist();
    assert.ok(p);
    const seqs = p.segments.map((s) => s.seq);
    assert.deepEqual(seqs, seqs.map((_s, i) => (seqs[0] ?? 0) + i), 'sequence numbers follow each other, none twice');
    assert.equal(new Set(p.segments.map((s) => s.uri)).size, p.segments.length, 'no file listed twice');
    const discs = p.segments.filter((s) => s.discontinuity).length;
    assert.equal(discs, 1, 'one discontinuity: the change of writer');
    const wall = p.segments.map((s) => s.wallStart ?? 0);
    assert.ok(wall.every((w, i) => i === 0 || w >= (wall[i - 1] ?? 0)), 'the wall clock only moves forward');
    const files = (await fs.readdir(path.join(dir, 'storage', 'live', 'moved', 'source'))).filter((f) => f.endsWith('.ts'));
    const bySeq = new Map<string, number>();
    for (const f of files) bySeq.set(f.slice(0, 9), (bySeq.get(f.slice(0, 9)) ?? 0) + 1);
    assert.deepEqual([...bySeq.values()].filter((n) => n > 1), [], 'no sequence number written twice on the storage');
    assert.deepEqual(await readLease(path.join(dir, 'storage', 'live', 'moved')).then((l) => [l?.node, l?.epoch]), ['tc-b', 2]);

    // tc-a given its old job again (a stale reply): it does not start.
    await a.transcoder.reconcile([job(1)]);
    assert.equal(a.transcoder.has('live', 'moved'), false);
    assert.match(a.transcoder.failures()[0]?.error ?? '', /written by tc-b under a newer assignment \(epoch 2 > 1\)/);
  });
});
