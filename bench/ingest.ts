// Ingest capacity: how many concurrent copy-mode 720p streams one machine takes in and packages
// in real time (no segment more than 1 s late), the agent vs nginx-rtmp-module's own HLS on the
// same inputs, plus the agent's CPU per stream (its own process, not ffmpeg).
// Usage: node dist/bench/ingest.js [--quick]
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../common/log.js';
import { Agent } from '../agent/agent.js';
import { parseAgentConfig } from '../agent/config.js';
import { NginxProcess } from '../nginx/process.js';
import { ffmpeg, tempDir } from './util.js';

const quick = process.argv.includes('--quick');
const RUN_MS = quick ? 15_000 : 30_000;
const COUNTS = quick ? [2, 8] : [32, 64, 96, 128, 144, 160, 176, 192, 208, 224, 256];
const SEG = 2;

function rtmpConfig(prefix: string, port: number, hls: string | undefined): string {
  const hlsLines = hls ? `hls on; hls_path ${hls}; hls_fragment ${SEG}s; hls_playlist_length 60s;` : '';
  return `load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log error;
events { worker_connections 4096; }
rtmp { server { listen 127.0.0.1:${port}; application live { live on; ${hlsLines} } } }
`;
}

function publishers(file: string, port: number, n: number): ChildProcess[] {
  return Array.from({ length: n }, (_v, i) => spawn('ffmpeg', ['-hide_banner', '-loglevel', 'quiet', '-re', '-stream_loop', '-1',
    '-i', file, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${port}/live/s${i}`], { stdio: 'ignore' }));
}

async function startRtmp(name: string, port: number, withHls: boolean): Promise<{ nginx: NginxProcess; prefix: string; hls: string }> {
  const prefix = await tempDir(`ingest-${name}`);
  const hls = path.join(prefix, 'hls');
  await fs.mkdir(hls);
  await fs.chown(hls, 65534, 65534).catch(() => undefined);
  const nginx = new NginxProcess({ binary: 'nginx', prefix, log: silentLogger(), startTimeoutMs: 10_000, stopTimeoutMs: 5000 });
  await nginx.start(rtmpConfig(prefix, port, withHls ? hls : undefined), { host: '127.0.0.1', port });
  return { nginx, prefix, hls };
}

/** The agent pulling N copy-mode streams from a plain RTMP origin. */
async function agentRun(file: string, n: number): Promise<{ late: number; cpuPerStreamPct: number; listed: number }> {
  const port = 19_500;
  const origin = await startRtmp('origin', port, false);
  const pubs = publishers(file, port, n);
  const root = await tempDir('ingest-agent');
  const agent = await Agent.start(parseAgentConfig({ nodeId: 'bench', storageRoot: root, jobs: Array.from({ length: n }, (_v, i) => ({
    app: 'live', stream: `s${i}`, source: { url: `rtmp://127.0.0.1:${port}/live/s${i}` }, mode: 'copy', segmentSeconds: SEG,
    dvr: { windowSeconds: 60 } })) }), silentLogger());
  let late = 0;
  let listed = 0;
  const perStream = new Map<string, number>();
  agent.packager.events.on('listed', (e) => {
    listed++;
    if (e.latencyMs > 1000) late++;
    perStream.set(e.stream, (perStream.get(e.stream) ?? 0) + 1);
  });
  // Warm-up: every puller connected and past its first segments (a backlog from a slow start is not
  // steady state), then the measured run.
  const warm = Date.now();
  while ([...perStream.values()].filter((c) => c >= 2).length < n && Date.now() - warm < 60_000) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 2000));
  const cpu0 = process.cpuUsage();
  const late0 = agent.transcoder.figures().reduce((a, f) => a + f.lateSegments, 0);
  const t0 = Date.now();
  listed = 0;
  late = 0;
  await new Promise((r) => setTimeout(r, RUN_MS));
  const cpu = process.cpuUsage(cpu0);
  const wall = Date.now() - t0;
  late += agent.transcoder.figures().reduce((a, f) => a + f.lateSegments, 0) - late0;
  await agent.close();
  for (const p of pubs) p.kill('SIGKILL');
  await origin.nginx.stop();
  await fs.rm(root, { recursive: true, force: true });
  await fs.rm(origin.prefix, { recursive: true, force: true });
  return { late, listed, cpuPerStreamPct: ((cpu.user + cpu.system) / 1000 / wall) * 100 / n };
}

