// Swaps a running nginx's include file (the stream maps a node's agent keeps) safely: the new text
// is tested inside the whole config (`nginx -t` on a copy of the main config that includes the
// candidate) before it replaces the old one by rename, and nginx reloads only when it changed.
// Runs as the account that runs nginx's master (root on the appliance, the agent's on a node).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DvrError, errnoCode } from '../common/errors.js';

export interface IncludeFileOptions {
  /** nginx's main config, which has `include "<file>";`. */
  config: string;
  /** The include file this applier owns. */
  file: string;
  binary?: string;
  /** How long `nginx -t` may take. */
  testTimeoutMs?: number;
}

export type ApplyResult = 'unchanged' | 'reloaded';

export class IncludeFile {
  private last: string | undefined;
  /** The file is in place but nginx has not taken it (the reload failed): try again. */
  private reloadPending = false;

  constructor(private readonly o: IncludeFileOptions) {}

  /** Puts `text` in place and reloads nginx, unless it is what is there already. */
  async apply(text: string): Promise<ApplyResult> {
    if (this.last === undefined) this.last = await fs.readFile(this.o.file, 'utf8').catch(() => undefined);
    if (text === this.last && !this.reloadPending) return 'unchanged';
    const dir = path.dirname(this.o.file);
    const tag = randomBytes(4).toString('hex');
    const candidate = path.join(dir, `.${path.basename(this.o.file)}.${tag}.tmp`);
    const mainText = await fs.readFile(this.o.config, 'utf8');
    const line = `include ${JSON.stringify(this.o.file)};`;
    if (!mainText.includes(line)) {
      throw new DvrError('DVR_ERR_NGINX', `${this.o.config} does not include ${this.o.file}: render the config with this include`);
    }
    // Beside the include (the main config's directory may not be the agent's to write).
    const testConfig = path.join(dir, `.${path.basename(this.o.config)}.${tag}.tmp`);
    if (text !== this.last) await this.swap(text, candidate, testConfig, mainText.replace(line, `include ${JSON.stringify(candidate)};`));
    this.reloadPending = true;
    await this.reload(mainText);
    this.reloadPending = false;
    return 'reloaded';
  }

  /** Tests `text` inside a copy of the whole config, then renames it into place. */
  private async swap(text: string, candidate: string, testConfig: string, testText: string): Promise<void> {
    try {
      await fs.writeFile(candidate, text, { mode: 0o640 });
      await fs.writeFile(testConfig, testText, { mode: 0o640 });
      await this.test(testConfig);
      await fs.rename(candidate, this.o.file);
      this.last = text;
    } finally {
      await fs.rm(candidate, { force: true });
      await fs.rm(testConfig, { force: true });
    }
  }

  private test(config: string): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile(this.o.binary ?? 'nginx', ['-t', '-q', '-c', config], { timeout: this.o.testTimeoutMs ?? 10_000 }, (err, _out, stderr) => {
        if (err) reject(new DvrError('DVR_ERR_NGINX', `nginx refused the new ${path.basename(this.o.file)}: `
          + `${stderr.trim() || err.message}; the running one is kept`));
        else resolve();
      });
    });
  }

  /** SIGHUP to the master named by the config's pid file: new workers take the new maps. */
  private async reload(mainText: string): Promise<void> {
    const pidFile = /^pid "(.+)";$/m.exec(mainText)?.[1];
    if (pidFile === undefined) throw new DvrError('DVR_ERR_NGINX', `${this.o.config} names no pid file: cannot reload nginx`);
    const pid = Number((await fs.readFile(pidFile, 'utf8').catch((err: unknown) => {
      throw new DvrError('DVR_ERR_NGINX', `cannot read nginx's pid file ${pidFile} (${errnoCode(err) ?? String(err)}): is nginx running?`);
    })).trim());
    if (!Number.isInteger(pid) || pid <= 1) throw new DvrError('DVR_ERR_NGINX', `${pidFile} does not hold a process id`);
    try {
      process.kill(pid, 'SIGHUP');
    } catch (err) {
      throw new DvrError('DVR_ERR_NGINX', `cannot reload nginx (pid ${pid}): ${errnoCode(err) ?? String(err)}`);
    }
  }
}
