// Runs an ffmpeg command line to its end (tests, benchmarks, one-shot jobs).
import { spawn } from 'node:child_process';

export function runFfmpeg(args: string[], binary = 'ffmpeg'): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('exit', (code) => resolve({ code: code ?? 1, stderr }));
  });
}
