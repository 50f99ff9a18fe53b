// The controller's services without HTTP, over a real store (SQLite in memory): what a heartbeat
// writes and is answered, a publisher's allocation, where a stream plays, and retention.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { isDvrError } from '../../common/errors.js';
import { silentLogger } from '../../common/log.js';
import type { Heartbeat, StreamFigures } from '../../common/protocol.js';
import { Heartbeats } from '../../controller/heartbeats.js';
import { parseLaunchConfig } from '../../controller/launch-config.js';
import { controllerMetrics } from '../../controller/metrics.js';
import { Playback } from '../../controller/playback.js';
import { Publishing } from '../../controller/publishing.js';
import { Retention } from '../../controller/retention.js';
import { Store, type StreamRow } from '../../controller/store.js';
import { StreamMapsCache } from '../../controller/stream-maps.js';
import { newStream } from '../../controller/streams.js';
import { tempDir } from '../support/run.js';

const T0 = 1_800_000_000_000;
const SYSTEM = { cpuLoadPercent: 10, memoryUsedBytes: 1, memoryTotalBytes: 2, networkRxBytesPerSec: 0, networkTxBytesPerSec: 0,
  storageFreeBytes: 1e9, storageTotalBytes: 2e9 };

function heartbeat(nodeId: string, role: Heartbeat['role'], over: Partial<Heartbeat> & { address?: string } = {}): unknown {
  return { nodeId, role, sentAt: new Date(T0).toISOString(), storage: { available: true }, system: SYSTEM, streams: [],
    address: '10.0.0.1', ...over };
}

const figures = (stream: string, over: Partial<StreamFigures> = {}): StreamFigures => ({ app: 'live', stream, inputBitrateBps: 1e6,
  segmentsWritten: 1, lateSegments: 0, encoderSpeed: 1, restarts: 0, ended: false, ...over });

/** A launch config of these roles and capacities. */
const launchConfig = (targets: Array<[role: string, capacity: number]>): unknown => parseLaunchConfig({ launchconfig: { name: 'c',
  version: '1', targets: { target: targets.map(([role, connectionCapacity]) => ({ role, connectionCapacity, instanceType: 's-1' })) } } });

function stream(name: string, over: Partial<StreamRow> = {}, settings: Record<string, unknown> = {}): StreamRow {
  return { app: 'live', stream: name, settings: newStream({ app: 'live', stream: name, ...settings }, {}).settings,
    streamKey: `key-of-${name}-0123456789`, status: 'idle', transcoder: undefined, endingSince: undefined, ...over };
}

