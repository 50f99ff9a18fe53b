// Test hosts: network namespaces on a bridge, each with its own address and a real sshd with its
// own host key. They share this machine's filesystem, so provisioning gives each a --prefix.
// Everything is created here and removed by destroy(), processes started inside included.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { run, tempDir, until } from './run.js';

export interface TestHost { name: string; ns: string; address: string; dir: string; hostKeyPub: string }

export interface TestNet {
  dir: string;
  /** This machine's address on the bridge (the hosts reach it there). */
  gateway: string;
  subnet: string;
  clientKey: string;
  hosts: TestHost[];
  host(name: string): TestHost;
  /** Runs a command inside a host's namespace. */
  exec(host: TestHost, cmd: string[]): Promise<{ stdout: string; stderr: string; code: number }>;
  /** A new host key and a restarted sshd: the host now looks like a different machine. */
  replaceHostKey(host: TestHost): Promise<void>;
  destroy(): Promise<void>;
}

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args, 30_000);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Whether this machine lets the tests make namespaces (root, iproute2, sshd). */
export async function canMakeHosts(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  for (const bin of ['/usr/sbin/sshd', '/usr/bin/ssh-keygen']) {
    if (!await fs.access(bin).then(() => true, () => false)) return `${bin} is not installed (scripts/install-deps.sh --test)`;
  }
  const probe = `dvrprobe${process.pid % 100000}`;
  const r = await run('ip', ['netns', 'add', probe]);
  if (r.code !== 0) return `ip netns add: ${r.stderr.trim()}`;
  await run('ip', ['netns', 'del', probe]);
  return undefined;
}

async function startSshd(h: TestHost): Promise<void> {
  await fs.rm(path.join(h.dir, 'sshd.pid'), { force: true });
  await must('ip', ['netns', 'exec', h.ns, '/usr/sbin/sshd', '-f', path.join(h.dir, 'sshd_config'), '-E', path.join(h.dir, 'sshd.log')]);
  await until(`sshd on ${h.address}`, async () => (await run('ip', ['netns', 'exec', h.ns, 'bash', '-c', `exec 3<>/dev/tcp/${h.address}/22`])).code === 0, 10_000);
}

export async function createTestNet(names: string[], clientKey?: string): Promise<TestNet> {
  const n = 20 + (process.pid % 200);
  const bridge = `dvrt${n}br`;
  const subnet = `10.213.${n}.0/24`;
  const gateway = `10.213.${n}.1`;
  const dir = await tempDir('netns');
  await fs.mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const hosts: TestHost[] = [];
  const net: TestNet = {
    dir, gateway, subnet, clientKey: clientKey ?? path.join(dir, 'client'), hosts,
    host: (name) => {
      const h = hosts.find((x) => x.name === name);
      if (!h) throw new Error(`no test host ${name}`);
      return h;
    },
    exec: (h, cmd) => run('ip', ['netns', 'exec', h.ns, ...cmd]),
    replaceHostKey: async (h) => {
      const pid = (await fs.readFile(path.join(h.dir, 'sshd.pid'), 'utf8')).trim();
      process.kill(Number(pid), 'SIGTERM');
      await until('the old sshd to stop', () => { try { process.kill(Number(pid), 0); return false; } catch { return true; } }, 10_000);
      await fs.rm(path.join(h.dir, 'hostkey'), { force: true });
      await fs.rm(path.join(h.dir, 'hostkey.pub'), { force: true });
      await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(h.dir, 'hostkey')]);
      h.hostKeyPub = (await fs.readFile(path.join(h.dir, 'hostkey.pub'), 'utf8')).trim();
      await startSshd(h);
    },
    destroy: async () => {
      for (const h of hosts) {
        const pids = (await run('ip', ['netns', 'pids', h.ns])).stdout.split('\n').filter(Boolean).map(Number);
        for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
        await run('ip', ['netns', 'del', h.ns]);
      }
      await run('ip', ['link', 'del', bridge]);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await run('ip', ['link', 'del', bridge]);
    await must('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await must('ip', ['addr', 'add', `${gateway}/24`, 'dev', bridge]);
    await must('ip', ['link', 'set', bridge, 'up']);
    if (!clientKey) await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', net.clientKey]);
    const clientPub = await fs.readFile(`${net.clientKey}.pub`, 'utf8');
    for (const [i, name] of names.entries()) {
      const ns = `dvrt${n}-${name}`;
      const veth = `dvrt${n}v${i}`;
      const h: TestHost = { name, ns, address: `10.213.${n}.${i + 2}`, dir: path.join(dir, name), hostKeyPub: '' };
      hosts.push(h);
      // sshd reads a user's authorized keys as that user: the 'dvr' account logs in too (sshfs mounts).
      await fs.mkdir(h.dir, { mode: 0o755 });
      await run('ip', ['netns', 'del', ns]);
      await must('ip', ['netns', 'add', ns]);
      await must('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await must('ip', ['link', 'set', veth, 'master', bridge, 'up']);
      await must('ip', ['-n', ns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0']);
      await must('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(h.dir, 'hostkey')]);
      h.hostKeyPub = (await fs.readFile(path.join(h.dir, 'hostkey.pub'), 'utf8')).trim();
      await fs.writeFile(path.join(h.dir, 'authorized_keys'), clientPub, { mode: 0o644 });
      await fs.writeFile(path.join(h.dir, 'sshd_config'), [
        `ListenAddress ${h.address}:22`, `HostKey ${h.dir}/hostkey`, `PidFile ${h.dir}/sshd.pid`,
        `AuthorizedKeysFile ${h.dir}/authorized_keys`, 'PermitRootLogin prohibit-password', 'PasswordAuthentication no',
        'KbdInteractiveAuthentication no', 'UsePAM no', 'Subsystem sftp internal-sftp',
        // The keys live under /tmp, whose sticky world-writable mode StrictModes refuses.
        'StrictModes no', '',
      ].join('\n'));
      await startSshd(h);
    }
  } catch (e) {
    await net.destroy();
    throw e;
  }
  return net;
}
