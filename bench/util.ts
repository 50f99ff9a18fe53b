// Small helpers shared by the benchmarks.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

export async function tempDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `dvr-${prefix}-`));
  await fs.chmod(dir, 0o755);
  return dir;
}

export { runFfmpeg as ffmpeg } from '../agent/encoder/run.js';

/**
 * What a benchmark started (servers, agents, publishers, temp directories), stopped newest first
 * when it ends, fails or is interrupted, so a failed run leaves no server on its ports.
 */
export class Started {
  private readonly stops: Array<{ what: string; stop: () => Promise<unknown> | unknown }> = [];

  /** Remembers how to stop `what`; returns a function that stops it now (and forgets it). */
  add(what: string, stop: () => Promise<unknown> | unknown): () => Promise<void> {
    const entry = { what, stop };
    this.stops.push(entry);
    return async () => {
      const i = this.stops.indexOf(entry);
      if (i < 0) return;
      this.stops.splice(i, 1);
      await entry.stop();
    };
  }

  async stopAll(): Promise<void> {
    for (const { what, stop } of this.stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        console.error(`could not stop ${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

/** Runs a benchmark: whatever it started is stopped at the end, on failure and on Ctrl-C. */
export async function runBench(name: string, bench: (started: Started) => Promise<void>): Promise<void> {
  const started = new Started();
  const interrupted = (): void => { void started.stopAll().then(() => process.exit(130)); };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await bench(started);
  } catch (err) {
    console.error(`${name}: failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  } finally {
    await started.stopAll();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}
