// `dvr start`, the README's first command, for the tests and the low-latency benchmark: on free ports,
// in a data directory of its own, read through the `name: <url>` lines it prints (playback:, api:, ...).
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, tempDir, until } from './run.js';

/** How long Ctrl-C may take before the appliance is killed. */
const STOP_DEADLINE_MS = 30_000;

/** This build's `dvr` command: dist/test/support is two levels below dist/. */
const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../bin/dvr.cjs');

export interface ApplianceOptions {
  /** Arguments after `dvr start`, such as --no-demo. */
  args?: string[];
  /** Environment over the defaults (a free port each, the data directory, DVR_LOG_LEVEL=warn). */
  env?: Record<string, string>;
  /** Its data directory, as given; otherwise a fresh `dvr-<prefix>-XXXXXX` in the temp directory. */
  dataDir?: string;
  prefix?: string;
  /** The `dvr` command to run; this build's by default. */
  cli?: string;
  /** In a process group of its own, which a test can kill -9 as a crash would. */
  detached?: boolean;
  /** Its stderr goes to ours (a benchmark shows it to people) rather than into `stderr()` and error messages. */
  inheritStderr?: boolean;
}

export interface Appliance {
  dataDir: string;
  /** The ports it serves on (the edge's HTTP, the controller's API, the origin's RTMP). */
  port: number;
  apiPort: number;
  rtmpPort: number;
  proc: ChildProcess;
  /** What it printed so far, line by line. */
  lines: string[];
  /** Its stderr so far ('' if inherited). */
  stderr: () => string;
  /** Its exit code, once it exits. */
  exited: Promise<number | null>;
  /** The URL of its `name: <url>` line once printed; fails, with its stderr, if it exits first or after `deadlineMs`. */
  line: (name: string, deadlineMs?: number) => Promise<string>;
  /** Ctrl-C (SIGINT, sent once), then its exit code. */
  stop: () => Promise<number | null>;
  /** stop(), then its data directory removed. Idempotent. */
  close: () => Promise<void>;
}

export async function startAppliance(options: ApplianceOptions = {}): Promise<Appliance> {
  const dataDir = options.dataDir ?? await tempDir(options.prefix ?? 'appliance');
  const [port, apiPort, rtmpPort, statusPort, timeshiftPort] = [await freePort(), await freePort(), await freePort(), await freePort(),
    await freePort()];
  const env: Record<string, string> = { DVR_DATA_DIR: dataDir, DVR_HTTP_PORT: String(port), DVR_HTTP_HOST: '127.0.0.1',
    DVR_API_PORT: String(apiPort), DVR_RTMP_PORT: String(rtmpPort), DVR_RTMP_STATUS_PORT: String(statusPort),
    DVR_TIMESHIFT_PORT: String(timeshiftPort), DVR_LOG_LEVEL: 'warn', ...options.env };
  const proc = spawn(process.execPath, [options.cli ?? CLI, 'start', ...options.args ?? []], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', options.inheritStderr ? 'inherit' : 'pipe'], detached: options.detached,
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const said = (text: string): string => (options.inheritStderr ? '' : `; stderr: ${text}`);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const lines: string[] = [];
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => lines.push(l));
  const line = (name: string, deadlineMs = 60_000): Promise<string> => {
    let exit: Error | undefined;
    return until(`the ${name}: line`, () => {
      const url = lines.map((l) => new RegExp(`^${name}: (\\S+)$`).exec(l)?.[1]).find((u) => u !== undefined);
      if (url !== undefined || (proc.exitCode === null && proc.signalCode === null)) return url;
      throw exit = new Error(`dvr start exited (${String(proc.exitCode ?? proc.signalCode)}) before printing ${name}:${said(stderr)}`);
    }, deadlineMs, 100).catch((err: Error) => { throw err === exit ? err : new Error(`${err.message}${said(stderr.slice(-3000))}`); });
  };
  let stopping: Promise<number | null> | undefined;
  const stop = (): Promise<number | null> => {
    if (!stopping) {
      proc.kill('SIGINT');
      // Ctrl-C, and if it hangs, kill -9 (its process group when it has one) rather than wait for good.
      const hung = setTimeout(() => {
        try {
          if (options.detached && proc.pid !== undefined) process.kill(-proc.pid, 'SIGKILL');
          else proc.kill('SIGKILL');
        } catch { /* gone meanwhile */ }
      }, STOP_DEADLINE_MS);
      stopping = exited.finally(() => clearTimeout(hung));
    }
    return stopping;
  };
  const close = async (): Promise<void> => {
    await stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  };
  // The ports it was told, an `env` given by the caller included.
  return { dataDir, port: Number(env.DVR_HTTP_PORT), apiPort: Number(env.DVR_API_PORT), rtmpPort: Number(env.DVR_RTMP_PORT), proc,
    lines, stderr: () => stderr, exited, line, stop, close };
}
