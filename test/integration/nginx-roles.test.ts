import assert from 'node:assert/strict';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../common/log.js';
import { ffmpegArgs } from '../../agent/encoder/args.js';
import { NginxProcess } from '../../nginx/process.js';
import { nginxConnections } from '../../agent/roles/nginx-status.js';
import { IncludeFile } from '../../nginx/include.js';
import { renderConfig, renderSecretInclude, renderStreamMaps, type OriginModel, type RelayModel } from '../../nginx/render.js';
import { RTMP_MODULE_PATH } from '../../nginx/model.js';
import { signedPlaybackPath } from '../../nginx/signing.js';
import { edgeModel, startEdge, type Edge } from '../support/edge.js';
import { ffmpeg, freePort, tempDir, until } from '../support/run.js';

const goldenDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/golden');
const SECRET = 'test-secret-0123456789abcdef';

async function golden(name: string, text: string): Promise<void> {
  const file = path.join(goldenDir, name);
  if (process.env['UPDATE_GOLDEN'] === '1') await fs.writeFile(file, text);
  assert.equal(text, await fs.readFile(file, 'utf8'), `${name} differs from the golden file (regenerate with UPDATE_GOLDEN=1)`);
}

function relayModel(prefix: string, port: number, upstream: number, over: Partial<RelayModel> = {}): RelayModel {
  return { role: 'relay', prefix, listen: [{ host: '127.0.0.1', port }], upstreams: [{ host: '127.0.0.1', port: upstream }],
    workerProcesses: 1, workerConnections: 1024, statusAllow: ['127.0.0.1'], cacheMaxSizeMb: 256, cacheInactiveMinutes: 60,
    playlistMaxAgeSeconds: 1, segmentMaxAgeSeconds: 31_536_000, ...over };
}

function originModel(prefix: string, rtmp: number, status: number, controllerUrl: string): OriginModel {
  return { role: 'origin', prefix, rtmpListen: { host: '127.0.0.1', port: rtmp }, statusListen: { host: '127.0.0.1', port: status },
    apps: ['live'], controllerUrl, hookToken: 'hook-token-for-tests', publishAllow: ['127.0.0.1'], playAllow: ['127.0.0.1'],
    rtmpModulePath: RTMP_MODULE_PATH, workerProcesses: 1, workerConnections: 1024, statusAllow: ['127.0.0.1'] };
}

async function startNginx(config: string, port: number): Promise<{ nginx: NginxProcess; prefix: string }> {
  const prefix = (/pid "([^"]+)\/nginx\.pid"/.exec(config))?.[1] ?? '';
  const nginx = new NginxProcess({ binary: 'nginx', prefix, log: silentLogger(), startTimeoutMs: 10_000, stopTimeoutMs: 5_000 });
  await nginx.start(config, { host: '127.0.0.1', port });
  return { nginx, prefix };
}

async function writeStream(root: string, app: string, stream: string): Promise<void> {
  const dir = path.join(root, app, stream, 'r');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(root, app, stream, 'master.m3u8'), '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nr/index.m3u8\n');
  await fs.writeFile(path.join(dir, 'index.m3u8'), '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg.ts\n');
  await fs.writeFile(path.join(dir, 'seg.ts'), Buffer.alloc(2 * 1024 * 1024, 1));
  await fs.writeFile(path.join(root, app, stream, 'manifest.mpd'), '<MPD/>\n');
  await fs.writeFile(path.join(root, app, stream, 'manifest-patch-1800000000000.mpp'), '<Patch/>\n');
}

