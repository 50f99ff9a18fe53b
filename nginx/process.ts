// Runs one nginx instance with a generated config under its own prefix directory.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { DvrError } from '../common/errors.js';
import { leashed } from '../common/leash.js';
import type { Logger } from '../common/log.js';

export interface NginxOptions {
  binary: string;
  prefix: string;
  log: Logger;
  /** How long start() waits for the listen socket. */
  startTimeoutMs: number;
  /** How long stop() waits after a graceful quit before killing. */
  stopTimeoutMs: number;
}

export class NginxProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly o: NginxOptions) {}

  get configPath(): string { return path.join(this.o.prefix, 'nginx.conf'); }

  /**
   * `nginx -t` on a config text written to `file`; throws with nginx's own message and the
   * offending line of the config when it fails.
   */
  async test(config: string, file = this.configPath): Promise<void> {
    await fs.mkdir(path.join(this.o.prefix, 'tmp'), { recursive: true });
    // The config may hold secrets (signing, hook tokens): readable by root and nginx's group only.
    await fs.writeFile(file, config, { mode: 0o640 });
    await new Promise<void>((resolve, reject) => {
      execFile(this.o.binary, ['-t', '-q', '-p', this.o.prefix, '-c', file, '-e', 'stderr'], (err, _out, stderr) => {
        if (!err) {
          resolve();
          return;
        }
        const m = /in (\S+):(\d+)/.exec(stderr);
        const lineNo = m ? Number(m[2]) : 0;
        const line = lineNo > 0 ? config.split('\n')[lineNo - 1]?.trim() : undefined;
        reject(new DvrError('DVR_ERR_NGINX', `nginx rejected the config: ${stderr.trim()}`
          + (line !== undefined ? ` (line ${lineNo}: ${line})` : ''), { line: lineNo }));
      });
    });
  }

  /**
   * Applies a new config to the running nginx: written beside the current one, tested, swapped
   * in by rename, then reloaded. A config that fails the test is reported (with its line) and
   * the running config keeps serving.
   */
  async apply(config: string): Promise<void> {
    const candidate = `${this.configPath}.next`;
    try {
      await this.test(config, candidate);
    } catch (err) {
      await fs.rm(candidate, { force: true });
      throw err;
    }
    await fs.rename(candidate, this.configPath);
    const pid = this.child?.pid;
    if (pid === undefined || this.child?.exitCode !== null) throw new DvrError('DVR_ERR_NGINX', 'nginx is not running; nothing to reload');
    process.kill(pid, 'SIGHUP');
    this.o.log.info({ config: this.configPath }, 'nginx reloading');
  }

  /**
   * Tests the config, starts nginx in the foreground and waits until it has bound every listener
   * (it writes its pid file only then; one address answering proves nothing about the others, and
   * a port held by another program answers too) and every address in `waitFor` accepts connections.
   * A master that exits (a port taken) fails the start with nginx's own message. nginx runs in its
   * own process group: a terminal's Ctrl-C reaches only its owner, which stops it in order; and it
   * stops when its owner dies.
   */
  async start(config: string, waitFor: { host: string; port: number } | Array<{ host: string; port: number }>): Promise<void> {
    await this.test(config);
    await fs.mkdir(path.join(this.o.prefix, 'tmp'), { recursive: true });
    const pidFile = /^pid "(.+)";$/m.exec(config)?.[1];
    if (pidFile !== undefined) await fs.rm(pidFile, { force: true });
    // Leashed: if this process dies (kill -9, the OOM killer), nginx stops too instead of holding its ports.
    const cmd = leashed(this.o.binary, ['-p', this.o.prefix, '-c', this.configPath, '-e', path.join(this.o.prefix, 'error.log'),
      '-g', 'daemon off;']);
    const child = spawn(cmd.binary, cmd.args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + this.o.startTimeoutMs;
    const wait = async (what: string, ready: () => Promise<boolean>): Promise<void> => {
      while (!(await ready())) {
        if (child.exitCode !== null) {
          const said = [...new Set(stderr.trim().split('\n').filter((l) => l !== ''))].join('; ');
          throw new DvrError('DVR_ERR_NGINX', `nginx exited at start: ${said || `see ${path.join(this.o.prefix, 'error.log')}`}`);
        }
        if (Date.now() > deadline) throw new DvrError('DVR_ERR_NGINX', `nginx did not ${what} within ${this.o.startTimeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    if (pidFile !== undefined) {
      await wait('bind its listeners', async () => (await fs.readFile(pidFile, 'utf8').catch(() => '')).trim() === String(child.pid));
    }
    for (const l of Array.isArray(waitFor) ? waitFor : [waitFor]) await wait(`listen on ${l.host}:${l.port}`,
      () => canConnect(l.host, l.port));
    child.once('exit', (code, signal) => {
      if (this.stopping === undefined) this.o.log.error({ pid: child.pid, code, signal, log: path.join(this.o.prefix, 'error.log') },
        'nginx exited unexpectedly');
    });
    this.o.log.info({ pid: child.pid, config: this.configPath }, 'nginx started');
  }

  /** Graceful quit, then SIGKILL after stopTimeoutMs. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const child = this.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), this.o.stopTimeoutMs);
      await this.exited;
      clearTimeout(timer);
    })();
    return this.stopping;
  }
}

export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
