// A controller for tests: in the test's own process with test-sized timings, or as its own process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { silentLogger } from '../../common/log.js';
import { Controller, type ControllerOptions } from '../../controller/controller.js';

export function startTestController(dataDir: string, host: string, port: number, adminToken: string,
  over: Partial<ControllerOptions> = {}): Promise<Controller> {
  return Controller.start({
    dataDir, host, port, log: silentLogger(), adminToken, deadAfterMs: 20_000, provisioningTimeoutMs: 600_000, sweepIntervalMs: 1000,
    originRtmpPort: 1935, edgeHttpPort: 8080, endGraceSeconds: 30, playbackTtlSeconds: 3600, scaleIntervalMs: 600_000, ...over,
  });
}

/**
 * `dvr-controller` (or a unit's command for it) as its own process on 127.0.0.1: resolves with the
 * API's URL once it prints `api: <url>`; the environment is the test's over this process's.
 */
export async function spawnController(script: string, port: number, env: NodeJS.ProcessEnv,
  stderr: 'inherit' | 'ignore' = 'ignore'): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [script, '--port', String(port), '--host', '127.0.0.1'],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', stderr] });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => {
      const m = /^api: (\S+)$/.exec(l); if (m?.[1]) resolve(m[1]);
    });
    proc.once('exit', (c) => reject(new Error(`controller exited ${String(c)}`)));
  });
  return { proc, url };
}
