// Provisioning for real: hosts are network namespaces, each with its own address and sshd. The
// runner installs nfs-ganesha on one (checked over the NFS protocol with libnfs' nfs-ls / nfs-cp),
// nginx on another (a file served on the host's address), an origin and the agent on a third (pm2
// runs it, it registers with a controller on this machine, and a publisher's stream ends up played
// through the edge); Ansible provisions a fourth with the same scripts.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { connect as netConnect } from 'node:net';
import path from 'node:path';
import { silentLogger } from '../../common/log.js';
import type { Controller } from '../../controller/controller.js';
import { StaticProvider } from '../../controller/providers.js';
import { writeAnsibleInventory } from '../../provisioning/ansible.js';
import { buildAgentBundle } from '../../provisioning/bundle.js';
import { parseInventory, PROVISIONING_DIR, type Inventory } from '../../provisioning/inventory.js';
import { KnownHosts } from '../../provisioning/known-hosts.js';
import { provision, type HostResult, type RunOptions } from '../../provisioning/runner.js';
import { startTestController } from '../support/controller.js';
import { parsePlaylist } from '../support/m3u8.js';
import { canMakeHosts, createTestNet, type TestNet } from '../support/netns.js';
import { kill, publish } from '../support/origin.js';
import { freePort, run, until } from '../support/run.js';

const ADMIN = 'provisioning-test-admin-token';

