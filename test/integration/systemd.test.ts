// The systemd units in systemd/: systemd-analyze verify passes on each (pointed at this checkout
// instead of /opt/dvr/current), and the controller's unit, its command run with its environment,
// starts the controller and serves its API.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { kill } from '../support/origin.js';
import { freePort, run, tempDir } from '../support/run.js';
import { spawnController } from '../support/controller.js';

const project = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const UNITS = ['dvr-controller.service', 'dvr-agent.service', 'dvr-appliance.service'];

/** A unit's [Service] settings: each key's values, in order. */
function serviceSettings(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const line of text.split('\n')) {
    const s = /^\[(\w+)\]$/.exec(line.trim());
    if (s?.[1]) { section = s[1]; continue; }
    const kv = /^(\w+)=(.*)$/.exec(line);
    if (section === 'Service' && kv?.[1] && kv[2] !== undefined) out.set(kv[1], [...(out.get(kv[1]) ?? []), kv[2]]);
  }
  return out;
}

describe('systemd units', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => { dir = await tempDir('systemd'); });
  after(async () => { if (dir) await fs.rm(dir, { recursive: true, force: true }); });

  it('systemd-analyze verify passes on each unit; each runs as the dvr account and is installable', async function () {
    if ((await run('systemd-analyze', ['--version'])).code !== 0) this.skip();
    for (const unit of UNITS) {
      const text = await fs.readFile(path.join(project, 'systemd', unit), 'utf8');
      const s = serviceSettings(text);
      assert.deepEqual([s.get('User'), s.get('Group')], [['dvr'], ['dvr']], `${unit}: never as root`);
      assert.match(text, /^WantedBy=multi-user\.target$/m, `${unit}: enabled at boot`);
      assert.ok(s.get('NoNewPrivileges')?.includes('yes'), `${unit}: NoNewPrivileges`);
      const local = text.replaceAll('/opt/dvr/current', project).replaceAll('/usr/bin/node', process.execPath);
      await fs.writeFile(path.join(dir, unit), local);
      const r = await run('systemd-analyze', ['verify', '--man=no', path.join(dir, unit)]);
      assert.equal(r.code, 0, `${unit}: ${r.stdout}${r.stderr}`);
      assert.doesNotMatch(r.stderr, new RegExp(`${unit}:\\d+:`), `${unit}: no complaint about a line: ${r.stderr}`);
    }
  });

  it('the controller unit\'s command, with its environment, starts the controller', async () => {
    const s = serviceSettings(await fs.readFile(path.join(project, 'systemd', 'dvr-controller.service'), 'utf8'));
    const env: Record<string, string> = {};
    for (const e of s.get('Environment') ?? []) {
      for (const pair of e.split(' ')) { const [k, v] = pair.split('='); if (k && v !== undefined) env[k] = v; }
    }
    assert.equal(env['DVR_DATA_DIR'], '/var/lib/dvr');
    const [exe, script, ...rest] = (s.get('ExecStart')?.[0] ?? '').replaceAll('/opt/dvr/current', project).split(' ');
    assert.equal(exe, '/usr/bin/node');
    assert.deepEqual(rest, [], 'the command takes no arguments: its settings are its environment');
    const { proc, url: api } = await spawnController(script ?? '', await freePort(), { ...env, DVR_DATA_DIR: dir, DVR_ADMIN_TOKEN: '' });
    try {
      assert.equal((await fetch(`${api}/health`)).status, 200);
      const token = (await fs.readFile(path.join(dir, 'controller', 'admin-token'), 'utf8')).trim();
      assert.equal((await fetch(`${api}/streams`, { headers: { Authorization: `Bearer ${token}` } })).status, 200);
    } finally {
      await kill(proc, 'SIGTERM');
    }
  });
});
