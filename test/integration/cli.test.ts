// The commands as a sysadmin types them: --help and --version answer on stdout with exit 0, a bad
// command line is one line on stderr with exit 2 (the nfs-kit scripts too), and `dvr streams|nodes|
// launch-config|scale` drive a real controller with the URL and token it left in its data directory.
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROVISIONING_DIR } from '../../provisioning/inventory.js';
import { freePort, tempDir } from '../support/run.js';
import { spawnController } from '../support/controller.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const binDir = path.join(here, '../../bin');
const examples = path.resolve(here, '../../../launch-configs');
const kit = path.join(PROVISIONING_DIR, 'nfs-kit');
const AGENT = 'agent-token-for-cli-tests-0123456789';

interface Ran { code: number; stdout: string; stderr: string }
function runWith(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, DVR_ADMIN_TOKEN: '', DVR_API_URL: '', ...env }, timeout: 30_000, ...(cwd ? { cwd } : {}) },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
  });
}
const node = (bin: string, args: string[], env?: NodeJS.ProcessEnv, cwd?: string): Promise<Ran> =>
  runWith(process.execPath, [path.join(binDir, bin), ...args], env, cwd);

describe('command lines', function () {
  this.timeout(60_000);
  const commands = [['dvr', 'dvr.cjs'], ['dvr-agent', 'dvr-agent.cjs'], ['dvr-controller', 'dvr-controller.js'],
    ['dvr-provision', 'dvr-provision.js']] as const;

  it('every command answers --help and --version on stdout with exit 0, and is in package.json', async () => {
    const pkg = JSON.parse(await fs.readFile(path.resolve(here, '../../../package.json'), 'utf8')) as
      { version: string; bin: Record<string, string> };
    for (const [name, file] of commands) {
      assert.equal(pkg.bin[name], `dist/bin/${file}`, `${name} in package.json bin`);
      const help = await node(file, ['--help']);
      assert.equal(help.code, 0, `${name} --help: ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`^usage: ${name}`), `${name} --help`);
      assert.equal(help.stderr, '');
      const version = await node(file, ['--version']);
      assert.equal(version.code, 0, `${name} --version`);
      assert.equal(version.stdout, `${name} ${pkg.version}\n`);
    }
    for (const sub of ['streams', 'nodes', 'launch-config', 'scale', 'lab', 'size', 'recordings']) {
      const r = await node('dvr.cjs', [sub, '--help']);
      assert.equal(r.code, 0, `dvr ${sub} --help`);
      assert.match(r.stdout, new RegExp(`^usage: dvr ${sub}`));
    }
  });

  it('a bad command line is one line on stderr and exit 2', async () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['dvr-agent.cjs', ['--bogus'], /^dvr-agent: Unknown option '--bogus' \(see dvr-agent --help\)\n$/],
      ['dvr-agent.cjs', [], /^dvr-agent: --config <agent.json> is required/],
      ['dvr-controller.js', ['--port'], /^dvr-controller: Option '--port <value>' argument missing/],
      ['dvr-controller.js', ['--port', '99999'], /^dvr-controller: --port: '99999' is not a TCP port/],
      ['dvr-provision.js', ['apply'], /^dvr-provision: --inventory FILE is required/],
      ['dvr-provision.js', ['destroy', '--inventory', 'x.json'], /^dvr-provision: unknown command 'destroy'/],
      ['dvr.cjs', [], /^dvr: which command\?/],
      ['dvr.cjs', ['stream', 'list'], /^dvr: unknown command 'stream'/],
      ['dvr.cjs', ['start', '--port', 'x'], /^dvr: --port: 'x' is not a TCP port/],
      ['dvr.cjs', ['streams', 'create', 'cam1'], /^dvr streams: 'cam1' is not <app>\/<stream>/],
      ['dvr.cjs', ['streams', 'create', 'live/cam1', '--ladder', '720p:tall'], /^dvr streams: --ladder: item 1 '720p:tall': height 'tall'/],
      ['dvr.cjs', ['streams', 'list', 'extra'], /^dvr streams: unexpected argument 'extra'/],
      ['dvr.cjs', ['nodes', 'rm', 'x'], /^dvr nodes: unknown subcommand 'rm'/],
      ['dvr.cjs', ['scale', 'edge', '3'], /^dvr scale: '3' is not \+N or -N/],
      ['dvr.cjs', ['scale', 'cdn', '+1'], /^dvr scale: 'cdn' is not a role/],
      ['dvr.cjs', ['lab', 'fault', 'melt'], /^dvr lab: unknown fault 'melt'/],
      ['dvr.cjs', ['size', '--streams', '3', '--window', '2h'], /^dvr size: give --bitrate or --renditions/],
      ['dvr.cjs', ['size', '--streams', '3', '--bitrate', 'fast', '--window', '2h'], /^dvr size: --bitrate: 'fast' is not a bit rate/],
    ];
    for (const [file, args, message] of cases) {
      const r = await node(file, args);
      assert.equal(r.code, 2, `${file} ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, `${file} ${args.join(' ')}`);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
    }
  });

  it('dvr size prints the storage, NFS load and egress a deployment needs', async () => {
    const r = await node('dvr.cjs', ['size', '--streams', '15', '--bitrate', '4.5M', '--window', '2h', '--viewers', '1000',
      '--edges', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^storage per stream-hour\s+2\.0 GB\s/m);
    assert.match(r.stdout, /^shared storage\s+72\.9 GB\s+windows \+ recordings \+ 20 % headroom$/m);
    assert.match(r.stdout, /^NFS writes\s+67\.5 Mb\/s\s/m);
    assert.match(r.stdout, /^edge egress\s+4\.5 Gb\/s\s+1000 viewers x the top rendition \(2\.3 Gb\/s per edge\)$/m);
    const sized = await node('dvr.cjs', ['size', '--streams', '1', '--renditions', '2500k,128k', '--window', '7d', '--json']);
    const json = JSON.parse(sized.stdout) as { storageBytes: number; perStreamBps: number };
    assert.equal(json.perStreamBps, 2_628_000);
    assert.equal(json.storageBytes, (2_628_000 * 7 * 86400 / 8) * 1.2);
  });

  it('the nfs-kit scripts answer --help (exit 0) and refuse a bad command line with exit 2', async () => {
    for (const script of ['agent.sh', 'nfs-client.sh', 'nfs-server.sh', 'nginx.sh']) {
      const help = await runWith('bash', [path.join(kit, script), '--help']);
      assert.equal(help.code, 0, `${script} --help`);
      assert.match(help.stdout, new RegExp(`${script} --`), `${script} --help shows its usage`);
      const unknown = await runWith('bash', [path.join(kit, script), '--bogus']);
      assert.equal(unknown.code, 2, `${script} --bogus`);
      assert.equal(unknown.stderr, `${script.replace('.sh', '')}: usage: unknown option '--bogus' (see ${script} --help)\n`);
      const missing = await runWith('bash', [path.join(kit, script), '--uid']);
      assert.equal(missing.code, 2, `${script} --uid`);
      assert.match(missing.stderr, /--uid needs a value/);
    }
  });
});

describe('dvr streams | nodes | launch-config against a controller', function () {
  this.timeout(60_000);
  let dataDir: string;
  let proc: ChildProcess;
  let api: string;
  const dvr = (...args: string[]): Promise<Ran> => node('dvr.cjs', args, { DVR_DATA_DIR: dataDir });

  before(async () => {
    dataDir = await tempDir('cli');
    const port = await freePort();
    // The cluster's defaults for new streams: two hours of DVR, every stream recorded.
    const defaults = path.join(dataDir, 'stream-defaults.json');
    await fs.writeFile(defaults, JSON.stringify({ windowSeconds: 7200, forceRecording: true }));
    ({ proc, url: api } = await spawnController(path.join(binDir, 'dvr-controller.js'), port, { DVR_DATA_DIR: dataDir,
      DVR_AGENT_TOKEN: AGENT, DVR_LOG_LEVEL: 'warn', DVR_ADMIN_TOKEN: '', DVR_STREAM_DEFAULTS: defaults }, 'inherit'));
  });
  after(async () => {
    proc.kill('SIGKILL');
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('creates, lists, gives the URLs of and removes streams, finding the API and token in the data directory', async () => {
    const created = await dvr('streams', 'create', 'live/cam1', '--format', 'ts');
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^created: live\/cam1 \(ts, copy, window 2h, recorded\)$/m);
    assert.match(created.stdout, /^publish: rtmp:\/\/\S+\/live\/cam1\?key=[A-Za-z0-9_-]{24}$/m);
    const ladder = await dvr('streams', 'create', 'live/cam2', '--mode', 'transcode', '--ladder', '720p:720:2500:128,360p:360:800:96',
      '--signed', '--json');
    assert.equal(ladder.code, 0, ladder.stderr);
    const json = JSON.parse(ladder.stdout) as { ladder: unknown; signedPlayback: boolean; publishUrl: string };
    assert.deepEqual(json.ladder, [{ name: '720p', height: 720, videoKbps: 2500, audioKbps: 128 },
      { name: '360p', height: 360, videoKbps: 800, audioKbps: 96 }]);
    assert.equal(json.signedPlayback, true);

    const again = await dvr('streams', 'create', 'live/cam1');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^dvr streams: DVR_ERR_BAD_REQUEST: invalid stream: \$\.stream: live\/cam1 exists/);

    const list = await dvr('streams', 'list');
    assert.equal(list.code, 0, list.stderr);
    const rows = list.stdout.trimEnd().split('\n');
    assert.match(rows[0] ?? '', /^STREAM\s+STATUS\s+FORMAT\s+MODE\s+RENDITIONS\s+WINDOW\s+RECORD\s+SIGNED\s+TRANSCODER$/);
    assert.match(rows[1] ?? '', /^live\/cam1\s+idle\s+ts\s+copy\s+source\s+2h\s+yes\s+no\s+-$/);
    assert.match(rows[2] ?? '', /^live\/cam2\s+idle\s+fmp4\s+transcode\s+720p,360p\s+2h\s+yes\s+yes\s+-$/);

    const url = await dvr('streams', 'url', 'live/cam1');
    assert.equal(url.code, 0, url.stderr);
    assert.equal(url.stdout.split('\n')[0], created.stdout.split('\n')[1], 'the same publish URL and key');
    assert.match(url.stdout, /^playback: none: no edge in service/m);
    const edge = await fetch(`${api}/nodes/edge-1/heartbeat`, { method: 'POST',
      headers: { Authorization: `Bearer ${AGENT}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ nodeId: 'edge-1', role: 'edge', address: '127.0.0.9', connections: 0 }) });
    assert.equal(edge.status, 200);
    const withEdge = await dvr('streams', 'url', 'live/cam1');
    assert.match(withEdge.stdout, /^playback: http:\/\/127\.0\.0\.9:8080\/live\/cam1\/master\.m3u8$/m);
    assert.match(withEdge.stdout, /^player: http:\/\/127\.0\.0\.9:8080\/player\/\?src=%2Flive%2Fcam1%2Fmaster\.m3u8$/m);

    const set = await dvr('streams', 'set', 'live/cam2', '--window', '600', '--no-signed', '--storage-cap', '1000000000',
      '--retention', '48');
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^changed: live\/cam2 \(window 10m, recorded;/);
    const cam2 = JSON.parse((await dvr('streams', 'list', '--json')).stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(cam2.filter((s) => s['stream'] === 'cam2').map((s) => [s['windowSeconds'], s['signedPlayback'], s['storageCapBytes'],
      s['retentionHours'], s['mode']]), [[600, false, 1_000_000_000, 48, 'transcode']]);
    const recordings = await dvr('recordings', 'list');
    assert.equal(recordings.code, 0, recordings.stderr);
    assert.equal(recordings.stdout, 'no recordings\n');
    // Two days of entries in the live playlist: the API and the command say it is too long for players.
    const uncapped = await dvr('streams', 'set', 'live/cam2', '--window', '172800', '--playlist-cap', '0');
    assert.equal(uncapped.code, 0, uncapped.stderr);
    assert.match(uncapped.stderr, /^warning: stream live\/cam2: window 172800s x \d renditions .* playlist entries \(> 54000\)/m);
    const capped = await dvr('streams', 'set', 'live/cam2', '--playlist-cap', '10800', '--json');
    const advice = (JSON.parse(capped.stdout) as { warnings: string[] }).warnings;
    assert.ok(advice.length > 0 && !advice.some((w) => w.includes('playlist entries')), advice.join('\n'));
    const unrecord = await dvr('streams', 'set', 'live/cam2', '--no-record');
    assert.equal(unrecord.code, 1);
    assert.match(unrecord.stderr, /\$\.recording: every stream is recorded on this cluster \(forceRecording/);
    const refused = await dvr('streams', 'create', 'live/cam3', '--window', '-5');
    assert.equal(refused.code, 2, 'a negative window is a usage error');
    const defaults = await dvr('streams', 'defaults', '--json');
    assert.deepEqual(JSON.parse(defaults.stdout), { windowSeconds: 7200, forceRecording: true });

    assert.equal((await dvr('streams', 'rm', 'live/cam2')).code, 0);
    const gone = await dvr('streams', 'rm', 'live/cam2');
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /DVR_ERR_NOT_FOUND: no stream live\/cam2 \(DELETE \/streams\/live\/cam2: 404\)/);
    const names = (JSON.parse((await dvr('streams', 'list', '--json')).stdout) as Array<{ stream: string }>).map((s) => s.stream);
    assert.deepEqual(names, ['cam1']);
  });

  it('validates a launch config offline with the JSON path of each error, applies and replaces it', async () => {
    const bad = path.join(dataDir, 'bad.json');
    await fs.writeFile(bad, JSON.stringify({ launchconfig: { name: 'x', version: '1', targets: { target: [
      { role: 'edge', instanceType: 'small', connectionCapacity: -1 },
      { role: 'edge', instanceType: 'small', connectionCapacity: 5 }] } } }));
    const v = await node('dvr.cjs', ['launch-config', 'validate', bad], { DVR_DATA_DIR: '/nonexistent' });
    assert.equal(v.code, 1);
    assert.match(v.stderr, new RegExp(`^${bad}: \\$\\.launchconfig\\.targets\\.target\\[0\\]\\.connectionCapacity: must be >= 1$`, 'm'));
    const syntax = path.join(dataDir, 'syntax.json');
    await fs.writeFile(syntax, '{\n  "launchconfig": {\n    "name": "x",\n  }\n}\n');
    const s = await dvr('launch-config', 'validate', syntax);
    assert.equal(s.code, 1);
    assert.match(s.stderr, new RegExp(`${syntax}:4:3: not JSON`));

    const file = path.join(examples, 'single-machine.json');
    const ok = await node('dvr.cjs', ['launch-config', 'validate', file], { DVR_DATA_DIR: '/nonexistent' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /valid launch config 'single-machine'/);
    const added = await dvr('launch-config', 'apply', file);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^added: launch config 'single-machine'/);

    const changed = JSON.parse(await fs.readFile(file, 'utf8')) as
      { launchconfig: { targets: { target: Array<{ role: string; connectionCapacity: number }> } } };
    const transcoder = changed.launchconfig.targets.target.find((t) => t.role === 'transcoder');
    assert.ok(transcoder);
    transcoder.connectionCapacity = 9;
    const edited = path.join(dataDir, 'edited.json');
    await fs.writeFile(edited, JSON.stringify(changed));
    const replaced = await dvr('launch-config', 'apply', edited);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.match(replaced.stdout, /^replaced: launch config 'single-machine'/);
    const list = await dvr('launch-config', 'list');
    assert.match(list.stdout, /^single-machine\s+transcoder\s+9\s/m);
  });

  it('lists nodes with their load and figures, drains one, and names a refused token or an unreachable API', async () => {
    const hb = await fetch(`${api}/nodes/tc-1/heartbeat`, { method: 'POST',
      headers: { Authorization: `Bearer ${AGENT}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ nodeId: 'tc-1', role: 'transcoder', address: '10.1.2.3', sentAt: new Date().toISOString(),
        storage: { available: true }, streams: [], system: { cpuLoadPercent: 12.4, memoryUsedBytes: 2 * 2 ** 30,
          memoryTotalBytes: 4 * 2 ** 30, networkRxBytesPerSec: 0, networkTxBytesPerSec: 0, storageFreeBytes: 50 * 2 ** 30,
          storageTotalBytes: 100 * 2 ** 30 } }) });
    assert.equal(hb.status, 200);
    const list = await dvr('nodes', 'list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NODE\s+ROLE\s+STATE\s+ADDRESS\s+LOAD\s+CPU\s+MEMORY\s+STORAGE FREE\s+HEARTBEAT$/m);
    assert.match(list.stdout,
      /^tc-1\s+transcoder\s+inservice\s+10\.1\.2\.3\s+0\/\d+ streams\s+12%\s+2\.0 GiB \/ 4\.0 GiB\s+50\.0 GiB\s+\d+s ago$/m);
    const drained = await dvr('nodes', 'drain', 'tc-1');
    assert.equal(drained.code, 0, drained.stderr);
    assert.match(drained.stdout, /^tc-1: draining/);
    assert.match((await dvr('nodes', 'list', '--state', 'draining')).stdout, /^tc-1\s/m);

    const tokenFile = path.join(dataDir, 'wrong-token');
    await fs.writeFile(tokenFile, 'not-the-admin-token-0123456789\n');
    const refused = await dvr('nodes', 'list', '--token-file', tokenFile);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`refused the admin token from ${tokenFile}`));
    const unreachable = await dvr('nodes', 'list', '--api', `http://127.0.0.1:${await freePort()}`);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach the API at http:\/\/127\.0\.0\.1:\d+\/api\/v1 \(from --api\): ECONNREFUSED/);
    const noToken = await node('dvr.cjs', ['streams', 'list'], { DVR_DATA_DIR: path.join(dataDir, 'elsewhere') });
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /no admin token: set DVR_ADMIN_TOKEN/);
  });

  it('PUT /api/v1/launch-configs/<name> refuses a body of another name, naming the path', async () => {
    const token = (await fs.readFile(path.join(dataDir, 'controller', 'admin-token'), 'utf8')).trim();
    const body = JSON.parse(await fs.readFile(path.join(examples, 'single-machine.json'), 'utf8')) as unknown;
    const res = await fetch(`${api}/launch-configs/other`, { method: 'PUT', body: JSON.stringify(body),
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { message: string }).message,
      /\$\.launchconfig\.name: 'single-machine' is not the name in the path \('other'\)/);
  });
});
