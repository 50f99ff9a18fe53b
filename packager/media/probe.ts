// Picture size from ffprobe, once per encoder session (not per segment: off the hot path).
import { execFile } from 'node:child_process';
import type { VideoProbe } from '../stream.js';
import { DvrError } from '../../common/errors.js';

export interface ProbeOptions {
  ffprobe: string;
  timeoutMs: number;
}

export function ffprobeVideoSize(options: ProbeOptions): VideoProbe {
  return (file) => new Promise((resolve, reject) => {
    execFile(options.ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height',
      '-of', 'json', file], { timeout: options.timeoutMs }, (err, stdout) => {
      if (err) {
        reject(new DvrError('DVR_ERR_DEPENDENCY', `ffprobe ${file}: ${err.message}`));
        return;
      }
      try {
        const parsed = JSON.parse(stdout) as { streams?: Array<{ width?: number; height?: number }> };
        const s = parsed.streams?.[0];
        resolve(s?.width && s.height ? { width: s.width, height: s.height } : undefined);
      } catch (e) {
        reject(new DvrError('DVR_ERR_DEPENDENCY', `ffprobe ${file}: unreadable output: ${e instanceof Error ? e.message : String(e)}`));
      }
    });
  });
}
