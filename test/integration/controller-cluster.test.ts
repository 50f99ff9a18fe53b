// Two `dvr-controller` processes over one real PostgreSQL, as a cluster's sysadmin runs them: both
// answer the API and the origins' callbacks, one leads; concurrent publishes never give a stream or
// a slot twice; kill -9 the leader and the other leads and fails a silent transcoder over; a leader
// paused (SIGSTOP) and resumed after the other took over does nothing. And backups: taken while a
// controller runs, restored into a fresh one that serves the same streams and nodes (both engines).
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnController } from '../support/controller.js';
import { usePostgres } from '../support/postgres.js';
import { freePort, tempDir, until } from '../support/run.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(here, '../../bin/dvr-controller.js');
const ADMIN = 'cluster-test-admin-token-0123456';
const AGENT = 'cluster-test-agent-token-0123456';
const DEAD_AFTER_MS = 4000;

interface Running { name: string; proc: ChildProcess; url: string }

/** `dvr-controller ARGS` with the test's environment over this process's. */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) || 1 : 0, stdout, stderr });
    });
  });
}

async function call(api: string, method: string, p: string, body?: unknown, token = ADMIN, timeoutMs = 10_000):
Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${api}${p}`, { method, signal: AbortSignal.timeout(timeoutMs),
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) as unknown : undefined };
}

const heartbeat = (api: string, id: string, timeoutMs?: number): Promise<{ status: number; json: unknown }> => call(api, 'POST',
  `/nodes/${id}/heartbeat`, { nodeId: id, role: 'transcoder', address: '127.0.0.1', sentAt: new Date().toISOString(),
    storage: { available: true }, streams: [] }, AGENT, timeoutMs);

/** An origin's on_publish, as nginx-rtmp sends it. */
async function publish(api: string, stream: string, key: string): Promise<number> {
  return (await fetch(`${api}/hooks/publish?token=${AGENT}`, { method: 'POST',
    body: new URLSearchParams({ app: 'live', name: stream, key }),
    signal: AbortSignal.timeout(10_000) })).status;
}

interface StreamView { transcoder: string | null; epoch: number; status: string }
const streamOf = async (api: string, s: string): Promise<StreamView> => (await call(api, 'GET', `/streams/live/${s}`)).json as StreamView;
const leads = async (c: Running): Promise<boolean> =>
  ((await call(c.url, 'GET', '/health', undefined, ADMIN, 2000).catch(() => ({ json: {} }))).json as { leader?: boolean }).leader === true;

describe('two controllers over one PostgreSQL', function () {
  this.timeout(180_000);
  const database = usePostgres();
  let url: string;
  const running = new Map<string, Running>();
  /** The nodes whose heartbeats the test sends (to any controller that answers), every 500 ms. */
  const beating = new Set<string>();
  let beats: NodeJS.Timeout | undefined;

  const start = async (name: string): Promise<Running> => {
    const dir = await tempDir(`cluster-${name}`);
    const { proc, url: api } = await spawnController(BIN, await freePort(), { DVR_DATA_DIR: dir, DVR_DATABASE_URL: url,
      DVR_ADMIN_TOKEN: ADMIN, DVR_AGENT_TOKEN: AGENT, DVR_DEAD_AFTER_MS: String(DEAD_AFTER_MS), DVR_CONTROLLER_ID: name,
      DVR_LOG_LEVEL: 'warn' });
    const c = { name, proc, url: api };
    running.set(name, c);
    return c;
  };
  /** As agents do: the controller that answered last first, the next one when it does not answer within a second. */
  let answering: string | undefined;
  const beatAll = async (): Promise<void> => {
    const order = [...running.values()].sort((x, y) => Number(y.name === answering) - Number(x.name === answering));
    await Promise.all([...beating].map(async (id) => {
      for (const c of order) {
        if ((await heartbeat(c.url, id, 1000).catch(() => ({ status: 0 }))).status === 200) {
          answering = c.name;
          return;
        }
      }
    }));
  };
  const leaderAndFollower = async (): Promise<[Running, Running]> => {
    const [a, b] = [...running.values()] as [Running, Running];
    return until('one controller leads', async () => {
      const [la, lb] = [await leads(a), await leads(b)];
      return la !== lb ? (la ? [a, b] : [b, a]) as [Running, Running] : undefined;
    }, 15_000);
  };

  before(async () => {
    url = await database();
    await Promise.all([start('c1'), start('c2')]);
    beats = setInterval(() => { void beatAll(); }, 500);
  });
  after(async () => {
    clearInterval(beats);
    for (const c of running.values()) {
      c.proc.kill('SIGCONT');
      c.proc.kill('SIGKILL');
    }
  });

  it('both answer the API and the origins\' callbacks; exactly one leads, and the API names the controllers', async () => {
    const [c1, c2] = [running.get('c1'), running.get('c2')] as [Running, Running];
    beating.add('tc-1');
    await until('tc-1 known', async () => ((await call(c2.url, 'GET', '/nodes')).json as unknown[]).length === 1 || undefined);
    const made = await call(c1.url, 'POST', '/streams', { app: 'live', stream: 'cam' });
    assert.equal(made.status, 201);
    const key = (made.json as { streamKey: string }).streamKey;
    assert.equal(await publish(c2.url, 'cam', key), 200, 'a stream made through one controller is published through the other');
    assert.deepEqual([(await streamOf(c1.url, 'cam')).transcoder, (await streamOf(c1.url, 'cam')).status], ['tc-1', 'live']);
    await leaderAndFollower();
    const listed = (await call(c2.url, 'GET', '/controllers')).json as { store: string; controllers: Array<{ id: string }> };
    assert.deepEqual([listed.store, listed.controllers.map((c) => c.id)], ['postgres', ['c1', 'c2']]);
  });

  it('concurrent publishes through both controllers: one stream goes to one transcoder, and no slot is given twice', async () => {
    const [c1, c2] = [running.get('c1'), running.get('c2')] as [Running, Running];
    beating.add('tc-2');
    beating.add('tc-3');
    await until('three transcoders', async () => ((await call(c1.url, 'GET', '/nodes')).json as unknown[]).length === 3 || undefined);
    // Capacity 1 each (no launch config): tc-1 has cam; tc-2 and tc-3 one slot each.
    const keys = new Map<string, string>();
    for (const s of ['race', 'other']) {
      keys.set(s, ((await call(c1.url, 'POST', '/streams', { app: 'live', stream: s })).json as { streamKey: string }).streamKey);
    }
    const answers = await Promise.all(Array.from({ length: 20 }, (_v, i) =>
      publish(i % 2 === 0 ? c1.url : c2.url, i % 4 < 2 ? 'race' : 'other', keys.get(i % 4 < 2 ? 'race' : 'other') ?? '')));
    assert.deepEqual([...new Set(answers)], [200]);
    const [race, other] = [await streamOf(c2.url, 'race'), await streamOf(c1.url, 'other')];
    assert.deepEqual([race.epoch, other.epoch], [1, 1], 'each stream was assigned once');
    assert.notEqual(race.transcoder, other.transcoder, 'two streams, two transcoders of capacity 1');
    assert.deepEqual([race.transcoder, other.transcoder].sort(), ['tc-2', 'tc-3']);
  });

  it('kill -9 the leader: the other leads within the dead-node timeout and moves a silent transcoder\'s stream', async () => {
    const [leader, follower] = await leaderAndFollower();
    const before = await streamOf(follower.url, 'cam');
    beating.delete('tc-1');
    const killedAt = Date.now();
    leader.proc.kill('SIGKILL');
    await once(leader.proc, 'exit');
    running.delete(leader.name);
    await until('the other controller leads', async () => (await leads(follower)) || undefined, 15_000);
    const tookOver = Date.now() - killedAt;
    assert.ok(tookOver < DEAD_AFTER_MS, `took over after ${tookOver} ms`);
    const moved = await until('cam moved off tc-1', async () => {
      const s = await streamOf(follower.url, 'cam');
      return s.transcoder !== 'tc-1' ? s : undefined;
    }, 30_000);
    // tc-2 and tc-3 are full: cam waits for room (idle), under a new epoch when it moves.
    assert.ok(moved.transcoder === null || moved.epoch === before.epoch + 1, JSON.stringify(moved));
    await start(leader.name);
  });

  it('a leader paused (SIGSTOP) and resumed after the other took over does nothing: the lease and the streams stay', async () => {
    beating.add('tc-1');
    const [leader, follower] = await leaderAndFollower();
    const race = await streamOf(follower.url, 'race');
    leader.proc.kill('SIGSTOP');
    await until('the other controller leads', async () => (await leads(follower)) || undefined, 15_000);
    // Meanwhile race's transcoder falls silent: the new leader moves it (tc-1 is back with room).
    beating.delete(race.transcoder ?? '');
    const moved = await until('race moved', async () => {
      const s = await streamOf(follower.url, 'race');
      return s.transcoder !== race.transcoder && s.transcoder !== null ? s : undefined;
    }, 30_000);
    beating.add(race.transcoder ?? '');
    leader.proc.kill('SIGCONT');
    // Its timers fire at once after the pause: its lease round and its sweep, both fenced.
    await until('the resumed controller knows it does not lead', async () => (await leads(leader)) ? undefined : true, 10_000);
    await new Promise<void>((resolve) => { setTimeout(resolve, 2 * DEAD_AFTER_MS); });
    assert.equal(await leads(follower), true, 'the lease stays with the controller that took it');
    assert.equal(await leads(leader), false);
    assert.deepEqual(await streamOf(leader.url, 'race'), { ...moved, ...await streamOf(leader.url, 'race') });
    const after = await streamOf(follower.url, 'race');
    assert.deepEqual([after.transcoder, after.epoch], [moved.transcoder, moved.epoch], 'nothing moved again');
  });

  it('PostgreSQL down for longer than the dead-node timeout: the controllers stay up and say 503; once it is back nothing was '
    + 'lost and no node failed', async () => {
    const [c1, c2] = [...running.values()] as [Running, Running];
    for (const id of ['tc-1', 'tc-2', 'tc-3']) beating.add(id);
    await until('every node in service', async () => ((await call(c1.url, 'GET', '/nodes')).json as Array<{ state: string }>)
      .every((n) => n.state === 'inservice') || undefined, 15_000);
    const before = await Promise.all(['cam', 'race', 'other'].map((s) => streamOf(c1.url, s)));
    const pg = await database.server();
    await pg.stop();
    try {
      const hb = await heartbeat(c2.url, 'tc-1', 5000);
      assert.equal(hb.status, 503, JSON.stringify(hb.json));
      const said = (hb.json as { message: string }).message;
      assert.match(said, /the controller's store \(PostgreSQL\) does not answer; another controller may/);
      assert.doesNotMatch(said, /127\.0\.0\.1|password|dvr:/, 'the answer names no host and no password');
      assert.equal((await publish(c1.url, 'cam', 'any-key')), 503, 'a publish waits for the store (nginx-rtmp refuses it)');
      await new Promise<void>((resolve) => { setTimeout(resolve, DEAD_AFTER_MS + 2000); });
      assert.deepEqual([c1.proc.exitCode, c2.proc.exitCode], [null, null], 'both controllers stay up');
    } finally {
      await pg.serve();
    }
    await leaderAndFollower();
    await new Promise<void>((resolve) => { setTimeout(resolve, DEAD_AFTER_MS + 2000); });
    const nodes = (await call(c1.url, 'GET', '/nodes')).json as Array<{ id: string; state: string }>;
    assert.deepEqual(nodes.map((n) => `${n.id} ${n.state}`), ['tc-1 inservice', 'tc-2 inservice', 'tc-3 inservice'],
      'silence is counted from when the store came back');
    const after = await Promise.all(['cam', 'race', 'other'].map((s) => streamOf(c2.url, s)));
    assert.deepEqual(after.map((s) => [s.transcoder, s.epoch, s.status]), before.map((s) => [s.transcoder, s.epoch, s.status]));
  });
});

describe('dvr-controller backup and restore', function () {
  this.timeout(120_000);
  const database = usePostgres();

  for (const engine of ['sqlite', 'postgres'] as const) {
    it(`${engine}: a backup taken while the controller runs, restored into a fresh one, serves the same streams and nodes`, async () => {
      const [from, to] = [await tempDir(`backup-${engine}-a`), await tempDir(`backup-${engine}-b`)];
      const [urlA, urlB] = engine === 'postgres' ? [await database(), await database()] : [undefined, undefined];
      const env = (dir: string, db: string | undefined): NodeJS.ProcessEnv => ({ DVR_DATA_DIR: dir, DVR_ADMIN_TOKEN: ADMIN,
        DVR_AGENT_TOKEN: AGENT, DVR_DEAD_AFTER_MS: '60000', DVR_LOG_LEVEL: 'warn', ...(db ? { DVR_DATABASE_URL: db } : {}) });
      const a = await spawnController(BIN, await freePort(), env(from, urlA));
      const file = path.join(from, `state.${engine === 'sqlite' ? 'sqlite' : 'dump'}`);
      try {
        const api = `${a.url}`;
        assert.equal((await call(api, 'POST', '/streams', { app: 'live', stream: 'kept', windowSeconds: 600 })).status, 201);
        assert.equal((await heartbeat(api, 'tc-9')).status, 200);
        const taken = await cli(['backup', file], env(from, urlA));
        assert.equal(taken.code, 0, taken.stderr);
        assert.match(taken.stdout, new RegExp(`${engine} backup written to ${file.replace(/\./g, '\\.')} \\(\\d+ bytes\\)`));
        const refused = await cli(['restore', file], env(from, urlA));
        if (engine === 'sqlite') {
          assert.notEqual(refused.code, 0);
          assert.match(refused.stderr, /a controller answers on this data directory's API: stop it first/);
        }
      } finally {
        a.proc.kill('SIGTERM');
        await once(a.proc, 'exit');
      }
      const restored = await cli(['restore', file], env(to, urlB));
      assert.equal(restored.code, 0, restored.stderr);
      assert.match(restored.stdout, /: 1 streams, 1 nodes/);
      const b = await spawnController(BIN, await freePort(), env(to, urlB));
      try {
        const kept = (await call(b.url, 'GET', '/streams/live/kept')).json as { windowSeconds: number };
        assert.equal(kept.windowSeconds, 600);
        assert.deepEqual(((await call(b.url, 'GET', '/nodes')).json as Array<{ id: string }>).map((n) => n.id), ['tc-9']);
      } finally {
        b.proc.kill('SIGTERM');
        await once(b.proc, 'exit');
      }
    });
  }
});
