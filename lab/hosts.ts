// Hosts on one machine: network namespaces on a bridge, each with its own address and (when asked)
// its own sshd with its own host key. They share this machine's filesystem, so provisioning gives
// each a --prefix; `ip netns exec` gives each sshd its own mount namespace, so what a host mounts
// (its view of the shared storage) is its own. The lab and the integration tests build on this.
// Everything made here is described by a plain record (HostNetRecord), so another process can
// remove it all (`dvr lab down` after a crash).
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { DvrError } from '../common/errors.js';

export interface HostSpec {
  name: string;
  /** Run an sshd on the host's address (port 22). */
  sshd: boolean;
  /** Extra lines for the host's own /etc/hosts (`ip netns exec` mounts /etc/netns/<ns>/hosts over it). */
  etcHosts?: string[];
}

export interface Host {
  name: string;
  ns: string;
  address: string;
  /** The host side of its link (on the bridge): `cut` takes it down. */
  link: string;
  /** sshd's files: config, host key, log, pid. */
  dir: string;
  hostKeyPub: string;
}

/** What was made, so that any process can remove it. */
export interface HostNetRecord {
  name: string;
  bridge: string;
  subnet: string;
  gateway: string;
  dir: string;
  clientKey: string;
  hosts: Host[];
}

export interface RunResult { stdout: string; stderr: string; code: number }

export function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ stdout, stderr, code });
    });
  });
}

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args, 30_000);
  if (r.code !== 0) throw new DvrError('DVR_ERR_DEPENDENCY', `${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

async function until(what: string, check: () => Promise<boolean>, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > end) throw new DvrError('DVR_ERR_DEPENDENCY', `timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Why this machine cannot make hosts (not root, no iproute2 or sshd, no namespaces), or undefined. */
export async function whyNoHosts(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  for (const bin of ['/usr/sbin/sshd', '/usr/bin/ssh-keygen']) {
    if (!await fs.access(bin).then(() => true, () => false)) return `${bin} is not installed (scripts/install-deps.sh --lab)`;
  }
  if ((await run('ip', ['-V'])).code !== 0) return 'iproute2 (ip) is not installed (scripts/install-deps.sh --lab)';
  const probe = `dvrprobe${process.pid % 100000}`;
  const r = await run('ip', ['netns', 'add', probe]);
  if (r.code !== 0) return `network namespaces are not available here: ip netns add: ${r.stderr.trim()}`;
  await run('ip', ['netns', 'del', probe]);
  return undefined;
}

/** Runs a command inside a host's namespace (with its own mount namespace, as `ip netns exec` does). */
export function inHost(h: Pick<Host, 'ns'>, cmd: string[], timeoutMs?: number): Promise<RunResult> {
  return run('ip', ['netns', 'exec', h.ns, ...cmd], timeoutMs);
}

async function startSshd(h: Host): Promise<void> {
  await fs.rm(path.join(h.dir, 'sshd.pid'), { force: true });
  await must('ip', ['netns', 'exec', h.ns, '/usr/sbin/sshd', '-f', path.join(h.dir, 'sshd_config'), '-E', path.join(h.dir, 'sshd.log')]);
  await until(`sshd on ${h.address}`,
    async () => (await run('ip', ['netns', 'exec', h.ns, 'bash', '-c', `exec 3<>/dev/tcp/${h.address}/22`])).code === 0, 10_000);
}

function sshdConfig(h: Host): string {
  return [
    `ListenAddress ${h.address}:22`, `HostKey ${h.dir}/hostkey`, `PidFile ${h.dir}/sshd.pid`,
    // sshd reads a user's authorized keys as that user: the 'dvr' account logs in too (sshfs mounts).
    `AuthorizedKeysFile ${h.dir}/authorized_keys`, 'PermitRootLogin prohibit-password', 'PasswordAuthentication no',
    'KbdInteractiveAuthentication no', 'UsePAM no', 'Subsystem sftp internal-sftp',
    // The keys live under directories whose modes StrictModes would refuse (/tmp's sticky bit).
    'StrictModes no', '',
  ].join('\n');
}

/**
 * Makes hosts `specs` on a new bridge `<name>br` in `subnet` (a /24: this machine is .1, hosts from
 * `firstHost` on). `clientKey` (made when missing) may log into every sshd.
 */
export async function createHosts(o: { name: string; subnet: string; dir: string; specs: HostSpec[]; firstHost?: number;
  clientKey?: string }): Promise<HostNetRecord> {
  const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(o.subnet);
  if (!m) throw new DvrError('DVR_ERR_CONFIG', `subnet '${o.subnet}' must be a /24 written a.b.c.0/24`);
  const base = m[1] ?? '';
  const rec: HostNetRecord = { name: o.name, bridge: `${o.name}br`, subnet: o.subnet, gateway: `${base}.1`, dir: o.dir,
    clientKey: o.clientKey ?? path.join(o.dir, 'client'), hosts: [] };
  if (rec.bridge.length > 15) throw new DvrError('DVR_ERR_CONFIG',
    `name '${o.name}' is too long for interface names (at most 13 characters)`);
  await fs.mkdir(o.dir, { recursive: true, mode: 0o755 });
  await fs.chmod(o.dir, 0o755);
  await fs.mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  try {
    await run('ip', ['link', 'del', rec.bridge]);
    await must('ip', ['link', 'add', rec.bridge, 'type', 'bridge']);
    await must('ip', ['addr', 'add', `${rec.gateway}/24`, 'dev', rec.bridge]);
    await must('ip', ['link', 'set', rec.bridge, 'up']);
    if (!await fs.access(rec.clientKey).then(() => true, () => false)) await must('ssh-keygen',
      ['-q', '-t', 'ed25519', '-N', '', '-f', rec.clientKey]);
    const clientPub = await fs.readFile(`${rec.clientKey}.pub`, 'utf8');
    for (const [i, spec] of o.specs.entries()) {
      const h: Host = { name: spec.name, ns: `${o.name}-${spec.name}`, address: `${base}.${(o.firstHost ?? 2) + i}`, link: `${o.name}v${i}`,
        dir: path.join(o.dir, 'sshd', spec.name), hostKeyPub: '' };
      rec.hosts.push(h);
      await run('ip', ['netns', 'del', h.ns]);
      await must('ip', ['netns', 'add', h.ns]);
      await must('ip', ['link', 'add', h.link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns]);
      await must('ip', ['link', 'set', h.link, 'master', rec.bridge, 'up']);
      await must('ip', ['-n', h.ns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0']);
      await must('ip', ['-n', h.ns, 'link', 'set', 'eth0', 'up']);
      await must('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up']);
      if (spec.etcHosts) {
        await fs.mkdir(path.join('/etc/netns', h.ns), { recursive: true });
        const hosts = await fs.readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1 localhost\n');
        await fs.writeFile(path.join('/etc/netns', h.ns, 'hosts'), `${hosts.trimEnd()}\n${spec.etcHosts.join('\n')}\n`, { mode: 0o644 });
      }
      if (!spec.sshd) continue;
      await fs.mkdir(h.dir, { recursive: true, mode: 0o755 });
      await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(h.dir, 'hostkey')]);
      h.hostKeyPub = (await fs.readFile(path.join(h.dir, 'hostkey.pub'), 'utf8')).trim();
      await fs.writeFile(path.join(h.dir, 'authorized_keys'), clientPub, { mode: 0o644 });
      await fs.writeFile(path.join(h.dir, 'sshd_config'), sshdConfig(h));
      await startSshd(h);
    }
  } catch (e) {
    await destroyHosts(rec);
    throw e;
  }
  return rec;
}

