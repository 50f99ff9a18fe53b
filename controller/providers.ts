// Where new nodes come from. One interface; `exec` runs the sysadmin's own scripts (e.g. their
// cloud's CLI), `static` provisions hosts from an inventory file over SSH. Every script's exit code
// is checked; failures name the node and the step.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DvrError } from '../common/errors.js';
import { isName } from '../common/names.js';
import type { Logger } from '../common/log.js';
import { buildAgentBundle } from '../provisioning/bundle.js';
import { loadInventory, PROVISIONING_DIR, type Inventory } from '../provisioning/inventory.js';
import { KnownHosts } from '../provisioning/known-hosts.js';
import { agentRole } from '../provisioning/plan.js';
import { provision, stopAgent, type RunOptions } from '../provisioning/runner.js';
import type { Role, Target } from './launch-config.js';

export interface CreatedNode { id: string; address: string }

export interface Provider {
  /** Creates one machine for a role; it joins the cluster by heartbeat. `taken`: node ids in use. */
  create(role: Role, target: Target, taken: ReadonlySet<string>): Promise<CreatedNode>;
  destroy(nodeId: string): Promise<void>;
}

export interface ExecProviderOptions {
  /** Called as `<createScript> <role> <instanceType> <image>`; prints `<node-id> <address>` on its first line. */
  createScript: string;
  /** Called as `<destroyScript> <node-id>`. */
  destroyScript: string;
  timeoutMs: number;
}

function runScript(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as { code?: unknown }).code;
        reject(new DvrError('DVR_ERR_DEPENDENCY',
          `${file} ${args.join(' ')} failed (exit ${String(code ?? 'signal')}): ${stderr.trim().slice(-500)}`));
        return;
      }
      resolve(stdout);
    });
  });
}

export class ExecProvider implements Provider {
  constructor(private readonly o: ExecProviderOptions) {}

  async create(role: Role, target: Target): Promise<CreatedNode> {
    const out = await runScript(this.o.createScript, [role, target.instanceType, target.image ?? ''], this.o.timeoutMs);
    const [id, address] = (out.split('\n')[0] ?? '').trim().split(/\s+/);
    if (!id || !isName(id) || !address || !/^[0-9A-Za-z.:-]{1,253}$/.test(address)) {
      throw new DvrError('DVR_ERR_DEPENDENCY', `${this.o.createScript} must print '<node-id> <address>' on its first line; `
        + `it printed ${JSON.stringify(out.slice(0, 200))}`);
    }
    return { id, address };
  }

  async destroy(nodeId: string): Promise<void> {
    await runScript(this.o.destroyScript, [nodeId], this.o.timeoutMs);
  }
}

export interface StaticProviderOptions {
  /** The pool: an inventory whose hosts (by their roles) the controller may add. Read at each use. */
  inventoryFile: string;
  knownHostsFile: string;
  /** Trust a host's key on first use (then pinned). Off by default: pin keys beforehand. */
  acceptNewHostKeys: boolean;
  /** Where the agent bundle is built. */
  workDir: string;
  log: Logger;
}

/** A pool of existing hosts: `create` provisions a free one for the role, `destroy` stops its agent. */
export class StaticProvider implements Provider {
  private readonly busy = new Set<string>();
  private bundle: Promise<string> | undefined;

  constructor(private readonly o: StaticProviderOptions) {}

  private async runOptions(inv: Inventory): Promise<RunOptions> {
    const tokenFile = inv.controller?.agentTokenFile;
    if (!tokenFile) throw new DvrError('DVR_ERR_CONFIG', `${this.o.inventoryFile}: $.inventory.controller.agentTokenFile: `
      + 'required for the static provider');
    const agentToken = (await fs.readFile(tokenFile, 'utf8')).trim();
    // Built once per controller process: the project does not change under a running controller.
    this.bundle ??= buildAgentBundle(path.dirname(PROVISIONING_DIR), path.join(this.o.workDir, 'dvr-agent.tgz'));
    const log = this.o.log;
    return { inventory: inv, knownHosts: await KnownHosts.open(this.o.knownHostsFile), acceptNewHostKeys: this.o.acceptNewHostKeys,
      check: false, agentToken, agentBundle: await this.bundle, onProgress: (host, line) => log.debug({ host, line }, 'provisioning') };
  }

  async create(role: Role, _target: Target, taken: ReadonlySet<string>): Promise<CreatedNode> {
    const inv = await loadInventory(this.o.inventoryFile);
    const host = inv.hosts.find((h) => agentRole(h) === role && !taken.has(h.name) && !this.busy.has(h.name));
    if (!host) {
      throw new DvrError('DVR_ERR_NO_CAPACITY', `the static pool (${this.o.inventoryFile}) has no free ${role} host: `
        + 'add one to $.inventory.hosts');
    }
    this.busy.add(host.name);
    try {
      this.o.log.info({ host: host.name, address: host.address, role }, 'provisioning a host from the static pool');
      const [r] = await provision({ ...await this.runOptions(inv), only: [host.name] });
      if (!r || r.outcome === 'failed') {
        throw new DvrError('DVR_ERR_DEPENDENCY', `provisioning ${host.name} (${host.address}) failed: ${r?.error ?? 'no result'}`);
      }
      this.o.log.info({ host: host.name, outcome: r.outcome }, 'host provisioned');
      return { id: host.name, address: host.address };
    } finally {
      this.busy.delete(host.name);
    }
  }

  async destroy(nodeId: string): Promise<void> {
    const inv = await loadInventory(this.o.inventoryFile);
    if (!inv.hosts.some((h) => h.name === nodeId)) {
      this.o.log.warn({ node: nodeId }, 'node is not in the static pool; nothing to stop');
      return;
    }
    const r = await stopAgent(await this.runOptions(inv), nodeId);
    if (r.outcome === 'failed') throw new DvrError('DVR_ERR_DEPENDENCY', `stopping the agent on ${nodeId} failed: ${r.error ?? ''}`);
  }
}
