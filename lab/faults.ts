// The faults `dvr lab fault` injects, each the real thing: processes killed with SIGKILL, links
// taken down, a host's route to the controller refused, the storage service frozen, the storage
// filled. `heal` undoes what was done to a host: its links come back and whatever was killed is
// started again by provisioning it, as a sysadmin would.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DvrError } from '../common/errors.js';
import { killIn, pidsIn, run, type Host } from './hosts.js';
import { host, leaderOf, provisionLab, startController, type Say } from './lab.js';
import { writeState, type LabState } from './state.js';
import { CONTROLLER_HOST, CONTROLLER_HOSTS, LAB_HOSTS, PUBLISHER_HOST, labPaths } from './topology.js';

export const FAULTS = {
  'kill-agent': 'SIGKILL a host\'s agent, its encoders and its pm2 (it stays down until heal)',
  cut: 'take a host\'s network link down',
  heal: 'undo what was done to a host: link up, route to the controller back, killed parts provisioned again',
  'cut-controller': 'cut only a host\'s routes to the controllers (it still reaches the storage and the other hosts)',
  'stop-storage': 'freeze the storage service (nfs-ganesha and the sshd that serves the sshfs mounts)',
  'start-storage': 'let the storage service go on',
  'kill-controller': 'SIGKILL the dvr-controller that leads (the other takes over)',
  'start-controller': 'start the killed dvr-controllers again, with their data',
  'kill-edge': 'SIGKILL an edge\'s (or the relay\'s) nginx (it stays down until heal)',
  'fill-storage': 'fill the storage but 16 MiB',
  'free-storage': 'remove what fill-storage wrote',
  'drop-publisher': 'cut the publisher\'s connection (it reconnects after 2 s, as OBS does)',
} as const;
export type FaultKind = keyof typeof FAULTS;

const NEEDS_HOST: readonly FaultKind[] = ['kill-agent', 'cut', 'heal', 'cut-controller', 'kill-edge'];

/** A usage error: what was wrong, and what would be right (exit 2). */
export class FaultUsageError extends Error {}

/** Checks a fault's kind and host against the lab, with the choices when they are wrong. */
export function checkFault(s: Pick<LabState, 'net'>, kind: string,
  hostName: string | undefined): { kind: FaultKind; host: Host | undefined } {
  if (!(kind in FAULTS)) throw new FaultUsageError(`unknown fault '${kind}'; faults: ${Object.keys(FAULTS).join(', ')}`);
  const k = kind as FaultKind;
  if (!NEEDS_HOST.includes(k)) {
    if (hostName !== undefined) throw new FaultUsageError(`fault '${k}' takes no host`);
    return { kind: k, host: undefined };
  }
  const eligible = s.net.hosts.filter((h) => {
    const roles = LAB_HOSTS.find((x) => x.name === h.name)?.roles ?? [];
    if (k === 'kill-agent') return roles.some((r) => r !== 'storage');
    if (k === 'kill-edge') return roles.includes('edge') || roles.includes('relay');
    if (k === 'cut-controller') return !(CONTROLLER_HOSTS as readonly string[]).includes(h.name);
    return true;
  }).map((h) => h.name);
  if (hostName === undefined) throw new FaultUsageError(`fault '${k}' needs a host: ${eligible.join(', ')}`);
  if (!eligible.includes(hostName)) {
    const known = s.net.hosts.some((h) => h.name === hostName);
    throw new FaultUsageError(`${known ? `fault '${k}' does not apply to '${hostName}'` : `the lab has no host '${hostName}'`}; `
      + `hosts: ${eligible.join(', ')}`);
  }
  return { kind: k, host: host(s, hostName) };
}

/** The processes in a host whose command line matches. */
async function matching(h: Host, match: RegExp): Promise<number[]> {
  const out: number[] = [];
  for (const pid of await pidsIn(h)) {
    const cmd = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ');
    if (match.test(cmd)) out.push(pid);
  }
  return out;
}

/** Signals the processes in a host whose command line matches; how many there were. */
async function signalIn(h: Host, match: RegExp, signal: NodeJS.Signals): Promise<number> {
  let n = 0;
  for (const pid of await matching(h, match)) {
    try {
      process.kill(pid, signal);
      n++;
    } catch { /* gone */ }
  }
  return n;
}

const addUnique = (list: string[], v: string): string[] => (list.includes(v) ? list : [...list, v]);

/** What a fault handler works with: the lab, its records of faults, the host named, the controllers' hosts. */
interface FaultContext { s: LabState; f: LabState['faults']; need: () => Host; controllers: Host[]; say: Say }

/** heal: link up, the controller reachable again, and what was killed provisioned again. */
async function heal({ s, f, need, controllers, say }: FaultContext): Promise<string> {
  const target = need();
  await run('ip', ['link', 'set', target.link, 'up']);
  for (const c of controllers) await run('ip', ['-n', target.ns, 'route', 'del', 'prohibit', `${c.address}/32`]);
  const wasKilled = f.killed.includes(target.name);
  f.cut = f.cut.filter((x) => x !== target.name);
  f.cutController = f.cutController.filter((x) => x !== target.name);
  if (wasKilled) {
    say(`provisioning ${target.name} again (dvr-provision apply --host ${target.name})`);
    const r = await provisionLab(s, [target.name]);
    if (!r.ok) throw new DvrError('DVR_ERR_DEPENDENCY', `provisioning ${target.name} failed: ${r.summary}`);
    f.killed = f.killed.filter((x) => x !== target.name);
  }
  return `${target.name} healed (link up, controller reachable${wasKilled ? ', what was killed provisioned again' : ''})`;
}

