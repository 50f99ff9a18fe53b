// The nfs-kit paths this machine cannot run for real (its kernel has no NFS server or client):
// their --check mode says what they would change and changes nothing; bad arguments are refused
// with the option named.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { PROVISIONING_DIR } from '../../provisioning/inventory.js';
import { run, tempDir } from '../support/run.js';

const kit = path.join(PROVISIONING_DIR, 'nfs-kit');

describe('nfs-kit --check on this machine (kernel NFS server, NFS client)', function () {
  this.timeout(60_000);
  let dir: string;
  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    dir = await tempDir('nfs-kit');
  });
  after(async () => { if (dir) await fs.rm(dir, { recursive: true, force: true }); });

  it('nfs-server.sh --backend kernel --check lists the export it would write and writes nothing', async () => {
    const exp = path.join(dir, 'export');
    const r = await run('bash', [path.join(kit, 'nfs-server.sh'), '--backend', 'kernel', '--export', exp,
      '--rw', '10.9.0.0/24', '--ro', '10.9.1.0/24', '--prefix', path.join(dir, 'root'), '--check']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`would: create ${exp}`));
    assert.match(r.stdout, /would: write .*\/etc\/exports\.d\/dvr\.exports/);
    assert.match(r.stdout, /result: would change$/m);
    await assert.rejects(fs.access(exp), 'nothing was created');
  });

  it('nfs-client.sh --check for a writer would add the fstab entry and mount, and leaves /etc/fstab alone', async () => {
    const before = await fs.readFile('/etc/fstab', 'utf8').catch(() => '');
    const r = await run('bash', [path.join(kit, 'nfs-client.sh'), '--server', '10.9.0.2', '--export', '/srv/dvr',
      '--mountpoint', path.join(dir, 'mnt'), '--profile', 'writer', '--check']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /would: write \/etc\/fstab/);
    assert.match(r.stdout, /would: mount 10\.9\.0\.2:\/srv\/dvr on .* \(nfs, writer\)/);
    assert.equal(await fs.readFile('/etc/fstab', 'utf8').catch(() => ''), before);
  });

  it('refuses exports open to everyone, unknown profiles and unsafe paths, naming the option', async () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['nfs-server.sh', ['--export', '/srv/dvr', '--rw', '*'], /--rw: '\*' is not a network in CIDR form/],
      ['nfs-server.sh', ['--export', '/srv/dvr', '--rw', '0.0.0.0/0'], /--rw: '0\.0\.0\.0\/0' would open it to every address/],
      ['nfs-server.sh', ['--export', '/srv/dvr', '--rw', '10.0.0.0/0'], /--rw: '10\.0\.0\.0\/0' would open it to every address/],
      ['nfs-server.sh', ['--export', '/srv/dvr', '--rw', '10.0.0.0/24', '--ro', '0::/0'], /--ro: '0::\/0' would open it to every address/],
      ['nfs-server.sh', ['--export', '/srv/dvr', '--rw', '10.0.0.0/33'], /--rw: '10\.0\.0\.0\/33': prefix length 33 is out of range/],
      ['nfs-server.sh', ['--export', '/srv/dvr', '--rw', 'fd00::/200'], /--rw: 'fd00::\/200': prefix length 200 is out of range/],
      ['nfs-server.sh', ['--export', '/srv/dvr', '--rw', '10.0.256.0/24'], /--rw: '10\.0\.256\.0\/24': 256 is not an address byte/],
      ['nfs-client.sh', ['--server', '10.0.0.2', '--export', '/srv/dvr', '--mountpoint', '/mnt/x', '--profile', 'writer',
        '--transport', 'sshfs'], /--identity: '' is not a file/],
      ['nfs-server.sh', ['--export', '/srv/../etc', '--rw', '10.0.0.0/24'], /--export: '\/srv\/\.\.\/etc' must be an absolute path/],
      ['nfs-client.sh', ['--server', '10.0.0.2', '--export', '/srv/dvr', '--mountpoint', '/mnt/x', '--profile', 'soft'],
        /--profile: 'soft' is not writer or reader/],
      ['nginx.sh', ['--role', 'cache', '--config', '/dev/null'], /--role: 'cache' is not edge, relay or origin/],
    ];
    for (const [script, args, message] of cases) {
      const r = await run('bash', [path.join(kit, script), ...args, '--check']);
      assert.equal(r.code, 2, `${script} ${args.join(' ')}`);
      assert.match(r.stderr, message);
    }
  });
});
