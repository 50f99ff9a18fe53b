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
import type { StateStore, StreamRow } from '../../controller/store.js';
import { SCHEMA_VERSION } from '../../controller/store/migrations.js';
import { PostgresStore } from '../../controller/store/postgres.js';
import { openSqliteStore } from '../../controller/store/sqlite.js';
import { StreamMapsCache } from '../../controller/stream-maps.js';
import { newStream } from '../../controller/streams.js';
import { usePostgres } from '../support/postgres.js';
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

/** The database the PostgreSQL suite's last store opened. */
let lastUrl = '';

/** Each engine, as the suite opens a store of it (a fresh one per test). */
const ENGINES: Array<[name: string, setup: () => () => Promise<StateStore>]> = [
  ['SQLite', () => () => Promise.resolve(openSqliteStore(':memory:'))],
  ['PostgreSQL', () => {
    const database = usePostgres();
    return async () => {
      const url = await database();
      lastUrl = url;
      return PostgresStore.open({ url, log: silentLogger() });
    };
  }],
];

for (const [engine, setup] of ENGINES) describe(`the controller's services (no HTTP, a real store: ${engine})`, function () {
  const open = setup();
  let store: StateStore;
  /** The URL of the test's PostgreSQL database (a second connection to it). */
  let reopen: () => Promise<string> = () => Promise.reject(new Error('no database'));
  let now: number;
  let heartbeats: Heartbeats;
  let publishing: Publishing;
  let playback: Playback;
  let retention: Retention;
  let metrics: ReturnType<typeof controllerMetrics>;

  before(async function () {
    // better-sqlite3 is built for the machine's Node; under another (npm run test:node22) it cannot load.
    try {
      if (engine === 'SQLite') await openSqliteStore(':memory:').close();
    } catch (err) {
      console.log(`      skipped: the store's SQLite engine does not load under Node ${process.version}: ${String(err).slice(0, 120)}`);
      this.skip();
    }
  });
  beforeEach(async () => {
    store = await open();
    reopen = () => Promise.resolve(lastUrl);
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

  it('a heartbeat writes its node (capacity from the launch config, read again when it changes) and answers by role', async () => {
    const config = (capacity: number): unknown => launchConfig([['transcoder', capacity], ['edge', 500]]);
    await store.putLaunchConfig('c', config(4));
    await store.insertStream(stream('signed', {}, { signedPlayback: true }));
    assert.deepEqual(await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder'), '10.0.0.9'), { jobs: [] });
    const tc1 = await store.node('tc-1');
    assert.deepEqual([tc1?.state, tc1?.capacity, tc1?.address], ['inservice', 4, '10.0.0.1']);
    assert.deepEqual(await heartbeats.accept('edge-1', heartbeat('edge-1', 'edge', { connections: 7 }), undefined),
      { streamMaps: { signed: [{ app: 'live', stream: 'signed' }], ended: [], live: [] },
        steering: { edges: [{ id: 'edge-1', url: 'http://10.0.0.1:8080', connections: 7 }] } });
    assert.equal((await store.node('edge-1'))?.metrics?.connections, 7);
    await store.replaceLaunchConfig('c', config(8));
    await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder'), undefined);
    assert.equal((await store.node('tc-1'))?.capacity, 8, 'the capacities are read again when the configs change');
    await assert.rejects(async () => heartbeats.accept('tc-2', heartbeat('tc-1', 'transcoder'), undefined),
      (err: unknown) => isDvrError(err, 'DVR_ERR_BAD_REQUEST')
        && /\$\.nodeId must be the node id in the path \('tc-2'\)/.test(err.message));
  });

  it('an edge learns where each running stream\'s live view is: its transcoder\'s address and live-view port', async () => {
    await store.insertStream(stream('cam'));
    await store.insertStream(stream('idle'));
    await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { address: '10.0.0.7', liveView: { port: 8083 } }), undefined);
    await publishing.authorize({ app: 'live', name: 'cam', key: 'key-of-cam-0123456789' }, undefined);
    const live = async (): Promise<unknown> => (await heartbeats.accept('edge-1', heartbeat('edge-1', 'edge'), undefined)).streamMaps?.live;
    assert.deepEqual(await live(), [{ app: 'live', stream: 'cam', source: '10.0.0.7:8083' }]);
    // A transcoder that serves no live view (an older agent) names none.
    await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { address: '10.0.0.7' }), undefined);
    await store.insertStream(stream('other'));
    assert.deepEqual(await live(), []);
    const badPort = heartbeat('tc-1', 'transcoder', { liveView: { port: 'x' as unknown as number } });
    await assert.rejects(async () => heartbeats.accept('tc-1', badPort, undefined),
      (err: unknown) => isDvrError(err, 'DVR_ERR_BAD_REQUEST') && /\$\.liveView\.port: must be integer/.test(err.message));
  });

  it('a publisher with the right key gets a transcoder (the one on its origin\'s machine), which is handed the job', async () => {
    await store.insertStream(stream('cam'));
    await heartbeats.accept('ot-1', heartbeat('ot-1', 'transcoder', { address: '10.0.0.5' }), undefined);
    await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder'), undefined);
    await heartbeats.accept('ot-1-origin', heartbeat('ot-1-origin', 'origin', { address: '10.0.0.5' }), undefined);
    await assert.rejects(async () => publishing.authorize({ app: 'live', name: 'cam', key: 'wrong' }, undefined),
      (err: unknown) => isDvrError(err, 'DVR_ERR_FORBIDDEN'));
    assert.equal(await publishing.authorize({ app: 'live', name: 'cam', key: 'key-of-cam-0123456789' }, 'ot-1-origin'), 'ot-1');
    const [job] = (await heartbeats.accept('ot-1', heartbeat('ot-1', 'transcoder', { address: '10.0.0.5' }), undefined)).jobs ?? [];
    assert.deepEqual([job?.stream, job?.source], ['cam', { url: 'rtmp://10.0.0.5:1935/live/cam' }], 'pulled from the origin that took it');
    assert.match(await publishing.publishUrl(await store.stream('live', 'cam') as StreamRow),
      /^rtmp:\/\/10\.0\.0\.5:1935\/live\/cam\?key=key-of-cam/);
    await publishing.publishDone({ app: 'live', name: 'cam' });
    assert.deepEqual([(await store.stream('live', 'cam'))?.status, (await store.stream('live', 'cam'))?.endingSince], ['ending', T0]);
  });

  it('no transcoder with room: the publish is refused, saying what to scale', async () => {
    await store.insertStream(stream('cam'));
    await assert.rejects(async () => publishing.authorize({ app: 'live', name: 'cam', key: 'key-of-cam-0123456789' }, undefined),
      (err: unknown) => isDvrError(err, 'DVR_ERR_NO_CAPACITY') && /scale out the transcoder role/.test(err.message));
  });

  it('playback: the least-loaded edge whose nginx answers, signed where the stream is; local streams are found and marked', async () => {
    await store.insertStream(stream('open'));
    await store.insertStream(stream('signed', {}, { signedPlayback: true }));
    await store.putLaunchConfig('c', launchConfig([['edge', 10]]));
    await heartbeats.accept('edge-a', heartbeat('edge-a', 'edge', { address: '10.0.0.2', connections: 1, nginx: 'down' }), undefined);
    await heartbeats.accept('edge-b', heartbeat('edge-b', 'edge', { address: '10.0.0.3', connections: 5, nginx: 'up' }), undefined);
    assert.deepEqual(await playback.edgeUrl(await playback.find('live', 'open'), 'master.m3u8'),
      { url: 'http://10.0.0.3:8080/live/open/master.m3u8', edge: 'edge-b' }, 'not the edge whose nginx is down');
    const signed = await playback.edgeUrl(await playback.find('live', 'signed'), 'master.m3u8');
    assert.match(signed.url, /^http:\/\/10\.0\.0\.3:8080\/s\/\d+\/[A-Za-z0-9_-]{22}\/live\/signed\/master\.m3u8$/);
    assert.equal(signed.expires, T0 / 1000 + 3600);
    await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { streams: [figures('demo', { local: { format: 'fmp4',
      mode: 'transcode',
      segmentSeconds: 2, ladder: [{ name: 'r360', height: 360 }], dvr: { windowSeconds: 600, recording: false, archiveStrategy: 'append',
        storageCapBytes: 0, dash: true, deltaUpdates: true } } }), figures('open')] }), undefined);
    assert.deepEqual((await playback.all()).map((s) => `${s.stream}${s.local ? ` (local on ${s.transcoder ?? ''})` : ''}`),
      ['open', 'signed', 'demo (local on tc-1)'], 'a stream the API knows is not listed twice');
    assert.equal((await playback.find('live', 'demo')).settings.windowSeconds, 600);
    await assert.rejects(async () => playback.find('live', 'nowhere'), (err: unknown) => isDvrError(err, 'DVR_ERR_NOT_FOUND'));
    await assert.rejects(async () => playback.clip(await playback.find('live', 'open'), '1800000000', '0'),
      (err: unknown) => isDvrError(err, 'DVR_ERR_BAD_REQUEST') && /\?duration='0' must be whole seconds/.test(err.message));
  });

  it('content steering: an edge\'s reply names the edges in service whose nginx answers, the least loaded first', async () => {
    await store.putLaunchConfig('c', launchConfig([['edge', 10]]));
    await heartbeats.accept('edge-a', heartbeat('edge-a', 'edge', { address: '10.0.0.2', connections: 6, nginx: 'up' }), undefined);
    await heartbeats.accept('edge-b', heartbeat('edge-b', 'edge', { address: 'fd00::3', connections: 2, nginx: 'up' }), undefined);
    await heartbeats.accept('edge-c', heartbeat('edge-c', 'edge', { address: '10.0.0.4', connections: 0, nginx: 'down' }), undefined);
    const reply = await heartbeats.accept('edge-a', heartbeat('edge-a', 'edge', { address: '10.0.0.2', connections: 6, nginx: 'up' }),
      undefined);
    assert.deepEqual(reply.steering?.edges, [{ id: 'edge-b', url: 'http://[fd00::3]:8080', connections: 2 },
      { id: 'edge-a', url: 'http://10.0.0.2:8080', connections: 6 }]);
    await store.setNodeState('edge-b', 'draining');
    assert.deepEqual((await playback.steeringEdges()).map((e) => e.id), ['edge-a'], 'a draining edge gets no new players');
    assert.equal((await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder'), undefined)).steering, undefined,
      'transcoders are not steered');
  });

  it('retention: a stream\'s size is written at most every 10 s, expired events go to one deleter, whose report closes them', async () => {
    await store.insertStream(stream('cam', { status: 'live', transcoder: 'tc-1' }, { retentionHours: 1 }));
    await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { streams: [figures('cam', { storedBytes: 1000 })] }), undefined);
    await heartbeats.accept('tc-2', heartbeat('tc-2', 'transcoder'), undefined);
    assert.equal((await store.stream('live', 'cam'))?.storedBytes, 1000);
    now += 5000;
    await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { streams: [figures('cam', { storedBytes: 2000 })] }), undefined);
    assert.equal((await store.stream('live', 'cam'))?.storedBytes, 1000, 'not written again within 10 s');
    await store.setStreamStatus('live', 'cam', 'ending', 'tc-1', now);
    await store.endStreams(now + 1);
    now += 3_600_000 + 60_000;
    const endedAt = (await store.stream('live', 'cam'))?.endedAt ?? NaN;
    assert.deepEqual(await retention.deletionsFor('tc-2'), {}, 'one deleter: the first transcoder with storage');
    assert.deepEqual(await retention.deletionsFor('tc-1'), { deleteRecordings: [{ app: 'live', stream: 'cam', endedAt }] });
    assert.deepEqual((await retention.list()).map((r) => r.stream), ['cam']);
    await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { deletedRecordings: [{ app: 'live', stream: 'cam', endedAt }] }),
      undefined);
    assert.deepEqual(await retention.deletionsFor('tc-1'), {}, 'done: no longer asked');
    assert.deepEqual(await retention.list(), []);
  });

  it('an archived version is a recording like the others: listed, sized, expired by its stream\'s retention, forgotten once deleted',
    async () => {
    await store.insertStream(stream('cam', { status: 'ended', endedAt: T0 }, { retentionHours: 1 }));
    const aged = T0 - 7_200_000;
    await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { versions: [{ app: 'live', stream: 'cam', version: 0, endedAt: aged,
      bytes: 5000 }, { app: 'live', stream: 'gone', version: 3, endedAt: aged, bytes: 7 }] }), undefined);
    const listed = (await retention.list()).filter((r) => r.kind === 'version');
    assert.deepEqual(listed.map((r) => [r.stream, r.version, r.bytes, r.retentionHours]),
      [['cam.0', 0, 5000, 1], ['gone.3', 3, 7, 0]], 'a version of a stream deleted without its media is kept');
    assert.deepEqual((await retention.deletionsFor('tc-1')).deleteRecordings, [{ app: 'live', stream: 'cam', endedAt: aged, version: 0 }]);
    await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { deletedRecordings: [{ app: 'live', stream: 'cam', endedAt: aged,
      version: 0 }] }), undefined);
    assert.deepEqual((await retention.list()).map((r) => r.stream), ['cam', 'gone.3']);
    await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { versions: [{ app: 'live', stream: 'cam', version: 0, endedAt: 1,
      bytes: 1 }] }), undefined);
    assert.ok(!(await retention.list()).some((r) => r.stream === 'cam.0'), 'a deleted version reported again stays deleted');
  });

  it('deleting a stream with its media: refused while it runs; one deleter removes it; publishing is refused meanwhile; '
    + 'the request learns what was removed', async () => {
    await store.insertStream(stream('cam', { status: 'live', transcoder: 'tc-1' }));
    await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder'), undefined);
    await assert.rejects(retention.purge(await store.stream('live', 'cam') as StreamRow, 50),
      (err: unknown) => isDvrError(err, 'DVR_ERR_CONFLICT') && /is live: its media cannot be deleted while it runs/.test(err.message));
    await store.setStreamStatus('live', 'cam', 'ended', undefined);
    const done = retention.purge(await store.stream('live', 'cam') as StreamRow, 5000);
    await assert.rejects(async () => publishing.authorize({ app: 'live', name: 'cam', key: 'key-of-cam-0123456789' }, undefined),
      (err: unknown) => isDvrError(err, 'DVR_ERR_FORBIDDEN') && /being deleted/.test(err.message));
    assert.deepEqual((await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder'), undefined)).purgeStreams,
      [{ app: 'live', stream: 'cam' }]);
    await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { purgedStreams: [{ app: 'live', stream: 'cam', removed: ['live/cam',
      'live/cam.0'], bytes: 123 }] }), undefined);
    assert.deepEqual(await done, { app: 'live', stream: 'cam', removed: ['live/cam', 'live/cam.0'], bytes: 123 });
    assert.equal(await store.stream('live', 'cam'), undefined, 'the row goes once the media is gone');
    assert.equal((await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder'), undefined)).purgeStreams, undefined);
  });

  it('the deleter is the first transcoder in service that reaches the storage; it moves when that one\'s storage fails', async () => {
    for (const id of ['tc-1', 'tc-2']) await heartbeats.accept(id, heartbeat(id, 'transcoder'), undefined);
    assert.equal(await store.firstWithStorage('transcoder'), 'tc-1');
    await heartbeats.accept('tc-1', heartbeat('tc-1', 'transcoder', { storage: { available: false, reason: 'stale file handle' } }),
      undefined);
    assert.equal(await store.firstWithStorage('transcoder'), 'tc-2', 'tc-1 cannot reach the storage');
    await store.setNodeState('tc-2', 'draining');
    assert.equal(await store.firstWithStorage('transcoder'), undefined, 'none in service reaches it');
  });

  it('the leader lease: one holder at a time, a new term at each change, and a term that ended fences what its holder does', async () => {
    const first = await store.lead('a#1', 400);
    assert.deepEqual([first.holder, first.term], ['a#1', 1]);
    assert.equal((await store.lead('b#1', 400)).holder, 'a#1', 'not while a\'s lease runs');
    await new Promise<void>((resolve) => { setTimeout(resolve, 500); });
    assert.deepEqual([(await store.lead('b#1', 60_000)).holder, (await store.lead('b#1', 60_000)).term], ['b#1', 2]);
    assert.equal(await store.transaction((tx) => tx.holdsLease('a#1', 1)), false, 'a\'s term is over');
    assert.equal(await store.transaction((tx) => tx.holdsLease('b#1', 2)), true);
    await store.resign('b#1');
    assert.deepEqual([(await store.lead('a#2', 60_000)).holder, (await store.lead('a#2', 60_000)).term], ['a#2', 3],
      'a controller that stops gives the lease up at once');
  });

  it('a takeover waits for the leader\'s transaction in flight: what the old term does commits before the new term starts',
    async function () {
      if (engine !== 'PostgreSQL') this.skip(); // SQLite: one controller, its transactions one at a time.
      const other = await PostgresStore.open({ url: await reopen(), log: silentLogger() });
      try {
        await store.lead('a#1', 300);
        let tookOver = false;
        let takeover: Promise<unknown> | undefined;
        await store.transaction(async (tx) => {
          assert.equal(await tx.holdsLease('a#1', 1), true);
          await new Promise<void>((resolve) => { setTimeout(resolve, 400); }); // the lease runs out meanwhile
          takeover = other.lead('b#1', 60_000).then((l) => { tookOver = l.holder === 'b#1'; });
          await new Promise<void>((resolve) => { setTimeout(resolve, 300); });
          assert.equal(tookOver, false, 'the lease cannot change hands while the old term\'s transaction runs');
        });
        await takeover;
        assert.equal(tookOver, true);
      } finally {
        await other.close();
      }
    });

  it('a database of an older schema gains what the heartbeats need (from the figures its nodes last sent) and what controllers '
    + 'share', async function () {
    if (engine !== 'SQLite') this.skip();
    const dir = await tempDir('store-upgrade');
    try {
      const file = path.join(dir, 'controller.db');
      const s = openSqliteStore(file);
      const row = { role: 'transcoder' as const, state: 'inservice' as const, address: '10.0.0.1', capacity: 4, lastHeartbeat: T0,
        since: T0 };
      await s.upsertNode({ id: 'tc-1', ...row, metrics: { storage: { available: false, reason: 'down' } } });
      await s.upsertNode({ id: 'tc-2', ...row, metrics: { storage: { available: true, reason: undefined } } });
      await s.close();
      // What the release of schema 8 left: no storage column, no indexes, no leases, its schema version.
      const db = new Database(file);
      db.exec(`DROP INDEX nodes_with_storage; DROP INDEX nodes_by_role; ALTER TABLE nodes DROP COLUMN storage_ok;
        DROP TABLE leases; DROP TABLE controllers; DROP TABLE secrets;`);
      db.pragma('user_version = 8');
      db.close();
      const upgraded = openSqliteStore(file);
      try {
        assert.equal(await upgraded.firstWithStorage('transcoder'), 'tc-2');
        assert.deepEqual((await upgraded.nodes({ role: 'transcoder' })).map((n) => n.id), ['tc-1', 'tc-2']);
        assert.equal((await upgraded.lead('a#1', 1000)).holder, 'a#1');
      } finally {
        await upgraded.close();
      }
      const newer = new Database(file);
      newer.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
      newer.close();
      assert.throws(() => openSqliteStore(file), (err: unknown) => isDvrError(err, 'DVR_ERR_CONFIG')
        && new RegExp(`its schema is version ${SCHEMA_VERSION + 1}, newer than this controller knows \\(${SCHEMA_VERSION}\\)`)
          .test(err.message));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
