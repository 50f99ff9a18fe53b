import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../common/log.js';
import { NginxProcess } from '../../nginx/process.js';
import { renderConfig } from '../../nginx/render.js';
import { RTMP_MODULE_PATH } from '../../nginx/model.js';
import { spawnController } from '../support/controller.js';
import { promtoolCheck } from '../support/promtool.js';
import { ffmpeg, freePort, tempDir, until } from '../support/run.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, '../../bin/dvr-controller.js');
const examples = path.resolve(here, '../../../launch-configs');
const ADMIN = 'admin-token-for-tests-0123456789';
const AGENT = 'agent-token-for-tests-0123456789';

interface Running { proc: ChildProcess; url: string }

function startController(dataDir: string, port: number, env: Record<string, string> = {}): Promise<Running> {
  return spawnController(bin, port, { DVR_DATA_DIR: dataDir, DVR_ADMIN_TOKEN: ADMIN, DVR_AGENT_TOKEN: AGENT, DVR_DEAD_AFTER_MS: '2000',
    DVR_LOG_LEVEL: 'warn', ...env });
}

const call = async (url: string, method: string, token: string | undefined, body?: unknown, raw?: string):
Promise<{ status: number; json: Record<string, unknown> & unknown[] }> => {
  const res = await fetch(url, { method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> & unknown[] };
};

describe('controller', function () {
  this.timeout(120_000);
  let dataDir: string;
  let port: number;
  let c: Running;

  before(async () => {
    dataDir = await tempDir('controller');
    port = await freePort();
    c = await startController(dataDir, port);
  });
  after(async () => {
    c.proc.kill('SIGKILL');
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('answers health openly and refuses other calls without the admin token (401) or with the wrong one (403)', async () => {
    assert.equal((await call(`${c.url}/health`, 'GET', undefined)).status, 200);
    const none = await call(`${c.url}/launch-configs`, 'GET', undefined);
    assert.equal(none.status, 401);
    assert.deepEqual(Object.keys(none.json).sort(), ['code', 'message', 'statusCode']);
    assert.equal((await call(`${c.url}/launch-configs`, 'GET', AGENT)).status, 403);
    assert.equal((await call(`${c.url}/launch-configs`, 'GET', 'nonsense')).status, 403);
  });

  it('takes the shipped example launch configs and refuses bad ones naming the JSON path, writing nothing', async () => {
    for (const f of ['single-machine.json', 'small-cluster.json', 'transcoder-heavy.json']) {
      const body = JSON.parse(await fs.readFile(path.join(examples, f), 'utf8')) as unknown;
      assert.equal((await call(`${c.url}/launch-configs`, 'POST', ADMIN, body)).status, 201, f);
    }
    const dup = await call(`${c.url}/launch-configs`, 'POST', ADMIN,
      JSON.parse(await fs.readFile(path.join(examples, 'small-cluster.json'), 'utf8')));
    assert.equal(dup.status, 400);
    assert.match(String(dup.json['message']), /\$\.launchconfig\.name: 'small-cluster' is taken/);
    const bad = (target: object): object => ({ launchconfig: { name: 'bad', version: '1', targets: { target: [target] } } });
    const cases: Array<[string | object, RegExp]> = [
      ['{"launchconfig": ', /malformed JSON/],
      [bad({ role: 'mixer', connectionCapacity: 1, instanceType: 'x' }),
        /\$\.launchconfig\.targets\.target\[0\]\.role: must be equal to one of the allowed values/],
      [bad({ role: 'edge', connectionCapacity: 0, instanceType: 'x' }),
        /\$\.launchconfig\.targets\.target\[0\]\.connectionCapacity: must be >= 1/],
      [bad({ role: 'edge', connectionCapacity: -5, instanceType: 'x' }), /connectionCapacity: must be >= 1/],
      [bad({ role: 'edge', connectionCapacity: 5, instanceType: 'x', scalePolicy: { min: 4, max: 2 } }),
        /target\[0\]\.scalePolicy: min \(4\) must not exceed max \(2\)/],
      [bad({ role: 'edge', connectionCapacity: 5, instanceType: 'x', colour: 'red' }), /target\[0\]: unknown field 'colour'/],
    ];
    for (const [body, message] of cases) {
      const r = typeof body === 'string' ? await call(`${c.url}/launch-configs`, 'POST', ADMIN, undefined, body)
        : await call(`${c.url}/launch-configs`, 'POST', ADMIN, body);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal(r.json['code'], 'DVR_ERR_BAD_REQUEST');
      assert.match(String(r.json['message']), message);
    }
    const list = await call(`${c.url}/launch-configs`, 'GET', ADMIN);
    assert.equal(list.json.length, 3, 'nothing half-written');
  });

  it('registers nodes by heartbeat, allocates a published stream to the least-loaded transcoder, survives kill -9, '
    + 'and moves streams off a dead node', async () => {
    const beat = (id: string, role: string, address = '127.0.0.1'):
      Promise<{ status: number; json: Record<string, unknown> & unknown[] }> =>
      call(`${c.url}/nodes/${id}/heartbeat`, 'POST', AGENT,
        { nodeId: id, role, address, sentAt: new Date().toISOString(), system: {}, streams: [] });
    assert.equal((await call(`${c.url}/nodes/tc-a/heartbeat`, 'POST', ADMIN, { nodeId: 'tc-a' })).status, 403,
      'agents use the agent token');
    for (const id of ['tc-a', 'tc-b']) assert.equal((await beat(id, 'transcoder')).status, 200);
    await beat('edge-1', 'edge', '127.0.0.9');
    const created = await call(`${c.url}/streams`, 'POST', ADMIN, { app: 'live', stream: 'cam', mode: 'copy', windowSeconds: 600 });
    assert.equal(created.status, 201);
    const key = String(created.json['streamKey']);
    assert.equal((await call(`${c.url}/streams`, 'POST', ADMIN, { app: 'live', stream: 'cam' })).status, 400, 'duplicate name');
    const long = await call(`${c.url}/streams`, 'POST', ADMIN, { app: 'live', stream: 'x'.repeat(65) });
    assert.equal(long.status, 400);
    const unknown = await call(`${c.url}/streams`, 'POST', ADMIN, { app: 'live', stream: 'y', dvrWindow: 5 });
    assert.match(String(unknown.json['message']), /unknown field 'dvrWindow'/);
    const badName = await call(`${c.url}/streams`, 'POST', ADMIN, { app: 'live', stream: '../etc' });
    assert.equal(badName.status, 400);
    assert.match(String(badName.json['message']), /\$\.stream: must match pattern/);

    const hook = (k: string): Promise<Response> => fetch(`${c.url}/hooks/publish?token=${AGENT}`, { method: 'POST',
      body: new URLSearchParams({ app: 'live', name: 'cam', key: k, addr: '127.0.0.1' }) });
    assert.equal((await hook('wrong')).status, 403);
    assert.equal((await hook(key)).status, 200);
    const assigned = String((await call(`${c.url}/streams/live/cam`, 'GET', ADMIN)).json['transcoder']);
    assert.match(assigned, /^tc-[ab]$/);
    const reply = await beat(assigned, 'transcoder');
    const jobs = reply.json['jobs'] as Array<{ stream: string; source: { url: string }; epoch: number }>;
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]?.source.url, 'rtmp://127.0.0.1:1935/live/cam');
    assert.equal(jobs[0]?.epoch, 1, 'the first assignment');
    const publishUrl = (await call(`${c.url}/streams/live/cam/publish`, 'GET', ADMIN)).json['url'];
    assert.equal(publishUrl, `rtmp://127.0.0.1:1935/live/cam?key=${key}`);
    const playback = (await call(`${c.url}/streams/live/cam/playback`, 'GET', ADMIN)).json['url'];
    assert.equal(playback, 'http://127.0.0.9:8080/live/cam/master.m3u8');

    c.proc.kill('SIGKILL');
    await new Promise((r) => c.proc.once('exit', r));
    c = await startController(dataDir, port);
    const after = await call(`${c.url}/streams/live/cam`, 'GET', ADMIN);
    assert.equal(after.json['transcoder'], assigned, 'assignments survive kill -9');
    assert.equal(after.json['status'], 'live');
    assert.equal((await call(`${c.url}/launch-configs`, 'GET', ADMIN)).json.length, 3);
    assert.equal(((await beat(assigned, 'transcoder')).json['jobs'] as unknown[]).length, 1, 'the agent re-attaches to its job');

    const other = assigned === 'tc-a' ? 'tc-b' : 'tc-a';
    const moved = await until('the stream to move off the silent transcoder', async () => {
      await beat(other, 'transcoder');
      await beat('edge-1', 'edge', '127.0.0.9');
      const s = await call(`${c.url}/streams/live/cam`, 'GET', ADMIN);
      return s.json['transcoder'] === other ? s : undefined;
    }, 15_000, 300);
    assert.equal(moved.json['status'], 'live');
    const nodes = await call(`${c.url}/nodes?state=failed`, 'GET', ADMIN);
    assert.deepEqual((nodes.json as Array<{ id: string }>).map((n) => n.id), [assigned]);
    const movedJobs = (await beat(other, 'transcoder')).json['jobs'] as Array<{ epoch: number }>;
    assert.equal(movedJobs.length, 1, 'the new transcoder gets the job');
    assert.equal(movedJobs[0]?.epoch, 2, 'under a new assignment: the old writer, should it still run, is fenced');
    // The same transcoder keeps the stream when its publisher comes back: no new assignment.
    assert.equal((await hook(key)).status, 200);
    const kept = (await beat(other, 'transcoder')).json['jobs'] as Array<{ epoch: number }>;
    assert.equal(kept[0]?.epoch, 2);
    const root = c.url.replace(/\/api\/v1$/, '');
    assert.equal((await fetch(`${root}/metrics`)).status, 401);
    const metrics = await (await fetch(`${root}/metrics`, { headers: { Authorization: `Bearer ${ADMIN}` } })).text();
    assert.match(metrics, /dvr_controller_nodes\{role="transcoder",state="failed"\} 1/);
    assert.match(metrics, /dvr_controller_heartbeats_total \d+/);
    assert.match(metrics, /^# TYPE dvr_controller_heartbeats_total counter$/m);
    assert.equal(await promtoolCheck(metrics), '', 'promtool check metrics');
  });

  it('the RTMP origin\'s publish callback lands here: the stream key is checked for real, '
    + 'and the origin that took it feeds a transcoder on its machine', async () => {
    const created = await call(`${c.url}/streams`, 'POST', ADMIN, { app: 'live', stream: 'studio' });
    const key = String(created.json['streamKey']);
    // Transcoders in service for the allocation, alive through the test (nodes die after 2 s of silence here):
    // one elsewhere, first by name, and one on the origin's machine (the origin's node reports its address).
    const beat = (id: string, role: string, address: string): Promise<{ status: number; json: Record<string, unknown> & unknown[] }> =>
      call(`${c.url}/nodes/${id}/heartbeat`, 'POST', AGENT, { nodeId: id, role, address });
    const alive = async (): Promise<void> => {
      await beat('tc-live', 'transcoder', '127.0.0.1');
      await beat('tc-z-beside-origin', 'transcoder', '127.0.0.3');
      await beat('origin-x', 'origin', '127.0.0.3');
    };
    await alive();
    const keepAlive = setInterval(() => { void alive(); }, 500);
    const prefix = await tempDir('ctl-origin');
    const rtmp = await freePort();
    const nginx = new NginxProcess({ binary: 'nginx', prefix, log: silentLogger(), startTimeoutMs: 10_000, stopTimeoutMs: 5000 });
    await nginx.start(renderConfig({ role: 'origin', prefix, rtmpListen: { host: '127.0.0.1', port: rtmp },
      statusListen: { host: '127.0.0.1', port: await freePort() }, apps: ['live'], controllerUrl: c.url.replace(/\/api\/v1$/, ''),
      hookToken: AGENT, publishAllow: ['127.0.0.1'], playAllow: ['127.0.0.1'], rtmpModulePath: RTMP_MODULE_PATH,
      workerProcesses: 1, workerConnections: 256, statusAllow: ['127.0.0.1'], nodeId: 'origin-x' }), { host: '127.0.0.1', port: rtmp });
    try {
      const publish = (k: string): Promise<{ code: number; stderr: string }> => ffmpeg(['-hide_banner', '-loglevel', 'error',
        '-re', '-t', '2', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'flv',
        `rtmp://127.0.0.1:${rtmp}/live/studio?key=${k}`]);
      assert.notEqual((await publish('stolen')).code, 0, 'a wrong key is refused');
      const ok = await publish(key);
      assert.equal(ok.code, 0, ok.stderr);
      const s = await call(`${c.url}/streams/live/studio`, 'GET', ADMIN);
      assert.equal(s.json['transcoder'], 'tc-z-beside-origin', 'the transcoder on the origin\'s machine');
      const jobs = (await beat('tc-z-beside-origin', 'transcoder', '127.0.0.3')).json['jobs'] as
        Array<{ stream: string; source: { url: string } }>;
      assert.deepEqual(jobs.map((j) => j.source.url), ['rtmp://127.0.0.3:1935/live/studio'], 'pulled from the origin that took the publisher');
      await until('publish-done to mark the stream ending', async () =>
        ((await call(`${c.url}/streams/live/studio`, 'GET', ADMIN)).json['status'] === 'ending' ? true : undefined), 10_000, 200);
    } finally {
      clearInterval(keepAlive);
      await nginx.stop();
      await fs.rm(prefix, { recursive: true, force: true });
    }
  });
});

describe('controller scaling with the exec provider', function () {
  this.timeout(60_000);
  let dataDir: string;
  let c: Running;
  let state: string;

  before(async () => {
    dataDir = await tempDir('scale');
    state = path.join(dataDir, 'provider');
    await fs.mkdir(state);
    const create = path.join(state, 'create.sh');
    const destroy = path.join(state, 'destroy.sh');
    await fs.writeFile(create, `#!/bin/sh\nn=$(( $(cat ${state}/count 2>/dev/null || echo 0) + 1 ))\necho $n > ${state}/count\n`
      + `[ -f ${state}/fail ] && { echo "quota exceeded" >&2; exit 3; }\necho "$1-$n 127.0.1.$n"\n`, { mode: 0o755 });
    await fs.writeFile(destroy, `#!/bin/sh\necho "$1" >> ${state}/destroyed\n`, { mode: 0o755 });
    c = await startController(dataDir, await freePort(),
      { DVR_PROVIDER_CREATE: create, DVR_PROVIDER_DESTROY: destroy, DVR_SCALE_INTERVAL_MS: '200' });
  });
  after(async () => {
    c.proc.kill('SIGKILL');
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('keeps a role at its minimum, scales by hand, and reports a failing script with its exit code and output', async () => {
    const config = { launchconfig: { name: 'scaled', version: '1', targets: { target: [{ role: 'edge', connectionCapacity: 100,
      instanceType: 's-1', scalePolicy: { min: 2, max: 4, increment: 1, warmUpSeconds: 0, coolDownSeconds: 0 } }] } } };
    assert.equal((await call(`${c.url}/launch-configs`, 'POST', ADMIN, config)).status, 201);
    const edges = async (): Promise<Array<{ id: string; state: string; address: string }>> =>
      (await call(`${c.url}/nodes?role=edge`, 'GET', ADMIN)).json as unknown as Array<{ id: string; state: string; address: string }>;
    await until('two edges created for min 2', async () => ((await edges()).length === 2 ? true : undefined), 10_000, 100);
    for (const e of await edges()) {
      assert.equal(e.state, 'provisioning');
      await call(`${c.url}/nodes/${e.id}/heartbeat`, 'POST', AGENT, { nodeId: e.id, role: 'edge', address: e.address });
    }
    assert.deepEqual((await edges()).map((e) => e.state), ['inservice', 'inservice']);
    const manual = await call(`${c.url}/scale`, 'POST', ADMIN, { role: 'edge', count: -1 });
    assert.equal(manual.status, 200);
    const removed = (manual.json['nodes'] as string[])[0];
    assert.equal((await fs.readFile(path.join(state, 'destroyed'), 'utf8')).trim(), removed, 'the destroy script ran for it');
    await until('the minimum restored', async () =>
      ((await edges()).filter((e) => e.state !== 'gone').length === 2 ? true : undefined), 10_000, 100);
    const events = (await call(`${c.url}/scale`, 'GET', ADMIN)).json['events'] as Array<{ reason: string; action: string }>;
    assert.ok(events.some((e) => e.reason === 'manual' && e.action === 'in'));
    assert.ok(events.some((e) => e.reason === 'below min 2' && e.action === 'out'));

    const drained = (await edges()).find((e) => e.state === 'inservice' || e.state === 'provisioning');
    assert.equal((await call(`${c.url}/nodes/${drained?.id ?? ''}/drain`, 'POST', ADMIN)).status, 200);
    await until('the drained, empty node handed back to the provider', async () =>
      ((await fs.readFile(path.join(state, 'destroyed'), 'utf8')).includes(`${drained?.id ?? '?'}\n`) ? true : undefined), 10_000, 100);
    await until('the minimum restored again', async () =>
      ((await edges()).filter((e) => e.state !== 'gone').length === 2 ? true : undefined), 10_000, 100);

    await fs.writeFile(path.join(state, 'fail'), '');
    const before = (await edges()).length;
    const failed = await call(`${c.url}/scale`, 'POST', ADMIN, { role: 'edge', count: 1 });
    assert.equal(failed.status, 500);
    assert.match(String(failed.json['message']), /create\.sh edge s-1 .*failed \(exit 3\): quota exceeded/);
    assert.equal((await edges()).length, before, 'nothing half-written');
    assert.equal((await call(`${c.url}/scale`, 'POST', ADMIN, { role: 'edge', count: 0 })).status, 400);
    assert.equal((await call(`${c.url}/scale`, 'POST', ADMIN, { role: 'mixer', count: 1 })).status, 400);
  });

  it('a node\'s capacity follows the stored launch configs: a new one applies with its next heartbeat', async () => {
    const capacity = async (): Promise<number> => {
      assert.equal((await call(`${c.url}/nodes/relay-cap/heartbeat`, 'POST', AGENT,
        { nodeId: 'relay-cap', role: 'relay', address: '127.0.0.7' })).status, 200);
      const nodes = (await call(`${c.url}/nodes?role=relay`, 'GET', ADMIN)).json as unknown as Array<{ id: string; capacity: number }>;
      return nodes.find((n) => n.id === 'relay-cap')?.capacity ?? -1;
    };
    assert.equal(await capacity(), 1, 'no stored config declares the relay role');
    const first = { launchconfig: { name: 'aaa-relays', version: '1',
      targets: { target: [{ role: 'relay', connectionCapacity: 7, instanceType: 's-1' }] } } };
    assert.equal((await call(`${c.url}/launch-configs`, 'POST', ADMIN, first)).status, 201);
    assert.equal(await capacity(), 7, 'the stored config that declares the role');
    assert.equal((await call(`${c.url}/launch-configs/aaa-relays`, 'DELETE', ADMIN)).status, 204);
    assert.equal(await capacity(), 7, 'with no config for the role, the node keeps what it had');
  });
});
