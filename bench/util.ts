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
