// The dashboard as a sysadmin sees it: headless Chromium loads the page from the controller, which
// reads the API with the admin token; the rendered DOM lists the nodes, their load and the streams.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Controller } from '../../controller/controller.js';
import { startTestController } from '../support/controller.js';
import { freePort, run, tempDir } from '../support/run.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ADMIN = 'dashboard-test-admin-token-0123';

/** The DOM after the page's scripts ran and its API calls settled. */
async function renderedDom(url: string, profile: string): Promise<string> {
  const r = await run('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`,
    '--virtual-time-budget=8000', '--dump-dom', url], 60_000);
  assert.equal(r.code, 0, r.stderr.slice(-500));
  return r.stdout;
}

/** Text of the rows of a table in the dumped DOM, cells joined by '|'. */
function rows(dom: string, table: string): string[] {
  const body = new RegExp(`<table id="${table}">[\\s\\S]*?<tbody>([\\s\\S]*?)</tbody>`).exec(dom)?.[1] ?? '';
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => [...(m[1] ?? '').matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)]
    .map((c) => (c[1] ?? '').replace(/<[^>]+>/g, '').trim()).join('|'));
}

describe('dashboard (headless Chromium against the controller)', function () {
  this.timeout(120_000);
  let dir: string;
  let c: Controller;
  let base: string;

  before(async () => {
    dir = await tempDir('dashboard');
    const port = await freePort();
    c = await startTestController(dir, '127.0.0.1', port, ADMIN, { deadAfterMs: 60_000 });
    base = `http://127.0.0.1:${port}`;
    const call = async (method: string, url: string, token: string, body: unknown): Promise<number> =>
      (await fetch(`${base}/api/v1${url}`, { method, body: JSON.stringify(body),
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } })).status;
    const lc = JSON.parse(await fs.readFile(path.resolve(here, '../../../launch-configs/single-machine.json'), 'utf8')) as unknown;
    assert.equal(await call('POST', '/launch-configs', ADMIN, lc), 201);
    assert.equal(await call('POST', '/streams', ADMIN, { app: 'live', stream: 'cam1', windowSeconds: 7200, recording: true }), 201);
    const system = { cpuLoadPercent: 37.4, memoryUsedBytes: 3 * 2 ** 30, memoryTotalBytes: 8 * 2 ** 30, networkRxBytesPerSec: 0,
      networkTxBytesPerSec: 0, storageFreeBytes: 500 * 2 ** 20, storageTotalBytes: 2 ** 30 };
    for (const [id, role, extra] of [['tc-a', 'transcoder', {}], ['edge-a', 'edge', { connections: 7 }]] as const) {
      assert.equal(await call('POST', `/nodes/${id}/heartbeat`, c.agentToken, { nodeId: id, role, address: '127.0.0.1',
        sentAt: new Date().toISOString(), storage: { available: true }, system, streams: [], ...extra }), 200);
    }
    // cam2 is live on tc-a; cam3 was published, its publisher left and the reconnect grace passed:
    // only cam2 counts against tc-a's capacity.
    const hook = async (name: string, stream: string): Promise<number> => {
      const key = (await c.store.stream('live', stream))?.streamKey ?? '';
      return (await fetch(`${base}/api/v1/hooks/${name}`, { method: 'POST', headers: { authorization: `Bearer ${c.agentToken}` },
        body: new URLSearchParams({ app: 'live', name: stream, key }) })).status;
    };
    for (const stream of ['cam2', 'cam3']) {
      assert.equal(await call('POST', '/streams', ADMIN, { app: 'live', stream }), 201);
      assert.equal(await hook('publish', stream), 200);
    }
    // The transcoder reports cam2's figures: what the plots and the health column draw.
    assert.equal(await call('POST', '/nodes/tc-a/heartbeat', c.agentToken, { nodeId: 'tc-a', role: 'transcoder', address: '127.0.0.1',
      sentAt: new Date().toISOString(), storage: { available: true }, system, streams: [{ app: 'live', stream: 'cam2',
        inputBitrateBps: 2_500_000, segmentsWritten: 40, lateSegments: 1, encoderSpeed: 1, restarts: 0, ended: false,
        storedBytes: 25_000_000, segmentLatencyMs: 35, lastSegmentAgeSeconds: 1.2 },
      // The appliance's demo: a stream the transcoder runs from its own config, with that config's settings.
      { app: 'live', stream: 'demo', inputBitrateBps: 1_000_000, segmentsWritten: 10, lateSegments: 0, encoderSpeed: 1, restarts: 0,
        ended: false, storedBytes: 5_000_000, segmentLatencyMs: 20, lastSegmentAgeSeconds: 0.5,
        local: { format: 'fmp4', mode: 'transcode', segmentSeconds: 2, ladder: [{ name: 'r360', height: 360 }, { name: 'audio' }],
          dvr: { windowSeconds: 1800 } } }] }), 200);
    assert.equal(await hook('publish-done', 'cam3'), 200);
    await c.sweep(Date.now() + 31_000);
  });

  after(async () => {
    await c?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('is served with a strict content security policy; unknown files are 404s', async () => {
    const redirect = await fetch(`${base}/dashboard`, { redirect: 'manual' });
    assert.deepEqual([redirect.status, redirect.headers.get('location')], [301, '/dashboard/']);
    const page = await fetch(`${base}/dashboard/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const js = await fetch(`${base}/dashboard/dashboard.js`);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    const plots = await fetch(`${base}/dashboard/vendor/uPlot.iife.min.js`);
    assert.equal(plots.status, 200, 'the plotting library, vendored from npm');
    assert.match(plots.headers.get('content-type') ?? '', /javascript/);
    assert.match(plots.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.equal((await fetch(`${base}/dashboard/vendor/uPlot.cjs.js`)).status, 404, 'only the files the page uses');
    const missing = await fetch(`${base}/dashboard/nope.js`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { code: string }).code, 'DVR_ERR_NOT_FOUND');
    assert.equal((await fetch(`${base}/dashboard/%2e%2e/package.json`)).status, 404, 'no way out of the dashboard folder');
  });

  it('asks for the token, then shows roles with their load, nodes with their figures, and streams', async () => {
    const signedOut = await renderedDom(`${base}/dashboard/`, path.join(dir, 'profile-1'));
    assert.match(signedOut, /<form id="login">/, 'the token form is shown');
    assert.match(signedOut, /<main id="main" hidden="">/);

    const dom = await renderedDom(`${base}/dashboard/#token=${ADMIN}`, path.join(dir, 'profile-2'));
    assert.match(dom, /<span id="status" role="status" class="">2 nodes, 4 streams · updated/);
    const nodes = rows(dom, 'nodes');
    assert.deepEqual(nodes.map((r) => r.split('|').slice(0, 5).join('|')).sort(),
      ['edge-a|edge|inservice|127.0.0.1|7 / 500', 'tc-a|transcoder|inservice|127.0.0.1|1 / 4 streams']);
    assert.ok(nodes.every((r) => r.includes('|37 %|3.0 GiB|500 MiB|')), nodes.join('\n'));
    const roles = rows(dom, 'roles');
    assert.ok(roles.includes('edge|1|0|1 %|500|+1 −1'), roles.join('\n'));
    assert.ok(roles.some((r) => r.startsWith('origin|0|0|')), roles.join('\n'));
    assert.ok(roles.includes('transcoder|1|0|25 %|4|+1 −1'), `the ended stream does not count: ${roles.join('\n')}`);
    assert.deepEqual(rows(dom, 'streams').map((r) => r.split('|').slice(0, 7).join('|')),
      ['live/cam1|idle||2 h|yes|fmp4 copy|no', 'live/cam2|live|tc-a|1 h|no|fmp4 copy|no', 'live/cam3|ended||1 h|no|fmp4 copy|no',
        'live/demo|live (local: tc-a\'s own config)|tc-a|30 min|no|fmp4 transcode|no']);
    // Health: how long ago the live stream's last segment came, as its transcoder reported it.
    assert.match(rows(dom, 'streams')[1]?.split('|')[7] ?? '', /^\d+ s ago$/);
    // (Green within three segment durations; the page's clock runs on virtual time here, so either colour may show.)
    assert.match(dom, /<td class="state-(inservice|failed)">\d+ s ago<\/td>/, 'coloured by its health');
    // Plots of what heartbeats carried: cam2's four figures, each node's load and storage.
    const drawn = [...dom.matchAll(/<div class="plot" data-key="([^"]+)">/g)].map((m) => m[1]).sort();
    assert.deepEqual(drawn, ['node edge-a load', 'node edge-a storage', 'node tc-a load', 'node tc-a storage',
      'stream live/cam2 bitrate', 'stream live/cam2 late', 'stream live/cam2 latency', 'stream live/cam2 stored',
      'stream live/demo bitrate', 'stream live/demo late', 'stream live/demo latency', 'stream live/demo stored']);
    assert.match(dom, /<h3>live\/cam2: bit rate<\/h3>/);
    assert.ok((dom.match(/<canvas/g) ?? []).length >= 8, 'each plot is drawn (uPlot\'s canvas)');
  });

  it('lists a stream a transcoder runs from its own config (the demo) as a stream, marked local, and hands out its playback URL',
    async () => {
    const get = (p: string): Promise<Response> => fetch(`${base}/api/v1${p}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const listed = await (await get('/streams')).json() as Array<Record<string, unknown>>;
    assert.deepEqual(listed.map((x) => `${String(x['stream'])}${x['local'] === true ? ' (local)' : ''}`),
      ['cam1', 'cam2', 'cam3', 'demo (local)']);
    const demo = await (await get('/streams/live/demo')).json() as Record<string, unknown>;
    assert.deepEqual([demo['status'], demo['transcoder'], demo['mode'], demo['windowSeconds'], demo['local']],
      ['live', 'tc-a', 'transcode', 1800, true]);
    const publish = await get('/streams/live/demo/publish');
    assert.equal(publish.status, 409);
    assert.match(((await publish.json()) as { message: string }).message, /runs from transcoder 'tc-a's own config .*no publisher/);
    const res = await get('/streams/live/demo/playback');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { url: 'http://127.0.0.1:8080/live/demo/master.m3u8', edge: 'edge-a' });
    const none = await fetch(`${base}/api/v1/streams/live/nowhere/playback`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(none.status, 404);
  });

  it('a wrong token shows the API\'s message and the token form again', async () => {
    const dom = await renderedDom(`${base}/dashboard/#token=not-the-admin-token`, path.join(dir, 'profile-3'));
    assert.match(dom, /class="error">the token given is not the admin token/);
    assert.match(dom, /<form id="login">/);
  });
});
