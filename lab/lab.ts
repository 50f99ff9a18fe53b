// `dvr lab`: a whole cluster on one machine, built the way a sysadmin builds one. Hosts are network
// namespaces on a bridge, each with its own address and sshd; the lab starts PostgreSQL beside the
// storage and dvr-controller on two hosts over it (either answers, one leads), writes the inventory
// and runs `dvr-provision apply` on the others (a storage host serving the
// export, two origin+transcoder hosts, a transcoder that pulls from an origin, two edges and a
// relay), every transcoder and edge mounting the storage host over the network. A publisher with a
// burnt-in clock streams to the origins' shared name; `up` returns with it all running.
import { spawn } from 'node:child_process';
import { openSync, closeSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DvrError } from '../common/errors.js';
import { randomBytes } from 'node:crypto';
import { createHosts, destroyHosts, run, whyNoHosts, type Host } from './hosts.js';
import { PostgresServer } from './postgres.js';
import { NO_FAULTS, readState, stateFile, writeState, type LabOptions, type LabState } from './state.js';
import {
  CONTROLLER_HOST, CONTROLLER_HOSTS, DATABASE_HOST, LAB_HOSTS, LAB_PORTS, PUBLISH_HOST, PUBLISHER_HOST, controllerDataOf, hostSpecs,
  labInventory, labPaths, publisherEtcHosts,
} from './topology.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIST = path.join(ROOT, 'dist');
/**
 * The lab's own streams: the publisher's (TS, taken from the origin's own fragments: what the fault
 * suite measures), and one for the user to publish to, in fMP4 (HLS and DASH), as the appliance's.
 */
export const LAB_STREAM = { app: 'live', stream: 'lab' };
const USER_STREAM = { app: 'live', stream: 'cam1' };
/** The storage's size: small, so `fill-storage` fills a tmpfs, never this machine's disk. */
const EXPORT_SIZE = '1g';

export type Say = (line: string) => void;

