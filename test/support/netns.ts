// Test hosts: network namespaces on a bridge, each with its own address and a real sshd with its
// own host key (lab/hosts.ts makes them, as for `dvr lab`), on a subnet of the test process's own.
// Everything is created here and removed by destroy(), processes started inside included.
import { promises as fs } from 'node:fs';
import { createHosts, destroyHosts, inHost, replaceHostKey, whyNoHosts, type Host, type RunResult } from '../../lab/hosts.js';
import { tempDir } from './run.js';

export type TestHost = Host;

export interface TestNet {
  dir: string;
  /** This machine's address on the bridge (the hosts reach it there). */
  gateway: string;
  subnet: string;
  clientKey: string;
  hosts: TestHost[];
  host(name: string): TestHost;
  /** Runs a command inside a host's namespace. */
  exec(host: TestHost, cmd: string[]): Promise<RunResult>;
  /** A new host key and a restarted sshd: the host now looks like a different machine. */
  replaceHostKey(host: TestHost): Promise<void>;
  destroy(): Promise<void>;
}

/** Whether this machine lets the tests make namespaces (root, iproute2, sshd). */
export const canMakeHosts = whyNoHosts;

export async function createTestNet(names: string[], clientKey?: string): Promise<TestNet> {
  const n = 20 + (process.pid % 200);
  const rec = await createHosts({ name: `dvrt${n}`, subnet: `10.213.${n}.0/24`, dir: await tempDir('netns'),
    specs: names.map((name) => ({ name, sshd: true })), ...(clientKey ? { clientKey } : {}) });
  return {
    dir: rec.dir, gateway: rec.gateway, subnet: rec.subnet, clientKey: rec.clientKey, hosts: rec.hosts,
    host: (name) => {
      const h = rec.hosts.find((x) => x.name === name);
      if (!h) throw new Error(`no test host ${name}`);
      return h;
    },
    exec: (h, cmd) => inHost(h, cmd, 120_000),
    replaceHostKey,
    destroy: async () => {
      await destroyHosts(rec);
      await fs.rm(rec.dir, { recursive: true, force: true });
    },
  };
}