describe('provisioning over SSH (network namespaces, real sshd, nfs-ganesha, nginx, pm2, Ansible)', function () {
  this.timeout(240_000);
  let net: TestNet;
  let controller: Controller;
  let apiUrl: string;
  let inventoryJson: { inventory: Record<string, unknown> };
  let inv: Inventory;
  let knownHosts: KnownHosts;
  let bundle: string;
  const progress: string[] = [];

  before(async function () {
    const why = await canMakeHosts();
    if (why) { console.log(`      skipped: ${why}`); this.skip(); }
    net = await createTestNet(['nfs1', 'edge1', 'tx1', 'ans1', 'pool1']);
    const port = await freePort();
    controller = await startTestController(net.dir, net.gateway, port, ADMIN);
    apiUrl = `http://${net.gateway}:${port}/api/v1`;
    const host = (name: string, roles: string[]): object => ({ name, address: net.host(name).address, roles,
      prefix: path.join(net.dir, 'hosts', name) });
    inventoryJson = { inventory: {
      ssh: { user: 'root', privateKey: net.clientKey, timeoutSeconds: 10 },
      networks: {
        writers: [`${net.gateway}/32`, `${net.host('tx1').address}/32`],
        readers: [`${net.host('edge1').address}/32`, `${net.host('ans1').address}/32`],
      },
      // This kernel has no NFS client: the nodes mount the storage host's export over the network with
      // the sshfs stand-in (each host in its own mount namespace); the NFS export is checked over the protocol.
      storage: { server: 'nfs1', backend: 'ganesha', export: path.join(net.dir, 'export'), root: path.join(net.dir, 'storage'), mount: true,
        transport: 'sshfs', sshfs: { identityFile: net.clientKey } },
      controller: { url: `http://${net.gateway}:${port}`, agentTokenFile: path.join(net.dir, 'agent-token'),
        signingSecretFile: path.join(net.dir, 'signing-secret') },
      http: { port: 8080 },
      hosts: [host('nfs1', ['storage']), host('edge1', ['edge']), host('tx1', ['origin', 'transcoder'])],
    } };
    await fs.writeFile(path.join(net.dir, 'signing-secret'), `${controller.signingSecret}\n`, { mode: 0o600 });
    inv = parseInventory(inventoryJson);
    knownHosts = await KnownHosts.open(path.join(net.dir, 'known_hosts'));
    bundle = await buildAgentBundle(path.dirname(PROVISIONING_DIR), path.join(net.dir, 'dvr-agent.tgz'));
  });

  after(async () => {
    await controller?.close();
    await net?.destroy();
  });

  const options = (over: Partial<RunOptions> = {}): RunOptions => ({
    inventory: inv, knownHosts, acceptNewHostKeys: false, check: false, agentBundle: bundle,
    agentToken: controller.agentToken, signingSecret: controller.signingSecret, onProgress: (h, l) => progress.push(`${h} | ${l}`), ...over,
  });
  const byHost = (results: HostResult[]): Record<string, string> =>
    Object.fromEntries(results.map((r) => [r.host, r.outcome + (r.error ? `: ${r.error}` : '')]));
  const nfs = (url: string, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> => run(url, args);

  it('provisions the storage server (ganesha), an edge (nginx) and an origin-transcoder (nginx-rtmp + agent under pm2) '
    + 'whose publisher plays through the edge, pinning host keys', async () => {
    // The roles' capacities (an edge takes 500 viewers), as a sysadmin stores them.
    const lc = await fs.readFile(path.join(PROVISIONING_DIR, '..', 'launch-configs', 'single-machine.json'), 'utf8');
    const lcStored = await fetch(`${apiUrl}/launch-configs`, { method: 'POST', body: lc,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' } });
    assert.equal(lcStored.status, 201);
    const results = await provision(options({ acceptNewHostKeys: true }));
    assert.deepEqual(byHost(results), { nfs1: 'changed', edge1: 'changed', tx1: 'changed' }, progress.join('\n'));
    const pinned = (await fs.readFile(knownHosts.file, 'utf8')).trim().split('\n');
    assert.equal(pinned.length, 3);
    for (const name of ['nfs1', 'edge1', 'tx1']) {
      const key = net.host(name).hostKeyPub.split(' ').slice(0, 2).join(' ');
      assert.ok(pinned.includes(`${net.host(name).address} ${key}`), `${name}'s key is pinned`);
    }

    // NFS, over the protocol: this machine is a writer; uid 0 is squashed; the 'dvr' uid writes.
    const exp = `nfs://${net.host('nfs1').address}${path.join(net.dir, 'export')}`;
    const ls = await nfs('nfs-ls', `${exp}?version=4`);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /\.dvr-storage/);
    const local = path.join(net.dir, 'probe.txt');
    await fs.writeFile(local, 'segment bytes\n');
    const asRoot = await nfs('nfs-cp', local, `${exp}/by-root.txt`);
    assert.notEqual(asRoot.code, 0, 'root is squashed');
    const asDvr = await nfs('nfs-cp', local, `${exp}/by-dvr.txt?uid=5005&gid=5005`);
    assert.equal(asDvr.code, 0, asDvr.stderr);
    const st = await fs.stat(path.join(net.dir, 'export', 'by-dvr.txt'));
    assert.deepEqual([st.uid, st.size], [5005, 14]);
    // A reader's address may read but not write; an address in neither list gets nothing.
    const edge = net.host('edge1');
    const read = await net.exec(edge, ['nfs-cat', `${exp}/by-dvr.txt?uid=5005&gid=5005`]);
    assert.equal(read.stdout, 'segment bytes\n', read.stderr);
    assert.notEqual((await net.exec(edge, ['nfs-cp', local, `${exp}/by-edge.txt?uid=5005&gid=5005`])).code, 0, 'readers are read-only');
    const outsider = await net.exec(net.host('nfs1'), ['nfs-ls', `${exp}?version=4`]);
    assert.notEqual(outsider.code, 0, `an address outside the networks is refused: ${outsider.stdout}`);
    const exportsConf = await fs.readFile(path.join(net.dir, 'hosts', 'nfs1', 'etc', 'ganesha', 'ganesha.conf'), 'utf8');
    assert.doesNotMatch(exportsConf, /Clients = \*/);
    assert.equal((await fs.stat(path.join(net.dir, 'export'))).mode & 0o777, 0o755);

    // The edge's nginx serves the storage, through its own mount of the storage host's export, on the
    // host's own address, once its agent has the controller's stream maps (until then it refuses).
    await fs.mkdir(path.join(net.dir, 'export', 'live', 'demo'), { recursive: true });
    await fs.writeFile(path.join(net.dir, 'export', 'live', 'demo', 'index.m3u8'), '#EXTM3U\n#EXT-X-TARGETDURATION:2\n');
    // The export belongs to the agents' account, as what their packagers write would.
    assert.equal((await run('chown', ['-R', '5005:5005', path.join(net.dir, 'export', 'live')])).code, 0);
    const res = await until('edge1 to serve the export through its mount', async () => {
      const r = await fetch(`http://${edge.address}:8080/live/demo/index.m3u8`);
      return r.status === 200 ? r : undefined;
    }, 20_000, 200);
    assert.deepEqual(await fs.readdir(path.join(net.dir, 'storage')), [],
      'this machine\'s own mountpoint is empty: the edge read through its mount');
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(await res.text(), '#EXTM3U\n#EXT-X-TARGETDURATION:2\n');

    // The agent runs under pm2 as 'dvr' and registers with the controller.
    const tx = net.host('tx1');
    const home = path.join(net.dir, 'hosts', 'tx1', 'var', 'lib', 'dvr');
    const jlist = await net.exec(tx, ['runuser', '-u', 'dvr', '--', 'env', `HOME=${home}`, `PM2_HOME=${home}/pm2`,
      'node', path.join(net.dir, 'hosts', 'tx1', 'opt', 'dvr', 'current', 'node_modules', 'pm2', 'bin', 'pm2'), 'jlist']);
    const apps = JSON.parse(jlist.stdout.slice(jlist.stdout.indexOf('['))) as
      Array<{ name: string; pm2_env: { status: string; username?: string } }>;
    assert.deepEqual(apps.map((a) => [a.name, a.pm2_env.status]), [['dvr-agent', 'online']]);
    // Its logs rotate: logrotate, forced, with the config the provisioning installed.
    const rotate = path.join(net.dir, 'hosts', 'tx1', 'etc', 'logrotate.d', 'dvr-agent');
    const rotated = await run('logrotate', ['-f', '-s', path.join(net.dir, 'logrotate.state'), rotate]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const logs = await fs.readdir(path.join(home, 'pm2', 'logs'));
    assert.ok(logs.includes('dvr-agent-out.log.1'), `rotated: ${logs.join(' ')}`);
    assert.ok(logs.includes('dvr-agent-out.log'), 'pm2 goes on writing the current one');
    // At boot systemd has pm2 resurrect the list pm2 saved: the daemon's PM2_HOME, pm2 through the
    // current release's symlink (a later release needs no new unit), and a unit systemd accepts.
    const unitFile = path.join(net.dir, 'hosts', 'tx1', 'etc', 'systemd', 'system', 'pm2-dvr.service');
    const unit = await fs.readFile(unitFile, 'utf8');
    assert.match(unit, new RegExp(`^Environment=HOME=${home} PM2_HOME=${home}/pm2 `, 'm'));
    const currentPm2 = path.join(net.dir, 'hosts', 'tx1', 'opt', 'dvr', 'current', 'node_modules', 'pm2', 'bin', 'pm2');
    assert.ok(unit.split('\n').includes(`ExecStart=${process.execPath} ${currentPm2} resurrect`), unit);
    await fs.access(path.join(home, 'pm2', 'dump.pm2'));
    if ((await run('systemd-analyze', ['--version'])).code === 0) {
      const verified = await run('systemd-analyze', ['verify', unitFile]);
      assert.equal(verified.code, 0, verified.stderr);
    }
    const node = await until('tx1 to register with the controller', async () => {
      const r = await fetch(`${apiUrl}/nodes?role=transcoder`, { headers: { authorization: `Bearer ${ADMIN}` } });
      const nodes = await r.json() as Array<{ id: string; state: string }>;
      return nodes.find((n) => n.id === 'tx1' && n.state === 'inservice');
    }, 30_000, 250);
    assert.equal(node.id, 'tx1');
    // The edge's agent reports its viewers (nginx's connections) with its heartbeats.
    const viewer = netConnect(8080, edge.address);
    try {
      const edgeNode = await until('edge1 to report a viewer', async () => {
        const r = await fetch(`${apiUrl}/nodes?role=edge`, { headers: { authorization: `Bearer ${ADMIN}` } });
        const nodes = await r.json() as Array<{ id: string; state: string; metrics: { connections?: number } }>;
        return nodes.find((n) => n.id === 'edge1' && n.state === 'inservice' && (n.metrics.connections ?? 0) >= 1);
      }, 30_000, 250);
      assert.equal(edgeNode.id, 'edge1');
    } finally {
      viewer.destroy();
    }
    // tx1 is origin and transcoder at once: a publisher's copy-mode TS stream is segmented by its
    // nginx (workers as 'dvr'), packaged by its agent onto the storage and played through the edge.
    const fragments = path.join(net.dir, 'hosts', 'tx1', 'var', 'lib', 'dvr', 'origin-fragments', 'live');
    const fst = await fs.stat(fragments);
    assert.deepEqual([fst.uid, fst.mode & 0o777], [5005, 0o750], 'the fragments are the agent account\'s, and private');
    const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const made = await fetch(`${apiUrl}/streams`, { method: 'POST', headers: admin,
      body: JSON.stringify({ app: 'live', stream: 'cam', format: 'ts', mode: 'copy', signedPlayback: true }) });
    assert.equal(made.status, 201, await made.text());
    const key = new URL(((await (await fetch(`${apiUrl}/streams/live/cam/publish`, { headers: admin })).json()) as { url: string }).url)
      .searchParams.get('key');
    const publisher = publish(`rtmp://${tx.address}:1935/live/cam?key=${key ?? ''}`, 60);
    try {
      // Signed: the URL the API hands out plays through the edge, which checks it with the secret
      // provisioning gave it; the bare URL is refused.
      const playback = await fetch(`${apiUrl}/streams/live/cam/playback`, { headers: admin });
      const { url: signed } = await playback.json() as { url: string };
      assert.equal(playback.status, 200, JSON.stringify(signed));
      assert.match(signed, new RegExp(`^http://${edge.address.replace(/\./g, '\\.')}:8080/s/\\d+/[A-Za-z0-9_-]{22}/live/cam/master\\.m3u8$`));
      const media = new URL('source/index.m3u8', signed);
      const played = await until('live/cam to play through edge1', async () => {
        const r = await fetch(media).catch(() => undefined);
        const p = r?.ok ? parsePlaylist(await r.text()) : undefined;
        return p && p.segments.length >= 2 ? p : undefined;
      }, 60_000, 250).catch(async (err: Error) => {
        const stream = await (await fetch(`${apiUrl}/streams/live/cam`, { headers: admin })).text();
        const left = await fs.readdir(path.join(fragments, 'cam')).catch((e: Error) => e.message);
        const nginxLog = await fs.readFile(path.join(net.dir, 'hosts', 'tx1', 'var', 'lib', 'dvr', 'nginx', 'error.log'), 'utf8')
          .catch((e: Error) => e.message);
        const logs = path.join(home, 'pm2', 'logs');
        const agentLog = (await Promise.all((await fs.readdir(logs).catch(() => [] as string[]))
          .map(async (f) => `${f}: ${(await fs.readFile(path.join(logs, f), 'utf8')).slice(-3000)}`))).join('\n');
        throw new Error(`${err.message}; the stream: ${stream}; fragments: ${String(left)}; `
          + `tx1's nginx logged: ${nginxLog.slice(-2000)}; its agent logged: ${agentLog}`);
      });
      assert.ok(played.segments.every((seg) => Math.abs(seg.duration - 2) < 0.1),
        `2 s segments: ${played.segments.map((seg) => seg.duration).join(',')}`);
      assert.equal((await fetch(`http://${edge.address}:8080/live/cam/source/index.m3u8`)).status, 403, 'the bare URL is refused');
      const seg = await fetch(new URL(played.segments[0]?.uri ?? '', media));
      assert.equal(seg.headers.get('content-type'), 'video/mp2t');
      assert.ok((await seg.arrayBuffer()).byteLength > 1000);
      // The edge's agent serves the time-shift URLs behind its nginx, under the same token.
      const shifted = await fetch(new URL('source/index.m3u8?start=-4', signed));
      const shiftedText = await shifted.text();
      assert.equal(shifted.status, 200, shiftedText);
      assert.equal(parsePlaylist(shiftedText).playlistType, 'EVENT');
      assert.equal((await fetch(`http://${edge.address}:8080/live/cam/source/index.m3u8?start=-4`)).status, 403);
      // A clip through the API: a signed URL on the edge, which cuts the MP4 from the segments.
      const first = played.segments[0]?.wallStart ?? 0;
      const clip = await fetch(`${apiUrl}/streams/live/cam/clip?from=${Math.ceil(first / 1000)}&duration=2`, { headers: admin });
      const clipJson = await clip.json() as { url: string; from: string; duration: number };
      assert.equal(clip.status, 200, JSON.stringify(clipJson));
      assert.match(clipJson.url, /\/s\/\d+\/[A-Za-z0-9_-]{22}\/live\/cam\/archive-\d+-2\.mp4$/);
      const mp4 = await fetch(clipJson.url);
      assert.equal(mp4.status, 200);
      assert.equal(mp4.headers.get('content-type'), 'video/mp4');
      assert.equal(Buffer.from(await mp4.arrayBuffer()).subarray(4, 8).toString('latin1'), 'ftyp', 'an MP4');
      const badClip = await fetch(`${apiUrl}/streams/live/cam/clip?from=yesterday&duration=2`, { headers: admin });
      assert.equal(badClip.status, 400);
      const pullers = (await run('pgrep', ['-af', 'ffmpeg'])).stdout.split('\n')
        .filter((l) => l.includes('live/cam') && !l.includes('key='));
      assert.deepEqual(pullers, [], 'no puller: the agent takes the origin\'s fragments');
    } finally {
      await kill(publisher);
    }
    // The segments went to the storage host through tx1's mount (this machine's mountpoint stays empty).
    const stored = await fs.readdir(path.join(net.dir, 'export', 'live', 'cam', 'source'));
    assert.ok(stored.filter((f) => f.endsWith('.ts')).length >= 2, `segments on the storage host: ${stored.join(' ')}`);
    assert.equal((await fs.stat(path.join(net.dir, 'export', 'live', 'cam', 'source',
      stored.find((f) => f.endsWith('.ts')) ?? ''))).uid, 5005);
    const agentConf = await fs.stat(path.join(net.dir, 'hosts', 'tx1', 'etc', 'dvr', 'agent.json'));
    assert.equal(agentConf.mode & 0o777, 0o640, 'the agent config (it holds the token) is not world-readable');
    const originConf = await fs.stat(path.join(net.dir, 'hosts', 'tx1', 'etc', 'dvr', 'nginx', 'nginx.conf'));
    assert.equal(originConf.mode & 0o777, 0o640, 'the origin\'s config (it holds the hook token) is not world-readable');
    const secretConf = await fs.stat(path.join(net.dir, 'hosts', 'edge1', 'etc', 'dvr', 'nginx', 'signing.conf'));
    assert.deepEqual([secretConf.mode & 0o777, secretConf.uid, secretConf.gid], [0o640, 0, 5005],
      'the edge\'s secret: root and nginx\'s account');
    assert.ok(!progress.join('\n').includes(controller.signingSecret), 'the signing secret never appears in the progress output');
    const edgeMaster = (await fs.readFile(path.join(net.dir, 'hosts', 'edge1', 'var', 'lib', 'dvr', 'nginx', 'nginx.pid'), 'utf8')).trim();
    assert.equal((await run('ps', ['-o', 'user=', '-p', edgeMaster])).stdout.trim(), 'dvr',
      'the edge\'s nginx runs as the agent\'s account');
    assert.ok(!progress.join('\n').includes(controller.agentToken), 'the agent token never appears in the progress output');
  });

  it('a re-run reports every host unchanged; --check after an inventory change says what would change and changes nothing', async () => {
    assert.deepEqual(byHost(await provision(options())), { nfs1: 'unchanged', edge1: 'unchanged', tx1: 'unchanged' });
    const before = await fs.readFile(path.join(net.dir, 'hosts', 'edge1', 'etc', 'dvr', 'nginx', 'nginx.conf'), 'utf8');
    const changed = parseInventory({ inventory: { ...inventoryJson.inventory, http: { port: 8081 } } });
    progress.length = 0;
    const results = await provision(options({ inventory: changed, check: true, only: ['edge1'] }));
    assert.deepEqual(byHost(results), { edge1: 'would change' });
    assert.ok(progress.some((l) => /edge1 \| nginx \(edge\): nginx: would: write .*nginx\.conf/.test(l)), progress.join('\n'));
    assert.equal(await fs.readFile(path.join(net.dir, 'hosts', 'edge1', 'etc', 'dvr', 'nginx', 'nginx.conf'), 'utf8'), before);
    assert.equal((await fetch(`http://${net.host('edge1').address}:8080/live/demo/index.m3u8`)).status, 200);
    // Stream maps an older agent wrote (no content steering pathway): provisioning this release adds
    // the map its config uses, so nginx -t passes and the edge serves on.
    const maps = path.join(net.dir, 'hosts', 'edge1', 'var', 'lib', 'dvr', 'nginx', 'streams.conf');
    await fs.writeFile(maps, 'map $uri $dvr_sig_required {\n    default 0;\n}\nmap $uri $dvr_stream_ended {\n    default 0;\n}\n');
    assert.deepEqual(byHost(await provision(options({ only: ['edge1'] }))), { edge1: 'changed' });
    assert.match(await fs.readFile(maps, 'utf8'), /^map \$http_x_dvr_relay \$dvr_pathway \{\n {4}default "";\n\}$/m);
    assert.equal((await fetch(`http://${net.host('edge1').address}:8080/live/demo/index.m3u8`)).status, 200);
  });

  it('a daemon of another pm2 (a release that changed pm2) is replaced by pm2 update; the agent stays online', async () => {
    const tx = net.host('tx1');
    const home = path.join(net.dir, 'hosts', 'tx1', 'var', 'lib', 'dvr');
    const pm2 = path.join(net.dir, 'hosts', 'tx1', 'opt', 'dvr', 'current', 'node_modules', 'pm2');
    const version = (JSON.parse(await fs.readFile(path.join(pm2, 'package.json'), 'utf8')) as { version: string }).version;
    const pid = async (): Promise<string> => (await fs.readFile(path.join(home, 'pm2', 'pm2.pid'), 'utf8')).trim();
    const daemonBefore = await pid();
    // As the previous release's daemon would have recorded it.
    await fs.writeFile(path.join(home, 'pm2', '.dvr-pm2-version'), '0.0.1\n');
    progress.length = 0;
    assert.deepEqual(byHost(await provision(options({ only: ['tx1'] }))), { tx1: 'changed' });
    assert.ok(progress.some((l) => l.includes(`change: update pm2's daemon (0.0.1 -> ${version})`)), progress.join('\n'));
    assert.equal((await fs.readFile(path.join(home, 'pm2', '.dvr-pm2-version'), 'utf8')).trim(), version);
    assert.notEqual(await pid(), daemonBefore, 'a new daemon');
    const jlist = await net.exec(tx, ['runuser', '-u', 'dvr', '--', 'env', `HOME=${home}`, `PM2_HOME=${home}/pm2`,
      'node', path.join(pm2, 'bin', 'pm2'), 'jlist']);
    const apps = JSON.parse(jlist.stdout.slice(jlist.stdout.indexOf('['))) as Array<{ name: string; pm2_env: { status: string } }>;
    assert.deepEqual(apps.map((a) => [a.name, a.pm2_env.status]), [['dvr-agent', 'online']]);
    assert.deepEqual(byHost(await provision(options({ only: ['tx1'] }))), { tx1: 'unchanged' });
  });

  it('dvr-provision (the CLI): --check prints progress per host and a summary; a bad inventory exits 2 naming the JSON path', async () => {
    const file = path.join(net.dir, 'cluster.json');
    await fs.writeFile(file, JSON.stringify(inventoryJson));
    const cli = path.join(PROVISIONING_DIR, '..', 'dist', 'bin', 'dvr-provision.js');
    const r = await run('node', [cli, 'apply', '--inventory', file, '--check', '--known-hosts', knownHosts.file], 120_000);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^edge1 \| nginx \(edge\): result: unchanged$/m);
    assert.match(r.stdout, /^nfs1 +10\.213\.\d+\.2 +unchanged$/m);
    assert.match(r.stdout, /^tx1 +10\.213\.\d+\.4 +unchanged$/m);
    await fs.writeFile(file, JSON.stringify({ inventory: { ...inventoryJson.inventory, uid: 0 } }));
    const bad = await run('node', [cli, 'apply', '--inventory', file], 30_000);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /\$\.inventory\.uid: must be >= 100/);
  });

  it('stops a host at a failing step and shows its output; the other hosts go on', async () => {
    const file = path.join(net.dir, 'not-a-directory');
    await fs.writeFile(file, '');
    const broken = parseInventory({ inventory: { ...inventoryJson.inventory, hosts: [
      ...(inventoryJson.inventory['hosts'] as object[]).filter((h) => (h as { name: string }).name !== 'edge1'),
      { name: 'edge1', address: net.host('edge1').address, roles: ['edge'], prefix: file },
    ] } });
    const results = await provision(options({ inventory: broken }));
    const edge = results.find((r) => r.host === 'edge1');
    assert.equal(edge?.outcome, 'failed');
    assert.match(edge?.error ?? '', /step sshfs-client \(reader\) failed \(exit 1\)/);
    assert.match(edge?.error ?? '', /Not a directory/);
    assert.deepEqual(byHost(results.filter((r) => r.host !== 'edge1')), { nfs1: 'unchanged', tx1: 'unchanged' });
  });

  it('refuses a host whose key changed, and a new host unless told to trust it', async () => {
    await net.replaceHostKey(net.host('tx1'));
    const results = await provision(options());
    const tx = results.find((r) => r.host === 'tx1');
    assert.equal(tx?.outcome, 'failed');
    assert.match(tx?.error ?? '', /host key of 10\.213\.\d+\.\d+ has changed/);
    assert.deepEqual(tx?.steps, [], 'nothing ran on it');
    assert.deepEqual(byHost(results.filter((r) => r.host !== 'tx1')), { nfs1: 'unchanged', edge1: 'unchanged' });

    const fresh = await KnownHosts.open(path.join(net.dir, 'known_hosts.fresh'));
    // (The storage host's key, which edge1's mount checks, is the one pinned before.)
    const storageKey = knownHosts.linesFor([net.host('nfs1').address]).join('\n');
    const unknown = await provision(options({ knownHosts: fresh, only: ['edge1'], storageKnownHosts: `${storageKey}\n` }));
    assert.equal(unknown[0]?.outcome, 'failed');
    assert.match(unknown[0]?.error ?? '', /is not in .*known_hosts\.fresh .*--accept-new-host-keys/);
  });

  it('Ansible: the playbook passes --syntax-check and provisions a host with the same scripts; a second run changes nothing', async () => {
    const ans = net.host('ans1');
    // The sysadmin pins the host's key beforehand (its public key, read on the host).
    await fs.appendFile(knownHosts.file, `${ans.address} ${ans.hostKeyPub.split(' ').slice(0, 2).join(' ')}\n`);
    const pinned = await KnownHosts.open(knownHosts.file);
    const one = parseInventory({ inventory: { ...inventoryJson.inventory, storage: { root: path.join(net.dir, 'storage'), mount: false },
      hosts: [{ name: 'ans1', address: ans.address, roles: ['edge'], prefix: path.join(net.dir, 'hosts', 'ans1') }] } });
    await fs.mkdir(path.join(net.dir, 'storage', 'live', 'demo'), { recursive: true });
    await fs.writeFile(path.join(net.dir, 'storage', 'live', 'demo', 'index.m3u8'), '#EXTM3U\n#EXT-X-TARGETDURATION:2\n');
    const out = await writeAnsibleInventory(one, {}, pinned, path.join(net.dir, 'ansible'));
    const playbook = path.join(PROVISIONING_DIR, 'ansible', 'site.yml');
    const env = ['env', 'ANSIBLE_NOCOLOR=1', 'ANSIBLE_RETRY_FILES_ENABLED=0', `ANSIBLE_LOCAL_TEMP=${net.dir}/ansible-tmp`,
      'ansible-playbook'];
    const syntax = await run(env[0] ?? 'env', [...env.slice(1), '--syntax-check', '-i', out.inventoryFile, playbook]);
    assert.equal(syntax.code, 0, syntax.stdout + syntax.stderr);
    const first = await run('env', [...env.slice(1), '-i', out.inventoryFile, playbook], 180_000);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /ans1\s+: ok=\d+\s+changed=[1-9]/);
    const res = await fetch(`http://${ans.address}:8080/live/demo/index.m3u8`);
    assert.equal(res.status, 200);
    const again = await run('env', [...env.slice(1), '-i', out.inventoryFile, playbook], 180_000);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /ans1\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0/);
    // What it uploaded (configs, and the secrets of a host that has them) is gone from the host.
    const uploads = /"dvr_uploads": "([^"]+)"/.exec(await fs.readFile(out.inventoryFile, 'utf8'))?.[1];
    assert.ok(uploads, 'the inventory names the upload directory');
    await assert.rejects(fs.access(uploads), 'the upload directory was removed');
  });

  it('the controller\'s static provider adds a pool host on scale-out (it joins by heartbeat) '
    + 'and stops its agent on scale-in', async () => {
    const pool = net.host('pool1');
    await fs.appendFile(knownHosts.file, `${pool.address} ${pool.hostKeyPub.split(' ').slice(0, 2).join(' ')}\n`);
    const dataDir = path.join(net.dir, 'controller2');
    await fs.mkdir(dataDir);
    const port = await freePort();
    const poolFile = path.join(net.dir, 'pool.json');
    await fs.writeFile(poolFile, JSON.stringify({ inventory: { ...inventoryJson.inventory,
      networks: { writers: [`${pool.address}/32`] }, storage: { root: path.join(net.dir, 'storage'), mount: false },
      controller: { url: `http://${net.gateway}:${port}`, agentTokenFile: path.join(dataDir, 'agent-token') },
      hosts: [{ name: 'pool1', address: pool.address, roles: ['transcoder'], prefix: path.join(net.dir, 'hosts', 'pool1') }] } }));
    const c2 = await startTestController(dataDir, net.gateway, port, ADMIN, {
      provider: new StaticProvider({ inventoryFile: poolFile, knownHostsFile: knownHosts.file, acceptNewHostKeys: false,
        workDir: path.join(net.dir, 'controller2-work'), log: silentLogger() }),
    });
    const api = `http://${net.gateway}:${port}/api/v1`;
    const call = async (method: string, url: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
      const r = await fetch(`${api}${url}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: r.status, json: await r.json() };
    };
    try {
      const lc = JSON.parse(await fs.readFile(path.join(PROVISIONING_DIR, '..', 'launch-configs', 'single-machine.json'),
        'utf8')) as unknown;
      assert.equal((await call('POST', '/launch-configs', lc)).status, 201);
      const out = await call('POST', '/scale', { role: 'transcoder', count: 1 });
      assert.equal(out.status, 200, JSON.stringify(out.json));
      assert.deepEqual((out.json as { nodes: string[] }).nodes, ['pool1']);
      await until('pool1 to join by heartbeat', async () => {
        const nodes = (await call('GET', '/nodes?role=transcoder')).json as Array<{ id: string; state: string }>;
        return nodes.find((n) => n.id === 'pool1' && n.state === 'inservice');
      }, 30_000, 250);
      const none = await call('POST', '/scale', { role: 'transcoder', count: 1 });
      assert.equal(none.status, 503);
      assert.match((none.json as { message: string }).message, /static pool .*pool\.json\) has no free transcoder host/);

      const scaledIn = await call('POST', '/scale', { role: 'transcoder', count: -1 });
      assert.deepEqual((scaledIn.json as { nodes: string[] }).nodes, ['pool1']);
      const home = path.join(net.dir, 'hosts', 'pool1', 'var', 'lib', 'dvr');
      const jlist = await net.exec(pool, ['runuser', '-u', 'dvr', '--', 'env', `HOME=${home}`, `PM2_HOME=${home}/pm2`,
        'node', path.join(net.dir, 'hosts', 'pool1', 'opt', 'dvr', 'current', 'node_modules', 'pm2', 'bin', 'pm2'), 'jlist']);
      assert.deepEqual(JSON.parse(jlist.stdout.slice(jlist.stdout.indexOf('['))), [], 'pm2 runs no agent on the removed host');
      const nodes = (await call('GET', '/nodes?role=transcoder')).json as Array<{ id: string; state: string }>;
      assert.equal(nodes.find((n) => n.id === 'pool1')?.state, 'gone');
    } finally {
      await c2.close();
    }
  });
});