describe('nginx roles', function () {
  this.timeout(60_000);
  let root: string;

  before(async () => {
    root = await tempDir('roles');
    for (const s of ['secret', 'open', 'old', 'old.0']) await writeStream(root, 'live', s);
  });
  after(async () => fs.rm(root, { recursive: true, force: true }));

  it('renders relay and origin configs that match their golden files and pass nginx -t', async () => {
    const relay = renderConfig(relayModel('/srv/dvr/relay', 8081, 8080,
      { signing: { secret: SECRET, streams: [{ app: 'live', stream: 'secret' }] } }));
    const origin = renderConfig(originModel('/srv/dvr/origin', 1935, 8082, 'http://10.0.0.1:8000'));
    const edge = renderConfig(edgeModel('/srv/dvr/media', '/srv/dvr/nginx', 8080, {
      signing: { secret: SECRET, streams: [{ app: 'live', stream: 'secret' }] }, endedStreams: [{ app: 'live', stream: 'old' }],
      networkStorage: true }));
    await golden('relay.conf', relay);
    await golden('origin.conf', origin);
    await golden('edge-signed.conf', edge);
    for (const [name, text] of [['relay', relay], ['origin', origin], ['edge', edge]] as const) {
      const prefix = await tempDir(`t-${name}`);
      const nginx = new NginxProcess({ binary: 'nginx', prefix, log: silentLogger(), startTimeoutMs: 5000, stopTimeoutMs: 5000 });
      await nginx.test(text.replaceAll(/\/srv\/dvr\/[a-z]+/g, prefix), path.join(prefix, 'nginx.conf'));
      await fs.rm(prefix, { recursive: true, force: true });
    }
  });

  describe('signed playback on an edge', () => {
    let edge: Edge;
    before(async () => {
      edge = await startEdge(root, { signing: { secret: SECRET, streams: [{ app: 'live', stream: 'secret' }] },
        endedStreams: [{ app: 'live', stream: 'old' }] });
    });
    after(async () => edge.stop());
    const inAnHour = (): number => Math.floor(Date.now() / 1000) + 3600;

    it('accepts a valid token for the whole stream prefix, so relative segment URLs keep working', async () => {
      const master = new URL(signedPlaybackPath(SECRET, 'live', 'secret', 'master.m3u8', inAnHour()), edge.url);
      assert.equal((await fetch(master)).status, 200);
      const media = new URL('r/index.m3u8', master);
      const res = await fetch(media);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
      const seg = await fetch(new URL('seg.ts', media));
      assert.equal(seg.status, 200);
      assert.match(seg.headers.get('cache-control') ?? '', /immutable/);
      // The MPD's relative PatchLocation, written or not yet.
      const mpd = new URL(signedPlaybackPath(SECRET, 'live', 'secret', 'manifest.mpd', inAnHour()), edge.url);
      const patch = await fetch(new URL('manifest-patch-1800000000000.mpp', mpd));
      assert.deepEqual([patch.status, patch.headers.get('content-type')], [200, 'application/dash-patch+xml']);
      const notYet = await fetch(new URL('manifest-patch-1800000002000.mpp', mpd));
      assert.deepEqual([notYet.status, await notYet.text()], [200, '<MPD/>\n']);
    });

    it('refuses a missing or wrong token (403) and an expired one (410), with CORS', async () => {
      const plain = await fetch(`${edge.url}/live/secret/master.m3u8`);
      assert.equal(plain.status, 403);
      assert.equal(plain.headers.get('access-control-allow-origin'), '*');
      assert.equal((await fetch(`${edge.url}/live/secret/r/seg.ts`)).status, 403);
      assert.equal((await fetch(`${edge.url}/live/secret/manifest-patch-1800000000000.mpp`)).status, 403);
      assert.equal((await fetch(`${edge.url}/live/secret/manifest-patch-1800000002000.mpp`)).status, 403, 'nor the MPD through it');
      const wrong = signedPlaybackPath('another-secret-0123456789', 'live', 'secret', 'master.m3u8', inAnHour());
      assert.equal((await fetch(edge.url + wrong)).status, 403);
      const otherStream = signedPlaybackPath(SECRET, 'live', 'open', 'master.m3u8', inAnHour()).replace('/live/open/', '/live/secret/');
      assert.equal((await fetch(edge.url + otherStream)).status, 403, 'a token covers one stream only');
      const expired = await fetch(edge.url + signedPlaybackPath(SECRET, 'live', 'secret', 'master.m3u8',
        Math.floor(Date.now() / 1000) - 5));
      assert.equal(expired.status, 410);
      assert.equal(expired.headers.get('access-control-allow-origin'), '*');
    });

    it('leaves streams without signing open, and caches ended events\' playlists long', async () => {
      const open = await fetch(`${edge.url}/live/open/master.m3u8`);
      assert.equal(open.status, 200);
      assert.equal(open.headers.get('cache-control'), 'public, max-age=1');
      assert.equal((await fetch(`${edge.url}/live/old/master.m3u8`)).headers.get('cache-control'), 'public, max-age=3600');
      assert.equal((await fetch(`${edge.url}/live/old.0/r/index.m3u8`)).headers.get('cache-control'), 'public, max-age=3600');
    });
  });

  it('an edge\'s stream maps follow its agent: a new include is tested, swapped and reloaded; '
    + 'a bad one is refused and the running maps kept', async () => {
    const prefix = await tempDir('maps');
    const include = path.join(prefix, 'streams.conf');
    const secretFile = path.join(prefix, 'signing.conf');
    await fs.writeFile(include, renderStreamMaps({ signed: [], ended: [] }));
    await fs.writeFile(secretFile, renderSecretInclude(SECRET), { mode: 0o600 });
    const edge = await startEdge(root, { signing: { secret: { file: secretFile }, streams: [] }, streamsInclude: include });
    try {
      const maps = new IncludeFile({ config: edge.nginx.configPath, file: include });
      assert.equal((await fetch(`${edge.url}/live/open/master.m3u8`)).status, 200);
      assert.equal(await maps.apply(renderStreamMaps({ signed: [{ app: 'live', stream: 'open' }],
        ended: [{ app: 'live', stream: 'old' }] })), 'reloaded');
      // (A kept-alive connection to a worker the reload retires may close under the request: asked again.)
      await until('the reloaded workers to refuse the now signed stream', async () =>
        ((await fetch(`${edge.url}/live/open/master.m3u8`).catch(() => undefined))?.status === 403 ? true : undefined), 5000);
      const token = signedPlaybackPath(SECRET, 'live', 'open', 'master.m3u8', Math.floor(Date.now() / 1000) + 60);
      assert.equal((await fetch(edge.url + token)).status, 200, 'the secret comes from its own file');
      assert.equal((await fetch(`${edge.url}/live/old/master.m3u8`)).headers.get('cache-control'), 'public, max-age=3600');
      assert.equal(await maps.apply(renderStreamMaps({ signed: [{ app: 'live', stream: 'open' }],
        ended: [{ app: 'live', stream: 'old' }] })), 'unchanged');
      await assert.rejects(maps.apply('map $uri $dvr_sig_required { default 0; '),
        /nginx refused the new streams\.conf: [\s\S]*unexpected end of file[\s\S]*the running one is kept/);
      assert.match(await fs.readFile(include, 'utf8'), /live\/open/, 'the file in place is the good one');
      assert.equal((await fetch(`${edge.url}/live/open/master.m3u8`)).status, 403, 'nginx still runs with the good maps');
      assert.deepEqual((await fs.readdir(prefix)).filter((f) => f.endsWith('.tmp')), [], 'no candidate left behind');
      assert.throws(() => renderStreamMaps({ signed: [{ app: 'live', stream: 'a/../b' }], ended: [] }), /DVR_ERR_NAME|stream name/);
    } finally {
      await edge.stop();
      await fs.rm(prefix, { recursive: true, force: true });
    }
  });

  describe('relay in front of a storage edge', () => {
    let edge: Edge;
    let relay: { nginx: NginxProcess; prefix: string };
    let relayUrl: string;
    before(async () => {
      edge = await startEdge(root, { signing: { secret: SECRET, streams: [{ app: 'live', stream: 'secret' }] } });
      const port = await freePort();
      const prefix = await tempDir('relay');
      relay = await startNginx(renderConfig(relayModel(prefix, port, Number(new URL(edge.url).port),
        { signing: { secret: SECRET, streams: [{ app: 'live', stream: 'secret' }] } })), port);
      relayUrl = `http://127.0.0.1:${port}`;
    });
    after(async () => {
      await relay.nginx.stop();
      await fs.rm(relay.prefix, { recursive: true, force: true });
      await edge.stop();
    });
    // The edge buffers its access log (flushed each second): wait for the request's lines to land.
    const upstreamHits = (p: string): Promise<number> => until(`the edge's access log to show ${p}`, async () => {
      const n = (await fs.readFile(path.join(edge.prefix, 'access.log'), 'utf8').catch(() => '')).split('\n')
        .filter((l) => l.includes(`GET ${p} `)).length;
      return n > 0 ? n : undefined;
    }, 5000);

    it('caches segments long and playlists for at most a second', async () => {
      const seg = '/live/open/r/seg.ts';
      assert.equal((await fetch(relayUrl + seg)).headers.get('x-cache-status'), 'MISS');
      assert.equal((await fetch(relayUrl + seg)).headers.get('x-cache-status'), 'HIT');
      const pl = '/live/open/r/index.m3u8';
      assert.equal((await fetch(relayUrl + pl)).headers.get('x-cache-status'), 'MISS');
      assert.equal((await fetch(relayUrl + pl)).headers.get('x-cache-status'), 'HIT');
      await until('the playlist to expire in the relay', async () => {
        const s = (await fetch(relayUrl + pl)).headers.get('x-cache-status');
        return s === 'EXPIRED' || s === 'UPDATING' || s === 'STALE' ? s : undefined;
      }, 5000, 200);
    });

    it('keeps one compressed copy of a playlist and serves it plain to a player that does not accept gzip', async () => {
      let text = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n';
      for (let i = 0; i < 50; i++) text += `#EXTINF:2.000000,\n${String(i).padStart(9, '0')}_1795400000000_2000000_0_0.ts\n`;
      await fs.writeFile(path.join(root, 'live', 'open', 'r', 'shared.m3u8'), text);
      const url = `${relayUrl}/live/open/r/shared.m3u8`;
      const gz = await fetch(url, { headers: { 'Accept-Encoding': 'gzip' } });
      assert.deepEqual([gz.headers.get('x-cache-status'), gz.headers.get('content-encoding'), await gz.text()], ['MISS', 'gzip', text]);
      const plain = await fetch(url, { headers: { 'Accept-Encoding': 'identity' } });
      assert.deepEqual([plain.headers.get('x-cache-status'), plain.headers.get('content-encoding'), await plain.text()],
        ['HIT', null, text]);
    });

    it('collapses concurrent misses into one upstream request and never caches a 404', async () => {
      await fs.writeFile(path.join(root, 'live', 'open', 'r', 'burst.ts'), Buffer.alloc(2 * 1024 * 1024, 2));
      const results = await Promise.all(Array.from({ length: 20 }, () => fetch(`${relayUrl}/live/open/r/burst.ts`).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      })));
      assert.ok(results.every((s) => s === 200));
      assert.equal(await upstreamHits('/live/open/r/burst.ts'), 1, 'proxy_cache_lock: one upstream fetch for 20 viewers');
      assert.equal((await fetch(`${relayUrl}/live/open/r/late.ts`)).status, 404);
      await fs.writeFile(path.join(root, 'live', 'open', 'r', 'late.ts'), 'now here');
      assert.equal((await fetch(`${relayUrl}/live/open/r/late.ts`)).status, 200);
    });

    it('checks tokens itself and shares one cached copy across viewers\' tokens', async () => {
      const a = signedPlaybackPath(SECRET, 'live', 'secret', 'r/seg.ts', Math.floor(Date.now() / 1000) + 100);
      const b2 = signedPlaybackPath(SECRET, 'live', 'secret', 'r/seg.ts', Math.floor(Date.now() / 1000) + 200);
      assert.equal((await fetch(relayUrl + a)).status, 200);
      const second = await fetch(relayUrl + b2);
      assert.equal(second.status, 200);
      assert.equal(second.headers.get('x-cache-status'), 'HIT');
      assert.equal((await fetch(`${relayUrl}/live/secret/r/seg.ts`)).status, 403);
      assert.equal((await fetch(relayUrl + a.replace(/\/s\/\d+\//, '/s/1/'))).status, 403);
    });
  });

  it('the RTMP origin asks the controller about each publish: a known key is accepted, an unknown one refused', async () => {
    const calls: Array<{ url: string; body: string }> = [];
    const hooks = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        calls.push({ url: req.url ?? '', body });
        const form = new URLSearchParams(body);
        const authorised = new URL(req.url ?? '', 'http://x').searchParams.get('token') === 'hook-token-for-tests';
        res.statusCode = !authorised ? 401 : req.url?.startsWith('/api/v1/hooks/publish?') && form.get('key') !== 'good' ? 403 : 200;
        res.end();
      });
    });
    hooks.listen(0, '127.0.0.1');
    await once(hooks, 'listening');
    const hookPort = (hooks.address() as { port: number }).port;
    const rtmp = await freePort();
    const prefix = await tempDir('origin');
    const status = await freePort();
    const origin = await startNginx(renderConfig(originModel(prefix, rtmp, status, `http://127.0.0.1:${hookPort}`)), rtmp);
    try {
      const publish = (key: string): Promise<{ code: number; stderr: string }> => ffmpeg([
        ...ffmpegArgs({ input: { kind: 'test-pattern', width: 160, height: 90, fps: 25, durationSeconds: 2 }, mode: 'transcode',
          renditions: [], format: 'ts', segmentSeconds: 1, session: 'x', streamDir: prefix }).slice(0, 18),
        '-map', '0:v', '-map', '1:a', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-f', 'flv', `rtmp://127.0.0.1:${rtmp}/live/cam1?key=${key}`]);
      const publishing = publish('good');
      // The origin's agent reports publishers from rtmp_stat: one while it publishes, none after.
      const publishers = (): Promise<number> => nginxConnections('origin', `http://127.0.0.1:${status}`, 1000);
      await until('rtmp_stat to show the publisher', async () => (await publishers()) === 1 || undefined, 10_000);
      const good = await publishing;
      assert.equal(good.code, 0, `a known key publishes: ${good.stderr.slice(-300)}`);
      await until('rtmp_stat to show no publisher', async () => (await publishers()) === 0 || undefined, 10_000);
      const bad = await publish('bad');
      assert.notEqual(bad.code, 0, 'an unknown key is refused');
      const published = calls.filter((c) => c.url.startsWith('/api/v1/hooks/publish?'));
      assert.equal(published.length, 2);
      assert.equal(new URLSearchParams(published[0]?.body).get('name'), 'cam1');
      assert.equal(new URLSearchParams(published[0]?.body).get('app'), 'live');
      await until('on_publish_done for the accepted publisher',
        () => calls.some((c) => c.url.startsWith('/api/v1/hooks/publish-done?')) || undefined, 10_000);
    } finally {
      await origin.nginx.stop();
      hooks.close();
      await fs.rm(prefix, { recursive: true, force: true });
    }
  });

  it('an origin of a cluster with two controllers: its callbacks reach the one that answers when the first is down', async () => {
    const calls: string[] = [];
    const hooks = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => { calls.push(req.url ?? ''); res.statusCode = 200; res.end(); });
    });
    hooks.listen(0, '127.0.0.1');
    await once(hooks, 'listening');
    const down = await freePort(); // nothing listens there: a controller that died
    const [rtmp, status, prefix] = [await freePort(), await freePort(), await tempDir('origin-two')];
    const model = { ...originModel(prefix, rtmp, status, `http://127.0.0.1:${down}`),
      controllerFallbackUrls: [`http://127.0.0.1:${(hooks.address() as { port: number }).port}`] };
    const origin = await startNginx(renderConfig(model), rtmp);
    try {
      const r = await ffmpeg(['-re', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-t', '1', '-c:v', 'libx264', '-preset',
        'ultrafast', '-f', 'flv', `rtmp://127.0.0.1:${rtmp}/live/cam1?key=good`]);
      assert.equal(r.code, 0, `the publish is accepted through the second controller: ${r.stderr.slice(-300)}`);
      assert.ok(calls.some((c) => c.startsWith('/api/v1/hooks/publish?token=hook-token-for-tests')), calls.join(', '));
      // Only this machine may use the way through to the controllers.
      assert.match(await fs.readFile(path.join(prefix, 'nginx.conf'), 'utf8').catch(() => renderConfig(model)),
        /location \/_dvr_controllers\/ \{[^}]*allow 127\.0\.0\.1;[^}]*deny all;/);
    } finally {
      await origin.nginx.stop();
      hooks.close();
      await fs.rm(prefix, { recursive: true, force: true });
    }
  });

  it('applies a new config with a reload; a broken one is reported with its line and the old one keeps serving', async () => {
    const port = await freePort();
    const prefix = await tempDir('apply');
    const model = edgeModel(root, prefix, port);
    const { nginx } = await startNginx(renderConfig(model), port);
    try {
      const url = `http://127.0.0.1:${port}/live/open/master.m3u8`;
      const broken = renderConfig(model).replace('sendfile on;', 'sendfile on;\n    this_is_not_a_directive 1;');
      await assert.rejects(nginx.apply(broken), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'DVR_ERR_NGINX');
        assert.match(err.message, /unknown directive "this_is_not_a_directive".*line \d+: this_is_not_a_directive 1;/s);
        return true;
      });
      assert.equal((await fetch(url)).status, 200, 'still serving with the old config');
      assert.equal((await fs.readdir(prefix)).filter((f) => f.endsWith('.next')).length, 0);
      await nginx.apply(renderConfig({ ...model, playlistMaxAgeSeconds: 2 }));
      // The old workers close their idle keep-alive connections as they leave: a request that
      // reused one fails and is asked again, as a player would.
      const maxAge = (): Promise<string | null | undefined> => fetch(url).then((r) => r.headers.get('cache-control'), () => undefined);
      await until('the reloaded config to answer', async () => ((await maxAge()) === 'public, max-age=2' ? true : undefined), 10_000, 100);
      const mode = (await fs.stat(path.join(prefix, 'nginx.conf'))).mode & 0o777;
      assert.equal(mode, 0o640, 'configs may hold secrets');
    } finally {
      await nginx.stop();
      await fs.rm(prefix, { recursive: true, force: true });
    }
  });
});