/** nginx-rtmp-module writing HLS itself for the same N streams: late = playlist updates more than 1 s late. */
async function nginxRun(file: string, n: number): Promise<{ late: number; listed: number }> {
  const port = 19_600;
  const rtmp = await startRtmp('hls', port, true);
  const pubs = publishers(file, port, n);
  // Warm-up as for the agent: every stream has a playlist, then the measured run.
  const warm = Date.now();
  const present = async (): Promise<number> => (await fs.readdir(rtmp.hls)).filter((f) => f.endsWith('.m3u8')).length;
  while (await present() < n && Date.now() - warm < 60_000) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 2000));
  const last = new Map<string, { mtime: number; seen: number }>();
  let late = 0;
  let listed = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < RUN_MS) {
    for (let i = 0; i < n; i++) {
      const st = await fs.stat(path.join(rtmp.hls, `s${i}.m3u8`)).catch(() => undefined);
      if (!st) continue;
      const prev = last.get(`s${i}`);
      if (!prev || prev.mtime !== st.mtimeMs) {
        if (prev) {
          listed++;
          if (st.mtimeMs - prev.mtime > SEG * 1000 + 1000) late++;
        }
        last.set(`s${i}`, { mtime: st.mtimeMs, seen: Date.now() });
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const p of pubs) p.kill('SIGKILL');
  await rtmp.nginx.stop();
  await fs.rm(rtmp.prefix, { recursive: true, force: true });
  return { late, listed };
}

async function main(): Promise<void> {
  const src = await tempDir('ingest-src');
  const file = path.join(src, 'in720.flv');
  const made = await ffmpeg(['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-f', 'lavfi',
    '-i', 'sine=frequency=440:sample_rate=48000', '-t', '20', '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '2500k',
    '-g', String(25 * SEG), '-keyint_min', String(25 * SEG), '-sc_threshold', '0', '-c:a', 'aac', '-b:a', '96k', file]);
  if (made.code !== 0) throw new Error(made.stderr);
  console.log(`copy-mode 720p (2.5 Mb/s) streams, ${RUN_MS / 1000} s each; real time = no segment more than 1 s late`);
  console.log('streams  agent: late / listed, CPU per stream (agent process)   nginx-rtmp hls: late / updates');
  let bestAgent = 0;
  let bestNginx = 0;
  for (const n of COUNTS) {
    // Once a side has fallen behind, larger counts are only run for the other one.
    const a = bestAgent === COUNTS[COUNTS.indexOf(n) - 1] || n === COUNTS[0] ? await agentRun(file, n) : undefined;
    const g = bestNginx === COUNTS[COUNTS.indexOf(n) - 1] || n === COUNTS[0] ? await nginxRun(file, n) : undefined;
    if (a && a.late === 0 && a.listed > 0) bestAgent = n;
    if (g && g.late === 0 && g.listed > 0) bestNginx = n;
    console.log(`${String(n).padStart(7)}  ${a ? `${a.late} / ${a.listed}, ${a.cpuPerStreamPct.toFixed(2)} % of a core` : '-'}`.padEnd(63)
      + (g ? `${g.late} / ${g.listed}` : '-'));
    if (bestAgent < n && bestNginx < n) break; // both past their limit
  }
  console.log(`most streams in real time: agent ${bestAgent}, nginx-rtmp ${bestNginx} (ratio ${bestNginx > 0 ? (bestAgent / bestNginx).toFixed(2) : 'n/a'}x; target >= 0.8x)`);
  await fs.rm(src, { recursive: true, force: true });
}

await main();
