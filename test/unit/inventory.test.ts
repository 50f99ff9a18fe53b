// The inventory's rules and the plan derived from it: bad input names the JSON path; the plan is
// what a sysadmin would expect each role to get.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cidrProblem, parseInventory } from '../../provisioning/inventory.js';
import { KnownHosts, keyType } from '../../provisioning/known-hosts.js';
import { planHost } from '../../provisioning/plan.js';
import { shellQuote } from '../../provisioning/runner.js';

const base = () => ({ inventory: {
  networks: { writers: ['10.0.0.0/24'], readers: ['10.0.1.0/24'] },
  storage: { server: 'nfs1', backend: 'ganesha', export: '/srv/dvr' },
  controller: { url: 'http://10.0.0.1:8090', agentTokenFile: '/etc/dvr/agent-token' },
  hosts: [
    { name: 'nfs1', address: '10.0.0.2', roles: ['storage'] },
    { name: 'tx1', address: '10.0.0.3', roles: ['transcoder'] },
    { name: 'edge1', address: '10.0.1.2', roles: ['edge'] },
  ],
} });

function rejects(mutate: (i: ReturnType<typeof base>['inventory']) => void, message: RegExp): void {
  const inv = base();
  mutate(inv.inventory);
  assert.throws(() => parseInventory(inv), message);
}

