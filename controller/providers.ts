// Where new nodes come from. One interface; `exec` runs the sysadmin's own scripts (e.g. their
// cloud's CLI). Every script's exit code is checked; its output names the node it made.
import { execFile } from 'node:child_process';
import { DvrError } from '../common/errors.js';
import type { Role, Target } from './launch-config.js';

export interface CreatedNode { id: string; address: string }

export interface Provider {
  /** Creates one machine for a role; it joins the cluster by heartbeat. */
  create(role: Role, target: Target): Promise<CreatedNode>;
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
        reject(new DvrError('DVR_ERR_DEPENDENCY', `${file} ${args.join(' ')} failed (exit ${String(code ?? 'signal')}): ${stderr.trim().slice(-500)}`));
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
    if (!id || !/^[a-z0-9_-]{1,64}$/.test(id) || !address || !/^[0-9A-Za-z.:-]{1,253}$/.test(address)) {
      throw new DvrError('DVR_ERR_DEPENDENCY', `${this.o.createScript} must print '<node-id> <address>' on its first line; it printed ${JSON.stringify(out.slice(0, 200))}`);
    }
    return { id, address };
  }

  async destroy(nodeId: string): Promise<void> {
    await runScript(this.o.destroyScript, [nodeId], this.o.timeoutMs);
  }
}
