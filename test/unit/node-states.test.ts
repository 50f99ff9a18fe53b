import assert from 'node:assert/strict';
import { jobsFor } from '../../controller/jobs.js';
import { nextState, type NodeEvent, type NodeState } from '../../controller/node-states.js';
import type { StreamRow } from '../../controller/store.js';

describe('a node\'s states', () => {
  const go = (from: NodeState | undefined, ...events: NodeEvent[]): NodeState | undefined =>
    events.reduce<NodeState | undefined>((s, e) => nextState(s, e), from);

  it('joins by heartbeat, drains, fails when silent and comes back by heartbeat', () => {
    assert.equal(go(undefined, 'heartbeat'), 'inservice', 'a manual node joins with its first heartbeat');
    assert.equal(go(undefined, 'created', 'heartbeat'), 'inservice', 'a provisioned one too');
    assert.equal(go(undefined, 'created', 'never-joined'), 'failed');
    assert.equal(go('inservice', 'silent', 'heartbeat'), 'inservice', 'a failed node back in service');
    assert.equal(go('inservice', 'drain', 'heartbeat'), 'draining', 'a heartbeat does not end a drain');
    assert.equal(go('inservice', 'drain', 'drained'), 'gone');
    assert.equal(go('draining', 'silent'), 'failed');
  });

  it('refuses what does not apply: a gone node stays gone and cannot drain', () => {
    assert.equal(go('inservice', 'removed', 'heartbeat'), 'gone');
    assert.equal(nextState('gone', 'drain'), undefined);
    assert.equal(nextState('inservice', 'never-joined'), undefined);
    assert.equal(nextState(undefined, 'silent'), undefined);
  });
});

describe('the jobs in a transcoder\'s heartbeat reply', () => {
  const settings = { format: 'ts' as const, mode: 'copy' as const, ladder: [{ name: 'source' }], segmentSeconds: 2, windowSeconds: 600,
    recording: true, archiveStrategy: 'version' as const, storageCapBytes: 5e9, dash: false, deltaUpdates: true, signedPlayback: true,
    retentionHours: 0, playlistCapSeconds: 10_800 };
  const row = (stream: string, over: Partial<StreamRow> = {}): StreamRow => ({ app: 'live', stream, settings, streamKey: 'k',
    status: 'live', transcoder: 'tc-1', endingSince: undefined, origin: 'ot-1', epoch: 3, ...over });

  it('carries every DVR setting of the stream, its epoch and its origin; not the secrets', () => {
    const [job] = jobsFor([row('a')], { now: 1000, graceSeconds: 30, sourceOf: () => 'rtmp://10.0.0.5:1935' });
    assert.deepEqual(job, { app: 'live', stream: 'a', source: { url: 'rtmp://10.0.0.5:1935/live/a' }, format: 'ts', mode: 'copy',
      ladder: [{ name: 'source' }], segmentSeconds: 2, reconnectGraceSeconds: 30, epoch: 3,
      dvr: { windowSeconds: 600, recording: true, archiveStrategy: 'version', storageCapBytes: 5e9, dash: false, deltaUpdates: true } });
    // The playlist cap only when it is not the default, so an agent older than the cap takes the job.
    const [capped] = jobsFor([row('b', { settings: { ...settings, playlistCapSeconds: 3600 } })],
      { now: 1000, graceSeconds: 30, sourceOf: () => 'rtmp://o' });
    assert.equal(capped?.dvr.playlistCapSeconds, 3600);
  });

  it('keeps a stream whose publisher left for the reconnect grace, then drops it', () => {
    const streams = [row('live'), row('leaving', { status: 'ending', endingSince: 0 }),
      row('gone', { status: 'ending', endingSince: -31_000 }), row('over', { status: 'ended' }), row('new', { status: 'idle' })];
    assert.deepEqual(jobsFor(streams, { now: 0, graceSeconds: 30, sourceOf: () => 'rtmp://o' }).map((j) => j.stream), ['live', 'leaving']);
  });
});