describe('inventory', () => {
  it('accepts a cluster and fills in the defaults', () => {
    const inv = parseInventory(base());
    assert.deepEqual([inv.ssh.user, inv.ssh.port, inv.uid, inv.storage.root, inv.storage.mount, inv.http.port],
      ['root', 22, 5005, '/var/lib/dvr/storage', true, 80]);
  });

  it('names the JSON path of what is wrong', () => {
    rejects((i) => { i.networks.writers = ['*']; }, /\$\.inventory\.networks\.writers\[0\]: '\*' is not a network in CIDR form/);
    rejects((i) => { (i.hosts[1] as { roles: string[] }).roles = ['encoder']; },
      /\$\.inventory\.hosts\[1\]\.roles\[0\]: must be equal to one of the allowed values/);
    rejects((i) => { (i.hosts[2] as { name: string }).name = 'tx1'; },
      /\$\.inventory\.hosts\[2\]\.name: 'tx1' is already the name of hosts\[1\]/);
    rejects((i) => { (i.hosts[1] as { address: string }).address = '10.0.5.3'; },
      /hosts\[1\]\.address: 10\.0\.5\.3 \(tx1, transcoder\) is not in networks\.writers/);
    rejects((i) => { i.storage.server = 'nfs9'; }, /hosts\[0\]\.roles: nfs1 has the storage role but storage\.server is 'nfs9'/);
    rejects((i) => { delete (i.controller as { agentTokenFile?: string }).agentTokenFile; },
      /controller\.agentTokenFile: required: hosts\[1\] \(tx1\) is a transcoder/);
    rejects((i) => { i.storage.export = '/srv/../etc'; }, /\$\.inventory\.storage\.export/);
    rejects((i) => { (i.hosts[2] as { roles: string[] }).roles = ['edge', 'origin']; },
      /hosts\[2\]\.roles: edge1 has origin and edge: a host runs one nginx/);
    rejects((i) => { (i as Record<string, unknown>)['extra'] = 1; }, /\$\.inventory: unknown field 'extra'/);
  });

  it('refuses catch-all networks in every form, and bytes or prefix lengths out of range', () => {
    for (const c of ['0.0.0.0/0', '10.0.0.0/0', '::/0', '0::/0', 'fd00::/0']) {
      rejects((i) => { i.networks.writers = ['10.0.0.0/24', c]; },
        new RegExp(`networks\\.writers\\[1\\]: '${c.replace(/\./g, '\\.')}' would open it to every address`));
    }
    rejects((i) => { i.networks.readers = ['10.0.0.0/33']; },
      /networks\.readers\[0\]: '10\.0\.0\.0\/33': prefix length 33 is out of range \(0-32\)/);
    rejects((i) => { i.networks.readers = ['fd00::/129']; }, /prefix length 129 is out of range \(0-128\)/);
    rejects((i) => { i.networks.readers = ['10.0.300.0/24']; }, /300 is not an address byte/);
    assert.equal(cidrProblem('10.0.0.0/8'), undefined);
    assert.equal(cidrProblem('fd00:1::/64'), undefined);
  });

  it('plans nfs-server for storage, a writer mount + agent for transcoders, a reader mount + nginx + a reporting agent for edges', () => {
    const inv = parseInventory(base());
    const plan = (name: string) => planHost(inv, inv.hosts.find((h) => h.name === name)!,
      { agentToken: 'a'.repeat(32), agentBundle: '/tmp/b.tgz' });
    const storage = plan('nfs1');
    assert.deepEqual(storage.map((s) => s.name), ['nfs-server']);
    assert.deepEqual(storage[0]?.args, ['--backend', 'ganesha', '--export', '/srv/dvr', '--bind', '10.0.0.2', '--uid', '5005',
      '--rw', '10.0.0.0/24', '--ro', '10.0.1.0/24']);
    const tx = plan('tx1');
    assert.deepEqual(tx.map((s) => s.name), ['nfs-client (writer)', 'agent']);
    assert.deepEqual(tx[0]?.args.slice(0, 8),
      ['--server', '10.0.0.2', '--export', '/srv/dvr', '--mountpoint', '/var/lib/dvr/storage', '--profile', 'writer']);
    const agentJson = JSON.parse(tx[1]?.uploads.find((u) => u.name === 'agent.json')?.content ?? '{}') as
      { nodeId: string; storage: { mount: boolean } };
    assert.deepEqual([agentJson.nodeId, agentJson.storage.mount], ['tx1', true]);
    assert.equal(tx[1]?.uploads.find((u) => u.name === 'agent.json')?.secret, true);
    const edge = plan('edge1');
    assert.deepEqual(edge.map((s) => s.name), ['nfs-client (reader)', 'nginx (edge)', 'agent']);
    const edgeAgent = JSON.parse(edge[2]?.uploads.find((u) => u.name === 'agent.json')?.content ?? '{}') as
      { role: string; nginxStatusUrl: string };
    assert.deepEqual([edgeAgent.role, edgeAgent.nginxStatusUrl], ['edge', 'http://10.0.1.2:80'], 'the edge reports its viewers');
    const conf = edge[1]?.uploads[0]?.content ?? '';
    assert.match(conf, /listen 10\.0\.1\.2:80;/);
    assert.match(conf, /aio threads/, 'an NFS-backed edge reads in a thread pool');
  });

  it('edges with an agent take their stream maps from it and the signing secret from its own file; '
    + 'sshfs mounts pin the storage host', () => {
    const given = base();
    Object.assign(given.inventory.storage, { transport: 'sshfs', sshfs: { identityFile: '/root/.ssh/storage' } });
    const inv = parseInventory(given);
    const secret = 's'.repeat(32);
    const inputs = { agentToken: 'a'.repeat(32), agentBundle: '/tmp/b.tgz', signingSecret: secret,
      storageKnownHosts: '10.0.0.2 ssh-ed25519 AAAA\n' };
    const edge = planHost(inv, inv.hosts.find((h) => h.name === 'edge1')!, inputs);
    const nginx = edge.find((s) => s.name === 'nginx (edge)');
    assert.ok(nginx?.args.includes('--secret-include'));
    const conf = nginx?.uploads.find((u) => u.name === 'nginx-edge.conf')?.content ?? '';
    assert.ok(!conf.includes(secret), 'the config holds no secret');
    assert.match(conf, /include "\/etc\/dvr\/nginx\/signing\.conf";/);
    assert.match(conf, /include "\/var\/lib\/dvr\/nginx\/streams\.conf";/);
    const secretUpload = nginx?.uploads.find((u) => u.name === 'signing.conf');
    assert.equal(secretUpload?.secret, true);
    assert.ok(secretUpload?.content?.includes(secret));
    const agent = JSON.parse(edge.find((s) => s.name === 'agent')?.uploads.find((u) => u.name === 'agent.json')?.content ?? '{}') as
      { nginx: object };
    assert.deepEqual(agent.nginx, { config: '/etc/dvr/nginx/nginx.conf', streamsInclude: '/var/lib/dvr/nginx/streams.conf' });
    const mount = edge.find((s) => s.name === 'sshfs-client (reader)');
    assert.deepEqual(mount?.args.slice(-10), ['--transport', 'sshfs', '--user', 'dvr', '--port', '22', '--identity', '@upload/storage-key',
      '--known-hosts', '@upload/storage-known-hosts']);
    assert.deepEqual(mount?.uploads.map((u) => [u.name, u.secret ?? false]), [['storage-key', true], ['storage-known-hosts', false]]);
    assert.throws(() => planHost(inv, inv.hosts.find((h) => h.name === 'edge1')!, { ...inputs, storageKnownHosts: undefined }),
      /the storage host's pinned key/);
    delete (given.inventory.storage as { sshfs?: object }).sshfs;
    assert.throws(() => parseInventory(given), /storage\.sshfs: required with transport sshfs/);
  });


  it('an origin that is also the transcoder segments copy-mode streams for its agent; an origin alone does not', () => {
    const given = base();
    given.inventory.hosts.push({ name: 'ox1', address: '10.0.0.4', roles: ['origin', 'transcoder'] },
      { name: 'o2', address: '10.0.0.5', roles: ['origin'] });
    const inv = parseInventory(given);
    const plan = (name: string) => planHost(inv, inv.hosts.find((h) => h.name === name)!,
      { agentToken: 'a'.repeat(32), agentBundle: '/tmp/b.tgz' });
    const both = plan('ox1');
    const nginx = both.find((s) => s.name === 'nginx (origin)');
    assert.deepEqual(nginx?.args.slice(0, 6), ['--role', 'origin', '--config', nginx?.args[3], '--uid', '5005']);
    const conf = nginx?.uploads[0]?.content ?? '';
    assert.match(conf, /^user dvr;$/m, 'the workers write fragments the agent may take');
    assert.match(conf, /^worker_processes 1;$/m, 'one worker: nginx-rtmp serves a stream only from the worker its publisher reached');
    assert.match(conf, /hls_path "\/var\/lib\/dvr\/origin-fragments\/live";/);
    assert.match(conf, /hls_fragment 2000ms;/);
    assert.match(conf, /[?&]node=ox1/, 'the publish hook names the origin that took the stream');
    const agent = JSON.parse(both.find((s) => s.name === 'agent')?.uploads.find((u) => u.name === 'agent.json')?.content ?? '{}') as
      { originSegments?: { dir: string; fragmentSeconds: number; sources: string[] } };
    assert.deepEqual(agent.originSegments, { dir: '/var/lib/dvr/origin-fragments', fragmentSeconds: 2,
      sources: ['rtmp://10.0.0.4:1935', 'rtmp://127.0.0.1:1935'] });
    const alone = plan('o2');
    const aloneConf = alone.find((s) => s.name === 'nginx (origin)')?.uploads[0]?.content ?? '';
    assert.doesNotMatch(aloneConf, /hls_path/, 'an origin without a transcoder beside it only relays');
    assert.match(aloneConf, /[?&]node=o2/);
  });
  it('quotes words for the remote shell', () => {
    assert.equal(shellQuote('/srv/dvr'), '/srv/dvr');
    assert.equal(shellQuote("it's; rm -rf /"), `'it'\\''s; rm -rf /'`);
  });

  it('pins host keys: first use only when allowed, then the same key or nothing', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dvr-known-hosts-'));
    const file = path.join(dir, 'known_hosts');
    const kh = await KnownHosts.open(file);
    const blob = (type: string, body: string): Buffer => {
      const t = Buffer.from(type); const len = Buffer.alloc(4); len.writeUInt32BE(t.length);
      return Buffer.concat([len, t, Buffer.from(body)]);
    };
    const k1 = blob('ssh-ed25519', 'one'), k2 = blob('ssh-ed25519', 'two');
    assert.equal(keyType(k1), 'ssh-ed25519');
    const refused = kh.verify('10.0.0.2', k1, false);
    assert.equal(refused.ok, false);
    assert.match(refused.ok ? '' : refused.reason, /10\.0\.0\.2 is not in .*known_hosts .*SHA256:/);
    assert.deepEqual(kh.verify('[10.0.0.2]:2222', k1, true), { ok: true, added: true });
    assert.deepEqual(kh.verify('[10.0.0.2]:2222', k1, false), { ok: true, added: false });
    const changed = kh.verify('[10.0.0.2]:2222', k2, true);
    assert.equal(changed.ok, false, 'a changed key is refused even when new keys are accepted');
    assert.match(changed.ok ? '' : changed.reason, /has changed/);
    await kh.flush();
    const again = await KnownHosts.open(file);
    assert.deepEqual(again.verify('[10.0.0.2]:2222', k1, false), { ok: true, added: false }, 'the pin survives in the file');
    assert.equal(((await fs.stat(file)).mode & 0o777), 0o600);
    await fs.rm(dir, { recursive: true });
  });
});