describe('the controller\'s services (no HTTP, a real store)', function () {
  let store: Store;
  let now: number;
  let heartbeats: Heartbeats;
  let publishing: Publishing;
  let playback: Playback;
  let retention: Retention;
  let metrics: ReturnType<typeof controllerMetrics>;

  before(function () {
    // better-sqlite3 is built for the machine's Node; under another (npm run test:node22) it cannot load.
    try {
      new Store(':memory:').close();
    } catch (err) {
      console.log(`      skipped: the store's SQLite engine does not load under Node ${process.version}: ${String(err).slice(0, 120)}`);
      this.skip();
    }
  });
  beforeEach(() => {
    store = new Store(':memory:');
    now = T0;
    const log = silentLogger();
    metrics = controllerMetrics(store);
    retention = new Retention(store, log, () => now);
    publishing = new Publishing(store, log, metrics, { originRtmpPort: 1935, endGraceSeconds: 30, quietAfterMs: 4000, now: () => now });
    playback = new Playback(store, { edgeHttpPort: 8080, signingSecret: 'a-signing-secret-0123456789', playbackTtlSeconds: 3600,
      now: () => now });
    heartbeats = new Heartbeats(store, log, { publishing, retention, maps: new StreamMapsCache(store), metrics, now: () => now,
      steeringEdges: () => playback.steeringEdges() });
  });
  afterEach(() => store.close());

  it('a heartbeat writes its node (capacity from the launch config, which is read again when it changes) and answers by role', () => {
    const config = (capacity: number): unknown => launchConfig([['transcoder', capacity], ['edge', 500]]);
    store.putLaunchConfig('c', config(4));
    store.insertStream(stream('signed', {}, { signedPlayback: true }));
    assert.deepEqual(heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder'), '10.0.0.9'), { jobs: [] });
    assert.deepEqual([store.node('tc-1')?.state, store.node('tc-1')?.capacity, store.node('tc-1')?.address], ['inservice', 4, '10.0.0.1']);
    assert.deepEqual(heartbeats.accept('edge-1', heartbeat('edge-1', 'edge', { connections: 7 }), undefined),
      { streamMaps: { signed: [{ app: 'live', stream: 'signed' }], ended: [], live: [] },
        steering: { edges: [{ id: 'edge-1', url: 'http://10.0.0.1:8080', connections: 7 }] } });
    assert.equal(store.node('edge-1')?.metrics?.connections, 7);
    store.replaceLaunchConfig('c', config(8));
    heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder'), undefined);
    assert.equal(store.node('tc-1')?.capacity, 4, 'the capacities are cached until told the configs changed');
    heartbeats.launchConfigsChanged();
    heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder'), undefined);
    assert.equal(store.node('tc-1')?.capacity, 8);
    assert.throws(() => heartbeats.accept('tc-2', heartbeat('tc-1', 'transcoder'), undefined),
      (err: unknown) => isDvrError(err, 'DVR_ERR_BAD_REQUEST')
        && /\$\.nodeId must be the node id in the path \('tc-2'\)/.test(err.message));
  });

  it('an edge learns where each running stream\'s live view is: its transcoder\'s address and live-view port', () => {
    store.insertStream(stream('cam'));
    store.insertStream(stream('idle'));
    heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { address: '10.0.0.7', liveView: { port: 8083 } }), undefined);
    publishing.authorize({ app: 'live', name: 'cam', key: 'key-of-cam-0123456789' }, undefined);
    const live = (): unknown => heartbeats.accept('edge-1', heartbeat('edge-1', 'edge'), undefined).streamMaps?.live;
    assert.deepEqual(live(), [{ app: 'live', stream: 'cam', source: '10.0.0.7:8083' }]);
    // A transcoder that serves no live view (an older agent) names none.
    heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { address: '10.0.0.7' }), undefined);
    store.insertStream(stream('other'));
    assert.deepEqual(live(), []);
    const badPort = heartbeat('tc-1', 'transcoder', { liveView: { port: 'x' as unknown as number } });
    assert.throws(() => heartbeats.accept('tc-1', badPort, undefined),
      (err: unknown) => isDvrError(err, 'DVR_ERR_BAD_REQUEST') && /\$\.liveView\.port: must be integer/.test(err.message));
  });

  it('a publisher with the right key gets a transcoder (the one on its origin\'s machine), which is handed the job', () => {
    store.insertStream(stream('cam'));
    heartbeats.accept('ot-1', heartbeat('ot-1', 'transcoder', { address: '10.0.0.5' }), undefined);
    heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder'), undefined);
    heartbeats.accept('ot-1-origin', heartbeat('ot-1-origin', 'origin', { address: '10.0.0.5' }), undefined);
    assert.throws(() => publishing.authorize({ app: 'live', name: 'cam', key: 'wrong' }, undefined),
      (err: unknown) => isDvrError(err, 'DVR_ERR_FORBIDDEN'));
    assert.equal(publishing.authorize({ app: 'live', name: 'cam', key: 'key-of-cam-0123456789' }, 'ot-1-origin'), 'ot-1');
    const [job] = heartbeats.accept('ot-1', heartbeat('ot-1', 'transcoder', { address: '10.0.0.5' }), undefined).jobs ?? [];
    assert.deepEqual([job?.stream, job?.source], ['cam', { url: 'rtmp://10.0.0.5:1935/live/cam' }], 'pulled from the origin that took it');
    assert.match(publishing.publishUrl(store.stream('live', 'cam') as StreamRow), /^rtmp:\/\/10\.0\.0\.5:1935\/live\/cam\?key=key-of-cam/);
    publishing.publishDone({ app: 'live', name: 'cam' });
    assert.deepEqual([store.stream('live', 'cam')?.status, store.stream('live', 'cam')?.endingSince], ['ending', T0]);
  });

  it('no transcoder with room: the publish is refused, saying what to scale', () => {
    store.insertStream(stream('cam'));
    assert.throws(() => publishing.authorize({ app: 'live', name: 'cam', key: 'key-of-cam-0123456789' }, undefined),
      (err: unknown) => isDvrError(err, 'DVR_ERR_NO_CAPACITY') && /scale out the transcoder role/.test(err.message));
  });

  it('playback: the least-loaded edge whose nginx answers, signed where the stream is; local streams are found and marked', () => {
    store.insertStream(stream('open'));
    store.insertStream(stream('signed', {}, { signedPlayback: true }));
    store.putLaunchConfig('c', launchConfig([['edge', 10]]));
    heartbeats.accept('edge-a', heartbeat('edge-a', 'edge', { address: '10.0.0.2', connections: 1, nginx: 'down' }), undefined);
    heartbeats.accept('edge-b', heartbeat('edge-b', 'edge', { address: '10.0.0.3', connections: 5, nginx: 'up' }), undefined);
    assert.deepEqual(playback.edgeUrl(playback.find('live', 'open'), 'master.m3u8'),
      { url: 'http://10.0.0.3:8080/live/open/master.m3u8', edge: 'edge-b' }, 'not the edge whose nginx is down');
    const signed = playback.edgeUrl(playback.find('live', 'signed'), 'master.m3u8');
    assert.match(signed.url, /^http:\/\/10\.0\.0\.3:8080\/s\/\d+\/[A-Za-z0-9_-]{22}\/live\/signed\/master\.m3u8$/);
    assert.equal(signed.expires, T0 / 1000 + 3600);
    heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { streams: [figures('demo', { local: { format: 'fmp4', mode: 'transcode',
      segmentSeconds: 2, ladder: [{ name: 'r360', height: 360 }], dvr: { windowSeconds: 600, recording: false, archiveStrategy: 'append',
        storageCapBytes: 0, dash: true, deltaUpdates: true } } }), figures('open')] }), undefined);
    assert.deepEqual(playback.all().map((s) => `${s.stream}${s.local ? ` (local on ${s.transcoder ?? ''})` : ''}`),
      ['open', 'signed', 'demo (local on tc-1)'], 'a stream the API knows is not listed twice');
    assert.equal(playback.find('live', 'demo').settings.windowSeconds, 600);
    assert.throws(() => playback.find('live', 'nowhere'), (err: unknown) => isDvrError(err, 'DVR_ERR_NOT_FOUND'));
    assert.throws(() => playback.clip(playback.find('live', 'open'), '1800000000', '0'),
      (err: unknown) => isDvrError(err, 'DVR_ERR_BAD_REQUEST') && /\?duration='0' must be whole seconds/.test(err.message));
  });

  it('content steering: an edge\'s reply names the edges in service whose nginx answers, the least loaded first', () => {
    store.putLaunchConfig('c', launchConfig([['edge', 10]]));
    heartbeats.accept('edge-a', heartbeat('edge-a', 'edge', { address: '10.0.0.2', connections: 6, nginx: 'up' }), undefined);
    heartbeats.accept('edge-b', heartbeat('edge-b', 'edge', { address: 'fd00::3', connections: 2, nginx: 'up' }), undefined);
    heartbeats.accept('edge-c', heartbeat('edge-c', 'edge', { address: '10.0.0.4', connections: 0, nginx: 'down' }), undefined);
    const reply = heartbeats.accept('edge-a', heartbeat('edge-a', 'edge', { address: '10.0.0.2', connections: 6, nginx: 'up' }), undefined);
    assert.deepEqual(reply.steering?.edges, [{ id: 'edge-b', url: 'http://[fd00::3]:8080', connections: 2 },
      { id: 'edge-a', url: 'http://10.0.0.2:8080', connections: 6 }]);
    store.setNodeState('edge-b', 'draining');
    assert.deepEqual(playback.steeringEdges().map((e) => e.id), ['edge-a'], 'a draining edge gets no new players');
    assert.equal(heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder'), undefined).steering, undefined, 'transcoders are not steered');
  });

  it('retention: a stream\'s size is written at most every 10 s, expired events go to one deleter, whose report closes them', () => {
    store.insertStream(stream('cam', { status: 'live', transcoder: 'tc-1' }, { retentionHours: 1 }));
    heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { streams: [figures('cam', { storedBytes: 1000 })] }), undefined);
    heartbeats.accept('tc-2', heartbeat('tc-2', 'transcoder'), undefined);
    assert.equal(store.stream('live', 'cam')?.storedBytes, 1000);
    now += 5000;
    heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { streams: [figures('cam', { storedBytes: 2000 })] }), undefined);
    assert.equal(store.stream('live', 'cam')?.storedBytes, 1000, 'not written again within 10 s');
    store.setStreamStatus('live', 'cam', 'ending', 'tc-1', now);
    store.endStreams(now + 1);
    now += 3_600_000 + 60_000;
    const endedAt = store.stream('live', 'cam')?.endedAt ?? NaN;
    assert.deepEqual(retention.deletionsFor('tc-2'), {}, 'one deleter: the first transcoder with storage');
    assert.deepEqual(retention.deletionsFor('tc-1'), { deleteRecordings: [{ app: 'live', stream: 'cam', endedAt }] });
    assert.deepEqual(retention.list().map((r) => r.stream), ['cam']);
    heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { deletedRecordings: [{ app: 'live', stream: 'cam', endedAt }] }), undefined);
    assert.deepEqual(retention.deletionsFor('tc-1'), {}, 'done: no longer asked');
    assert.deepEqual(retention.list(), []);
  });

  it('an archived version is a recording like the others: listed, sized, expired by its stream\'s retention, forgotten once deleted',
    () => {
    store.insertStream(stream('cam', { status: 'ended', endedAt: T0 }, { retentionHours: 1 }));
    const aged = T0 - 7_200_000;
    heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { versions: [{ app: 'live', stream: 'cam', version: 0, endedAt: aged,
      bytes: 5000 }, { app: 'live', stream: 'gone', version: 3, endedAt: aged, bytes: 7 }] }), undefined);
    const listed = retention.list().filter((r) => r.kind === 'version');
    assert.deepEqual(listed.map((r) => [r.stream, r.version, r.bytes, r.retentionHours]),
      [['cam.0', 0, 5000, 1], ['gone.3', 3, 7, 0]], 'a version of a stream deleted without its media is kept');
    assert.deepEqual(retention.deletionsFor('tc-1').deleteRecordings, [{ app: 'live', stream: 'cam', endedAt: aged, version: 0 }]);
    heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { deletedRecordings: [{ app: 'live', stream: 'cam', endedAt: aged,
      version: 0 }] }), undefined);
    assert.deepEqual(retention.list().map((r) => r.stream), ['cam', 'gone.3']);
    heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { versions: [{ app: 'live', stream: 'cam', version: 0, endedAt: 1,
      bytes: 1 }] }), undefined);
    assert.ok(!retention.list().some((r) => r.stream === 'cam.0'), 'a deleted version reported again stays deleted');
  });

  it('deleting a stream with its media: refused while it runs; one deleter removes it; publishing is refused meanwhile; '
    + 'the request learns what was removed', async () => {
    store.insertStream(stream('cam', { status: 'live', transcoder: 'tc-1' }));
    heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder'), undefined);
    await assert.rejects(retention.purge(store.stream('live', 'cam') as StreamRow, 50),
      (err: unknown) => isDvrError(err, 'DVR_ERR_CONFLICT') && /is live: its media cannot be deleted while it runs/.test(err.message));
    store.setStreamStatus('live', 'cam', 'ended', undefined);
    const done = retention.purge(store.stream('live', 'cam') as StreamRow, 5000);
    assert.throws(() => publishing.authorize({ app: 'live', name: 'cam', key: 'key-of-cam-0123456789' }, undefined),
      (err: unknown) => isDvrError(err, 'DVR_ERR_FORBIDDEN') && /being deleted/.test(err.message));
    assert.deepEqual(heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder'), undefined).purgeStreams, [{ app: 'live', stream: 'cam' }]);
    heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { purgedStreams: [{ app: 'live', stream: 'cam', removed: ['live/cam',
      'live/cam.0'], bytes: 123 }] }), undefined);
    assert.deepEqual(await done, { app: 'live', stream: 'cam', removed: ['live/cam', 'live/cam.0'], bytes: 123 });
    assert.equal(store.stream('live', 'cam'), undefined, 'the row goes once the media is gone');
    assert.equal(heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder'), undefined).purgeStreams, undefined);
  });

  it('the deleter is the first transcoder in service that reaches the storage; it moves when that one\'s storage fails', () => {
    for (const id of ['tc-1', 'tc-2']) heartbeats.accept(id, heartbeat(id, 'transcoder'), undefined);
    assert.equal(store.firstWithStorage('transcoder'), 'tc-1');
    heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { storage: { available: false, reason: 'stale file handle' } }), undefined);
    assert.equal(store.firstWithStorage('transcoder'), 'tc-2', 'tc-1 cannot reach the storage');
    store.setNodeState('tc-2', 'draining');
    assert.equal(store.firstWithStorage('transcoder'), undefined, 'none in service reaches it');
  });

  it('a database of the previous schema gains what the heartbeats need, from the figures its nodes last sent', async () => {
    const dir = await tempDir('store-upgrade');
    try {
      const file = path.join(dir, 'controller.db');
      const s = new Store(file);
      const row = { role: 'transcoder' as const, state: 'inservice' as const, address: '10.0.0.1', capacity: 4, lastHeartbeat: T0,
        since: T0 };
      s.upsertNode({ id: 'tc-1', ...row, metrics: { storage: { available: false, reason: 'down' } } });
      s.upsertNode({ id: 'tc-2', ...row, metrics: { storage: { available: true, reason: undefined } } });
      s.close();
      // What the release before this one left: no storage column, no indexes, its schema version.
      const db = new Database(file);
      const version = db.pragma('user_version', { simple: true }) as number;
      db.exec('DROP INDEX nodes_with_storage; DROP INDEX nodes_by_role; ALTER TABLE nodes DROP COLUMN storage_ok;');
      db.pragma(`user_version = ${version - 1}`);
      db.close();
      const upgraded = new Store(file);
      try {
        assert.equal(upgraded.firstWithStorage('transcoder'), 'tc-2');
        assert.deepEqual(upgraded.nodes({ role: 'transcoder' }).map((n) => n.id), ['tc-1', 'tc-2']);
      } finally {
        upgraded.close();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
