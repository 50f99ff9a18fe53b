// Segment-to-playlist latency on the same live input for: this packager, ffmpeg's own HLS
// muxer (hls_list_size 0, temp_file), and nginx-rtmp-module's HLS. For each, latency is the time
// from the segment file's last change (ctime/mtime) until a playlist on disk lists it.
import { spawn } from 'node:child_process';
import { watch, promises as fs } from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../common/log.js';
import { ffmpegArgs } from '../agent/encoder/args.js';
import { Packager } from '../packager/packager.js';
import { NginxProcess } from '../nginx/process.js';
import { ffmpeg, percentile, tempDir } from './util.js';

const SOURCE = (seconds: number): string[] => ['-re', '-t', String(seconds), '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
  '-re', '-t', String(seconds), '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'];
const X264 = ['-map', '0:v', '-map', '1:a', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0',
  '-c:a', 'aac', '-b:a', '96k'];

async function ours(seconds: number): Promise<number[]> {
  const root = await tempDir('lat-ours');
  const packager = new Packager({ root, log: silentLogger() });
  const sp = await packager.addStream({ app: 'live', stream: 'lat', renditions: ['src'], format: 'ts', segmentSeconds: 1,
    windowSeconds: 60 });
  const latencies: number[] = [];
  packager.events.on('listed', (e) => latencies.push(e.latencyMs));
  const args = ffmpegArgs({ input: { kind: 'test-pattern', width: 640, height: 360, fps: 25, durationSeconds: seconds }, mode: 'transcode',
    renditions: [{ name: 'src', height: 360 }], format: 'ts', segmentSeconds: 1, session: 'slat', streamDir: sp.paths.dir,
    realtime: true });
  await ffmpeg(args);
  await sp.idle();
  await packager.close();
  await fs.rm(root, { recursive: true, force: true });
  return latencies;
}

/** Watches a directory; each time the playlist changes, newly listed segments are timed against their file's ctime/mtime. */
function observe(dir: string, playlist: string): { latencies: number[]; close: () => void } {
  const seen = new Set<string>();
  const latencies: number[] = [];
  let busy = false;
  const check = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const now = Date.now();
      const text = await fs.readFile(path.join(dir, playlist), 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        if (!line.endsWith('.ts') || seen.has(line)) continue;
        seen.add(line);
        const st = await fs.stat(path.join(dir, line)).catch(() => undefined);
        if (st) latencies.push(now - Math.max(st.mtimeMs, st.ctimeMs));
      }
    } finally {
      busy = false;
    }
  };
  const w = watch(dir, () => { void check(); });
  return { latencies, close: () => w.close() };
}

async function ffmpegMuxer(seconds: number): Promise<number[]> {
  const dir = await tempDir('lat-ffmpeg');
  const o = observe(dir, 'out.m3u8');
  await ffmpeg(['-hide_banner', '-loglevel', 'error', ...SOURCE(seconds), ...X264, '-f', 'hls', '-hls_time', '1', '-hls_list_size', '0',
    '-hls_flags', 'temp_file', '-hls_segment_filename', path.join(dir, 'out-%d.ts'), path.join(dir, 'out.m3u8')]);
  o.close();
  await fs.rm(dir, { recursive: true, force: true });
  return o.latencies;
}

async function nginxRtmp(seconds: number): Promise<number[]> {
  const prefix = await tempDir('lat-rtmp');
  const hls = path.join(prefix, 'hls');
  await fs.mkdir(hls, { mode: 0o755 });
  await fs.chown(hls, 65534, 65534).catch(() => undefined); // workers run as nobody when started as root
  const port = 19000 + Math.floor(Math.random() * 1000);
  const conf = `load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 256; }
rtmp {
    server {
        listen 127.0.0.1:${port};
        application live {
            live on;
            hls on;
            hls_path ${hls};
            hls_fragment 1s;
            hls_playlist_length 60s;
            hls_cleanup off;
        }
    }
}
`;
  const nginx = new NginxProcess({ binary: 'nginx', prefix, log: silentLogger(), startTimeoutMs: 10_000, stopTimeoutMs: 5_000 });
  try {
    await nginx.start(conf, { host: '127.0.0.1', port });
    const o = observe(hls, 'bench.m3u8');
    await ffmpeg(['-hide_banner', '-loglevel', 'error', ...SOURCE(seconds), ...X264, '-f', 'flv', `rtmp://127.0.0.1:${port}/live/bench`]);
    o.close();
    return o.latencies;
  } finally {
    await nginx.stop();
    await fs.rm(prefix, { recursive: true, force: true });
  }
}

export async function latencyBench(seconds: number): Promise<void> {
  console.log(`\nsegment-to-playlist latency, ${seconds} s live test pattern, 1 s segments (p50 / p99 / max, ms)`);
  const rows: Array<[string, number[]]> = [];
  rows.push(['packager', await ours(seconds)]);
  rows.push(['ffmpeg hls muxer', await ffmpegMuxer(seconds)]);
  const rtmp = spawn('test', ['-e', '/usr/lib/nginx/modules/ngx_rtmp_module.so']);
  const hasRtmp = await new Promise((resolve) => rtmp.once('exit', (c) => resolve(c === 0)));
  if (hasRtmp) rows.push(['nginx-rtmp hls', await nginxRtmp(seconds)]);
  else console.log('nginx-rtmp: module not installed (apt-get install libnginx-mod-rtmp), skipped');
  const base = rows[0]?.[1] ?? [];
  for (const [name, v] of rows) {
    console.log(`${name.padEnd(18)} n=${String(v.length).padStart(3)}  `
      + `${percentile(v, 50).toFixed(1)} / ${percentile(v, 99).toFixed(1)} / ${Math.max(...v).toFixed(1)}`
      + (name === 'packager' ? ''
        : `   packager p99 minus this p99: ${(percentile(base, 99) - percentile(v, 99)).toFixed(1)} ms (target < 50 ms added)`));
  }
}