export function host(s: Pick<LabState, 'net'>, name: string): Host {
  const h = s.net.hosts.find((x) => x.name === name);
  if (!h) throw new DvrError('DVR_ERR_NOT_FOUND', `the lab has no host '${name}'`);
  return h;
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, deadlineMs: number, everyMs = 250): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new DvrError('DVR_ERR_DEPENDENCY', `timed out after ${deadlineMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** What this machine lacks for the lab, with the fix; undefined when it has it all. */
export async function whyNoLab(): Promise<string | undefined> {
  const hosts = await whyNoHosts();
  if (hosts) return hosts;
  const missing: string[] = [];
  const needed: Array<[string, string]> = [['ganesha.nfsd', 'nfs-ganesha'], ['sshfs', 'sshfs'], ['ffmpeg', 'ffmpeg'], ['nginx', 'nginx'],
    ['setpriv', 'util-linux']];
  for (const [bin, what] of needed) {
    if ((await run('sh', ['-c', `command -v ${bin}`])).code !== 0) missing.push(what);
  }
  if (!await fs.access('/usr/lib/nginx/modules/ngx_rtmp_module.so').then(() => true, () => false)) missing.push('libnginx-mod-rtmp');
  if (!await fs.access(path.join(DIST, 'bin', 'dvr-provision.js'))
    .then(() => true, () => false)) return 'the project is not built: npm run build';
  return missing.length > 0 ? `missing: ${missing.join(', ')} (scripts/install-deps.sh --lab installs them)` : undefined;
}

/** The kernel's NFS client, or the sshfs stand-in. */
async function storageTransport(): Promise<'nfs' | 'sshfs'> {
  const fsTypes = await fs.readFile('/proc/filesystems', 'utf8').catch(() => '');
  return /\bnfs4?\b/.test(fsTypes) ? 'nfs' : 'sshfs';
}

/** Starts `cmd` in a host, detached from this process (it outlives `dvr lab up`), logging to `log`. */
function startIn(h: Host, cmd: string[], log: string, env: NodeJS.ProcessEnv = {}): number {
  const fd = openSync(log, 'a', 0o600);
  try {
    const child = spawn('ip', ['netns', 'exec', h.ns, ...cmd],
      { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    child.unref();
    if (child.pid === undefined) throw new DvrError('DVR_ERR_DEPENDENCY', `could not start ${cmd[0] ?? ''} in ${h.name}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/**
 * dvr-controller in its host (one of CONTROLLER_HOSTS), on its own address, over the lab's
 * PostgreSQL; its data under the lab. The admin token is the one in its data directory when there
 * is one (given to the lab, or the cluster's, written there by the controller), so a restarted
 * controller keeps it.
 */
export async function startController(s: Pick<LabState, 'net' | 'options' | 'database'>, name: string = CONTROLLER_HOST):
Promise<{ name: string; pid: number; url: string }> {
  const h = host(s, name);
  const data = controllerDataOf(s.options.dir, name);
  await fs.mkdir(data, { recursive: true, mode: 0o750 });
  const admin = (await fs.readFile(path.join(data, 'controller', 'admin-token'), 'utf8').catch(() => '')).trim();
  const pid = startIn(h,
    [process.execPath, path.join(DIST, 'bin', 'dvr-controller.js'), '--host', h.address, '--port', String(LAB_PORTS.api)],
    path.join(s.options.dir, `${name}.log`), { DVR_DATA_DIR: data, DVR_PUBLISH_HOST: PUBLISH_HOST, DVR_LOG_FORMAT: 'json',
      DVR_ADMIN_TOKEN: admin, DVR_AGENT_TOKEN: '', DVR_DATABASE_URL: s.database.url, DVR_CONTROLLER_ID: name });
  const url = `http://${h.address}:${LAB_PORTS.api}/api/v1`;
  await waitFor(`${name} to answer`, async () => ((await fetch(`${url}/health`)).ok ? true : undefined), 20_000);
  return { name, pid, url };
}

/** The controllers' PostgreSQL in the storage host, only the controllers' hosts let in (with the password). */
async function startDatabase(s: Pick<LabState, 'net' | 'options'>): Promise<{ url: string }> {
  const h = host(s, DATABASE_HOST);
  const dir = labPaths(s.options.dir).postgres;
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  const pg = await PostgresServer.start({ dir, host: h.address, port: LAB_PORTS.postgres, user: 'dvr', database: 'dvr',
    password: randomBytes(18).toString('base64url'), wrap: (argv) => ['ip', 'netns', 'exec', h.ns, ...argv],
    allow: CONTROLLER_HOSTS.map((c) => `${host(s, c).address}/32`) });
  return { url: pg.url };
}

/** The publisher: a test pattern with a burnt-in clock, reconnecting (as OBS does) whenever it drops. */
export function startPublisher(s: Pick<LabState, 'net' | 'options'>, url: string): number {
  const clock = "drawtext=text='%{localtime\\:%H\\\\\\:%M\\\\\\:%S}':fontsize=40:fontcolor=white:box=1:boxcolor=black@0.6:x=20:y=h-th-20";
  const ffmpeg = ['ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-re', '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=25,${clock}`,
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-map', '0:v', '-map', '1:a',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-b:v', '800k', '-g', '50', '-keyint_min', '50',
    '-sc_threshold', '0', '-c:a', 'aac', '-b:a', '64k',
    // A dead origin is noticed within seconds, as OBS notices it: a small socket buffer fills soon,
    // and a write that cannot go on for 3 s fails.
    '-send_buffer_size', '65536', '-rw_timeout', '3000000', '-f', 'flv', url];
  const loop = `while :; do ${ffmpeg.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')}; `
    + `echo "publisher: ffmpeg exited ($?); reconnecting in 2 s"; sleep 2; done`;
  return startIn(host(s, PUBLISHER_HOST), ['bash', '-c', loop], path.join(s.options.dir, 'publisher.log'));
}

/** The controllers' API, as a sysadmin's client behind DNS would use it: the first that answers. */
async function api<T>(s: Pick<LabState, 'controller' | 'controllers' | 'options'>, method: string, p: string, body?: unknown): Promise<T> {
  const token = (await fs.readFile(path.join(labPaths(s.options.dir).controllerData, 'controller', 'admin-token'), 'utf8')).trim();
  const urls = s.controllers.length > 0 ? s.controllers.map((c) => c.url) : [s.controller.url];
  let res: Response | undefined;
  let failure: unknown;
  for (const url of urls) {
    try {
      res = await fetch(`${url}${p}`, { method, signal: AbortSignal.timeout(10_000),
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      break;
    } catch (err) {
      failure = err;
    }
  }
  if (!res) throw failure instanceof Error ? failure : new DvrError('DVR_ERR_DEPENDENCY', 'no controller answers');
  const text = await res.text();
  if (!res.ok) throw new DvrError('DVR_ERR_DEPENDENCY', `${method} ${p}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Runs dvr-provision as a sysadmin does, for every host or `only` these; its output goes to the lab's log. */
export async function provisionLab(s: Pick<LabState, 'options'>, only: string[] = []): Promise<{ ok: boolean; summary: string }> {
  const p = labPaths(s.options.dir);
  const log = path.join(s.options.dir, 'provision.log');
  const r = await run(process.execPath, [path.join(DIST, 'bin', 'dvr-provision.js'), 'apply', '--inventory', p.inventory,
    '--accept-new-host-keys', '--known-hosts', p.knownHosts, '--concurrency', '8', ...only.flatMap((h) => ['--host', h])], 600_000);
  await fs.appendFile(log, `${r.stdout}${r.stderr}`, { mode: 0o600 });
  // The summary: one line a host after the progress, then any host's error.
  const summary = r.stdout.split('\n\n').slice(1).join('\n').trim() + (r.stderr.trim() ? `\n${r.stderr.trim()}` : '');
  return { ok: r.code === 0, summary };
}

/** Removes a lab: every process in its hosts, the hosts, the storage mount, the lab directory. Idempotent. */
export async function down(o: LabOptions, say: Say): Promise<void> {
  const s = await readState(o.dir).catch(() => undefined);
  // A lab whose state file is gone (a crash during `up`) is found by its names.
  const names = (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${o.name}-`));
  const hosts = s?.net.hosts
    ?? names.map((ns) => ({ name: ns.slice(o.name.length + 1), ns, address: '', link: '', dir: '', hostKeyPub: '' }));
  if (hosts.length > 0) {
    await destroyHosts({ bridge: s?.net.bridge ?? `${o.name}br`, hosts });
    say(`removed ${hosts.length} hosts and their processes`);
  } else {
    await run('ip', ['link', 'del', `${o.name}br`]);
  }
  const exportDir = s?.exportMount ?? labPaths(o.dir).export;
  if ((await run('mountpoint', ['-q', exportDir])).code === 0) {
    await run('umount', ['-l', exportDir]);
    say(`unmounted the storage (${exportDir})`);
  }
  if (await fs.access(stateFile(o.dir)).then(() => true, () => false) || s) {
    await fs.rm(o.dir, { recursive: true, force: true });
    say(`removed ${o.dir}`);
  }
}

/** Builds the lab and returns with it running: the hosts, the controller, provisioning, the publisher. */
export async function up(o: LabOptions, say: Say): Promise<LabState> {
  const why = await whyNoLab();
  if (why) throw new DvrError('DVR_ERR_DEPENDENCY', `dvr lab needs root and this machine's network namespaces: ${why}`);
  // A lab left by a crash (or still up) is removed first.
  if (await readState(o.dir).catch(() => undefined) || (await run('ip', ['link', 'show', `${o.name}br`])).code === 0) {
    say('removing the lab that was here');
    await down(o, say);
  }
  await fs.mkdir(o.dir, { recursive: true, mode: 0o755 });
  await fs.chmod(o.dir, 0o755);
  const p = labPaths(o.dir);
  await fs.mkdir(p.export, { recursive: true });
  const mounted = await run('mount', ['-t', 'tmpfs', '-o', `size=${EXPORT_SIZE},mode=0755`, 'dvr-lab-storage', p.export]);
  if (mounted.code !== 0) throw new DvrError('DVR_ERR_DEPENDENCY', `cannot mount the lab's storage (tmpfs on ${p.export}): `
    + `${mounted.stderr.trim()}`);
  const transport = await storageTransport();
  say(`storage: ${transport === 'nfs' ? 'NFS (nfs-ganesha on the storage host, the kernel\'s NFS client on the nodes)'
    : 'sshfs from the storage host (this kernel has no NFS client; nfs-ganesha serves the same export beside it)'}`);

  // Addresses are known before the hosts exist: the publisher's /etc/hosts names the origins.
  const specs = hostSpecs();
  const base = o.subnet.replace(/\.0\/24$/, '');
  const addresses = Object.fromEntries(specs.map((h, i) => [h.name, `${base}.${10 + i}`]));
  say(`making ${specs.length} hosts on ${o.subnet} (network namespaces ${o.name}-*)`);
  const net = await createHosts({ name: o.name, subnet: o.subnet, dir: path.join(o.dir, 'net'), firstHost: 10,
    specs: specs.map((h) => (h.name === PUBLISHER_HOST ? { ...h, etcHosts: publisherEtcHosts(addresses) } : h)) });
  const partial = { options: o, net };
  const state: LabState = { version: 1, options: o, net, transport, exportMount: p.export, controller: { pid: 0, url: '' },
    controllers: [], database: { url: '' }, publisher: { pid: 0 },
    lines: { api: '', dashboard: '', publish: '', playback: '', player: '', adminToken: '', inventory: p.inventory },
    faults: { ...NO_FAULTS } };
  await writeState(state);

  say(`starting PostgreSQL on ${DATABASE_HOST} (${host(partial, DATABASE_HOST).address}:${LAB_PORTS.postgres}) for the controllers`);
  state.database = await startDatabase(partial);
  await writeState(state);
  const given = process.env['DVR_ADMIN_TOKEN'];
  for (const name of CONTROLLER_HOSTS) {
    if (given) {
      // Kept where the controller keeps its own, so a restarted controller (start-controller) has it too.
      await fs.mkdir(path.join(controllerDataOf(o.dir, name), 'controller'), { recursive: true, mode: 0o750 });
      await fs.writeFile(path.join(controllerDataOf(o.dir, name), 'controller', 'admin-token'), `${given}\n`, { mode: 0o600 });
    }
    say(`starting dvr-controller on ${name} (${host(partial, name).address})`);
    state.controllers.push(await startController(state, name));
    await writeState(state);
  }
  state.controller = { pid: state.controllers[0]?.pid ?? 0, url: state.controllers[0]?.url ?? '' };
  await writeState(state);
  const lc = JSON.parse(await fs.readFile(path.join(ROOT, 'launch-configs', 'lab.json'), 'utf8')) as unknown;
  await api(state, 'POST', '/launch-configs', lc);

  const inventory = labInventory({ dir: o.dir, gateway: net.gateway, addresses, transport, clientKey: net.clientKey,
    controllerData: p.controllerData });
  await fs.writeFile(p.inventory, `${JSON.stringify(inventory, null, 2)}\n`, { mode: 0o600 });
  say(`provisioning ${LAB_HOSTS.length} hosts: dvr-provision apply --inventory ${p.inventory} (log: ${path.join(o.dir, 'provision.log')})`);
  const provisioned = await provisionLab(state);
  for (const l of provisioned.summary.split('\n')) if (l.trim()) say(`  ${l}`);
  if (!provisioned.ok) throw new DvrError('DVR_ERR_DEPENDENCY', `provisioning failed (see ${path.join(o.dir, 'provision.log')}); `
    + 'dvr lab down removes the lab');
  const agents = LAB_HOSTS.filter((h) => !(h.roles.length === 1 && h.roles[0] === 'storage')).map((h) => h.name);
  await waitFor('every node in service', async () => {
    const nodes = await api<Array<{ id: string; state: string }>>(state, 'GET', '/nodes');
    return agents.every((id) => nodes.some((n) => n.id === id && n.state === 'inservice')) ? true : undefined;
  }, 60_000);

  await api(state, 'POST', '/streams', { ...LAB_STREAM, format: 'ts', mode: 'copy', recording: true, windowSeconds: 3600 });
  await api(state, 'POST', '/streams', { ...USER_STREAM, format: 'fmp4', mode: 'copy', recording: true, windowSeconds: 7200 });
  const labUrl = (await api<{ url: string }>(state, 'GET', `/streams/${LAB_STREAM.app}/${LAB_STREAM.stream}/publish`)).url;
  say(`starting the publisher (burnt-in clock) to ${labUrl.replace(/\?key=.*/, '')}`);
  state.publisher = { pid: startPublisher(state, labUrl) };
  await writeState(state);
  const edge = host(state, 'edge-1');
  const playback = `http://${edge.address}:${LAB_PORTS.http}/${LAB_STREAM.app}/${LAB_STREAM.stream}/master.m3u8`;
  say('waiting for the stream to play through edge-1');
  await waitFor(`${playback} to play`, async () => {
    const media = await fetch(new URL('source/index.m3u8', playback));
    return media.ok && ((await media.text()).match(/#EXTINF/g)?.length ?? 0) >= 2 ? true : undefined;
  }, 90_000);

  // The user's stream publishes to an origin's own address: this machine does not resolve the lab's name.
  const userUrl = new URL((await api<{ url: string }>(state, 'GET', `/streams/${USER_STREAM.app}/${USER_STREAM.stream}/publish`)).url);
  userUrl.hostname = host(state, 'ot-1').address;
  const root = state.controller.url.replace(/\/api\/v1$/, '');
  const player = `http://${edge.address}:${LAB_PORTS.http}/player/?stream=${LAB_STREAM.app}/${LAB_STREAM.stream}`;
  // DASH needs fMP4: the user's stream has it, once published to (the publish: line).
  const dash = `http://${edge.address}:${LAB_PORTS.http}/${USER_STREAM.app}/${USER_STREAM.stream}/manifest.mpd`;
  state.lines = { api: state.controller.url, dashboard: `${root}/dashboard/`, publish: userUrl.toString(), playback, dash, player,
    adminToken: given ? 'DVR_ADMIN_TOKEN' : path.join(p.controllerData, 'controller', 'admin-token'), inventory: p.inventory };
  await writeState(state);
  return state;
}

/** The `name: <url>` lines, as `dvr start` prints them. */
export function urlLines(s: LabState): string[] {
  return [`playback: ${s.lines.playback}`, ...(s.lines.dash ? [`dash: ${s.lines.dash}`] : []), `player: ${s.lines.player}`,
    `publish: ${s.lines.publish}`, `api: ${s.lines.api}`, `dashboard: ${s.lines.dashboard}`, `admin token: ${s.lines.adminToken}`,
    `inventory: ${s.lines.inventory}`];
}

/** What a controller says of itself: it leads, it stands by, or it does not answer. */
async function controllerState(url: string): Promise<'leads' | 'standby' | 'down'> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    return ((await res.json()) as { leader?: boolean }).leader === true ? 'leads' : 'standby';
  } catch {
    return 'down';
  }
}

/** The controller that leads now, by host; undefined when none says it does. */
export async function leaderOf(s: Pick<LabState, 'controllers'>): Promise<string | undefined> {
  for (const c of s.controllers) if (await controllerState(c.url) === 'leads') return c.name;
  return undefined;
}

/** The hosts, what the controller says of their nodes, and the faults in effect. */
export async function status(s: LabState): Promise<string[]> {
  let nodes: Array<{ id: string; role: string; state: string; lastHeartbeat: number }> = [];
  let apiNote = '';
  try {
    nodes = await api(s, 'GET', '/nodes');
  } catch (err) {
    apiNote = ` (the controller does not answer: ${err instanceof Error ? err.message : String(err)})`;
  }
  const out = [`lab ${s.options.name} in ${s.options.dir}, storage over ${s.transport}${apiNote}`, ''];
  const rows = [['host', 'address', 'roles', 'node', 'last heartbeat']];
  const controllers = new Map(await Promise.all(s.controllers.map(async (c) => [c.name, await controllerState(c.url)] as const)));
  for (const h of s.net.hosts) {
    const roles = [...LAB_HOSTS.find((x) => x.name === h.name)?.roles ?? [], ...(h.name === DATABASE_HOST ? ['postgresql'] : []),
      ...(controllers.has(h.name) ? ['controller'] : []), ...(h.name === PUBLISHER_HOST ? ['publisher'] : [])].join('+');
    const n = nodes.find((x) => x.id === h.name);
    rows.push([h.name, h.address, roles, n?.state ?? controllers.get(h.name) ?? '',
      n ? `${Math.round((Date.now() - n.lastHeartbeat) / 1000)} s ago` : '']);
  }
  const widths = (rows[0] ?? []).map((_c, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) out.push(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
  const f = s.faults;
  const active = [...f.cut.map((h) => `cut ${h}`), ...f.cutController.map((h) => `cut-controller ${h}`),
    ...f.killed.map((h) => `killed ${h}`), ...(f.storageStopped ? ['stop-storage'] : []), ...(f.storageFilled ? ['fill-storage'] : []),
    ...f.controllersKilled.map((c) => `kill-controller ${c}`)];
  out.push('', `faults in effect: ${active.length ? active.join(', ') : 'none'}`, '', ...urlLines(s));
  return out;
}