/** fill-storage: the export filled but for 16 MiB. */
async function fillStorage({ s, f }: FaultContext): Promise<string> {
  const dir = labPaths(s.options.dir).export;
  const st = await fs.statfs(dir);
  const size = Math.max(0, st.bavail * st.bsize - 16 * 1024 * 1024);
  const r = await run('fallocate', ['-l', String(size), path.join(dir, '.lab-filler')]);
  if (r.code !== 0) throw new DvrError('DVR_ERR_DEPENDENCY', `fallocate: ${r.stderr.trim()}`);
  f.storageFilled = true;
  return `filled the storage (${Math.round(size / 1048576)} MiB written, 16 MiB left)`;
}

/** Each fault: what it does to the lab, and what it says it did. */
const HANDLERS: Record<FaultKind, (c: FaultContext) => Promise<string>> = {
  'kill-agent': async ({ f, need }) => {
    const n = await killIn(need(), /dvr-agent|PM2 v\d|God Daemon|(^|\/)ffmpeg /);
    f.killed = addUnique(f.killed, need().name);
    return `killed ${n} processes on ${need().name} (its agent, pm2 and encoders)`;
  },
  'kill-edge': async ({ f, need }) => {
    const n = await killIn(need(), /^nginx: /);
    f.killed = addUnique(f.killed, need().name);
    return `killed ${n} nginx processes on ${need().name}`;
  },
  cut: async ({ f, need }) => {
    const r = await run('ip', ['link', 'set', need().link, 'down']);
    if (r.code !== 0) throw new DvrError('DVR_ERR_DEPENDENCY', `ip link set ${need().link} down: ${r.stderr.trim()}`);
    f.cut = addUnique(f.cut, need().name);
    return `${need().name}'s link is down`;
  },
  'cut-controller': async ({ f, need, controllers }) => {
    for (const c of controllers) {
      await run('ip', ['-n', need().ns, 'route', 'del', 'prohibit', `${c.address}/32`]);
      const r = await run('ip', ['-n', need().ns, 'route', 'add', 'prohibit', `${c.address}/32`]);
      if (r.code !== 0) throw new DvrError('DVR_ERR_DEPENDENCY', `ip route add prohibit ${c.address}: ${r.stderr.trim()}`);
    }
    f.cutController = addUnique(f.cutController, need().name);
    return `${need().name} can no longer reach the controllers (${controllers.map((c) => c.address).join(', ')})`;
  },
  heal,
  'stop-storage': async ({ s, f }) => {
    const n = await signalIn(host(s, 'storage'), /ganesha\.nfsd|sshd/, 'SIGSTOP');
    f.storageStopped = true;
    return `froze the storage service (${n} processes)`;
  },
  'start-storage': async ({ s, f }) => {
    const n = await signalIn(host(s, 'storage'), /ganesha\.nfsd|sshd/, 'SIGCONT');
    f.storageStopped = false;
    return `the storage service goes on (${n} processes)`;
  },
  'kill-controller': async ({ s, f }) => {
    const running = [];
    for (const c of s.controllers) if ((await matching(host(s, c.name), /dvr-controller/)).length > 0) running.push(c.name);
    const victim = await leaderOf(s) ?? running[0];
    if (victim === undefined) return 'no dvr-controller runs';
    const n = await killIn(host(s, victim), /dvr-controller/);
    f.controllersKilled = addUnique(f.controllersKilled, victim);
    const left = running.filter((c) => c !== victim);
    return `killed dvr-controller on ${victim}, the leader (${n} process)${left.length ? `; ${left.join(', ')} takes over` : ''}`;
  },
  'start-controller': async ({ s, f }) => {
    const started: string[] = [];
    for (const c of s.controllers) {
      if ((await matching(host(s, c.name), /dvr-controller/)).length > 0) continue;
      const again = await startController(s, c.name);
      s.controllers = s.controllers.map((x) => (x.name === c.name ? again : x));
      if (c.name === CONTROLLER_HOST) s.controller = { pid: again.pid, url: again.url };
      started.push(`${c.name} (pid ${again.pid})`);
    }
    f.controllersKilled = [];
    return started.length ? `dvr-controller started again on ${started.join(', ')}` : 'every dvr-controller is running already';
  },
  'fill-storage': fillStorage,
  'free-storage': async ({ s, f }) => {
    await fs.rm(path.join(labPaths(s.options.dir).export, '.lab-filler'), { force: true });
    f.storageFilled = false;
    return 'freed the storage';
  },
  'drop-publisher': async ({ s }) => {
    const n = await killIn(host(s, PUBLISHER_HOST), /(^|\/)ffmpeg /, 0);
    return `dropped the publisher's connection (${n} process); it reconnects in 2 s`;
  },
};

/** Applies a fault to the running lab and records it; returns what was done, for people. */
export async function applyFault(s: LabState, kind: FaultKind, h: Host | undefined, say: Say): Promise<string> {
  const need = (): Host => {
    if (!h) throw new FaultUsageError(`fault '${kind}' needs a host`);
    return h;
  };
  const done = await HANDLERS[kind]({ s, f: s.faults, need, controllers: CONTROLLER_HOSTS.map((c) => host(s, c)), say });
  await writeState(s);
  return done;
}
