// Picture size from ffprobe, once per encoder session (not per segment: off the hot path).
import { execFile } from 'node:child_process';
import type { VideoProbe } from './stream.js';

export interface ProbeOptions {
  ffprobe: string;
  timeoutMs: number;
}

export function ffprobeVideoSize(options: ProbeOptions): VideoProbe {
  return (file) => new Promise((resolve, reject) => {
    execFile(options.ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height',
      '-of', 'json', file], { timeout: options.timeoutMs }, (err, stdout) => {
      if (err) {
        reject(new Error(`ffprobe ${file}: ${err.message}`));
        return;
      }
      try {
        const parsed = JSON.parse(stdout) as { streams?: Array<{ width?: number; height?: number }> };
        const s = parsed.streams?.[0];
        resolve(s?.width && s.height ? { width: s.width, height: s.height } : undefined);
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}