/** The host's sshd (its listener): the process that holds the host's namespaces, network and mounts. */
export async function sshdPid(h: Pick<Host, 'dir'>): Promise<number> {
  return Number((await fs.readFile(path.join(h.dir, 'sshd.pid'), 'utf8')).trim());
}

/** A new host key and a restarted sshd: the host now looks like a different machine. */
export async function replaceHostKey(h: Host): Promise<void> {
  const pid = await sshdPid(h);
  process.kill(pid, 'SIGTERM');
  await until('the old sshd to stop', async () => { try { process.kill(pid, 0); return false; } catch { return true; } }, 10_000);
  await fs.rm(path.join(h.dir, 'hostkey'), { force: true });
  await fs.rm(path.join(h.dir, 'hostkey.pub'), { force: true });
  await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(h.dir, 'hostkey')]);
  h.hostKeyPub = (await fs.readFile(path.join(h.dir, 'hostkey.pub'), 'utf8')).trim();
  await startSshd(h);
}

/** Processes running in a host's namespace. */
export async function pidsIn(h: Pick<Host, 'ns'>): Promise<number[]> {
  return (await run('ip', ['netns', 'pids', h.ns])).stdout.split('\n').filter(Boolean).map(Number);
}

/**
 * SIGKILLs the processes in a host whose command line matches (all of them without `match`), again
 * and again until none is left: a parent killed after its child may have started another (nginx's
 * master replaces a worker), which would outlive it. Returns how many were killed.
 */
export async function killIn(h: Pick<Host, 'ns'>, match?: RegExp, deadlineMs = 5000): Promise<number> {
  const end = Date.now() + deadlineMs;
  let killed = 0;
  for (;;) {
    const pids: number[] = [];
    for (const pid of await pidsIn(h)) {
      const cmd = match ? (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ') : '';
      if (!match || match.test(cmd)) pids.push(pid);
    }
    if (pids.length === 0 || Date.now() > end) return killed;
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); killed++; } catch { /* gone */ }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Kills every process in the hosts' namespaces and removes them, their links and the bridge. Idempotent. */
export async function destroyHosts(rec: Pick<HostNetRecord, 'bridge' | 'hosts'>): Promise<void> {
  for (const h of rec.hosts) await killIn(h);
  for (const h of rec.hosts) {
    await run('ip', ['netns', 'del', h.ns]);
    await run('ip', ['link', 'del', h.link]);
    await fs.rm(path.join('/etc/netns', h.ns), { recursive: true, force: true });
  }
  await run('ip', ['link', 'del', rec.bridge]);
}

/** A TCP port nothing listens on now, on loopback (for a server started next). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  srv.close();
  await once(srv, 'close');
  return port;
}
