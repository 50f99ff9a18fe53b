// Ingest capacity: how many concurrent copy-mode 720p streams one machine takes in and packages
// in real time (no segment more than 1 s late), the agent vs nginx-rtmp-module's own HLS on the
// same inputs, plus the agent's CPU per stream (its own process, not nginx or ffmpeg).
// The agent side is the one-machine deployment: the project's own origin config with its
// segmenter, the agent taking the fragments. --pull measures instead the cluster path where the
// origin is another node (an ffmpeg puller per stream).
// Usage: node dist/bench/ingest.js [--quick] [--pull] [--counts 64,96,128] [--agent-only] [--verbose]
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { silentLogger } from '../common/log.js';
import { Agent } from '../agent/agent.js';
import { parseAgentConfig } from '../agent/config.js';
import { RTMP_MODULE_PATH } from '../nginx/model.js';
import { NginxProcess } from '../nginx/process.js';
import { renderConfig } from '../nginx/render.js';
import { prepareSegmenterDirs } from '../nginx/segmenter.js';
import { ffmpeg, runBench, tempDir, type Started } from './util.js';

const quick = process.argv.includes('--quick');
const pull = process.argv.includes('--pull');
const verbose = process.argv.includes('--verbose');
const agentOnly = process.argv.includes('--agent-only');
const countsArg = process.argv[process.argv.indexOf('--counts') + 1];
const RUN_MS = quick ? 15_000 : 30_000;
const COUNTS = process.argv.includes('--counts') && countsArg ? countsArg.split(',').map(Number)
  : quick ? [2, 8] : [32, 64, 96, 128, 144, 160, 176, 192, 208, 224, 256];
const SEG = 2;

/** The peer: nginx-rtmp-module writing HLS itself, as its documentation configures it. */
function rtmpConfig(prefix: string, port: number, hls: string): string {
  const hlsLines = `hls on; hls_path ${hls}; hls_fragment ${SEG}s; hls_playlist_length 60s;`;
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

async function startRtmp(started: Started, port: number): Promise<{ stop: () => Promise<void>; hls: string }> {
  const prefix = await tempDir('ingest-hls');
  const hls = path.join(prefix, 'hls');
  await fs.mkdir(hls);
  await fs.chown(hls, 65534, 65534).catch(() => undefined);
  const nginx = new NginxProcess({ binary: 'nginx', prefix, log: silentLogger(), startTimeoutMs: 10_000, stopTimeoutMs: 5000 });
  const stop = started.add('nginx-rtmp (hls)', async () => { await nginx.stop(); await fs.rm(prefix, { recursive: true, force: true }); });
  await nginx.start(rtmpConfig(prefix, port, hls), { host: '127.0.0.1', port });
  return { stop, hls };
}

/** The project's origin (publish hooks answered here), segmenting when the agent takes its fragments. */
async function startOrigin(started: Started, port: number, fragments: string | undefined): Promise<{ stop: () => Promise<void> }> {
  const hooks = http.createServer((req, res) => { req.resume(); req.on('end', () => res.end()); });
  hooks.listen(0, '127.0.0.1');
  await once(hooks, 'listening');
  const prefix = await tempDir('ingest-origin');
  const nginx = new NginxProcess({ binary: 'nginx', prefix, log: silentLogger(), startTimeoutMs: 10_000, stopTimeoutMs: 5000 });
  const stop = started.add('the origin', async () => {
    await nginx.stop();
    hooks.close();
    await fs.rm(prefix, { recursive: true, force: true });
  });
  const segmenter = fragments ? { dir: fragments, fragmentSeconds: SEG, playlistSeconds: 60 } : undefined;
  if (segmenter) await prepareSegmenterDirs(segmenter, ['live']);
  await nginx.start(renderConfig({ role: 'origin', prefix, rtmpListen: { host: '127.0.0.1', port },
    statusListen: { host: '127.0.0.1', port: port + 1 }, apps: ['live'],
    controllerUrl: `http://127.0.0.1:${(hooks.address() as { port: number }).port}`, hookToken: 'bench-hook-token',
    publishAllow: ['127.0.0.1'], playAllow: ['127.0.0.1'], rtmpModulePath: RTMP_MODULE_PATH, workerProcesses: 1, workerConnections: 4096,
    statusAllow: ['127.0.0.1'], ...(segmenter ? { segmenter } : {}) }), { host: '127.0.0.1', port });
  return { stop };
}

/** The agent packaging N copy-mode streams: from the origin's fragments, or pulling (--pull). */
async function agentRun(started: Started, file: string,
  n: number): Promise<{ late: number; cpuPerStreamPct: number; listed: number; slow: number; gaps: number; p99Ms: number }> {
  const port = 19_500;
  const root = await tempDir('ingest-agent');
  const removeRoot = started.add('the agent\'s directories', () => fs.rm(root, { recursive: true, force: true }));
  const fragments = pull ? undefined : path.join(root, 'fragments');
  const origin = await startOrigin(started, port, fragments);
  const pubs = publishers(file, port, n);
  const stopPubs = started.add('the publishers', () => { for (const p of pubs) p.kill('SIGKILL'); });
  const agent = await Agent.start(parseAgentConfig({ nodeId: 'bench', storageRoot: path.join(root, 'media'),
    spoolRoot: path.join(root, 'spool'),
    ...(fragments ? { originSegments: { dir: fragments, fragmentSeconds: SEG, sources: [`rtmp://127.0.0.1:${port}`] } } : {}),
    jobs: Array.from({ length: n }, (_v, i) => ({
      app: 'live', stream: `s${i}`, source: { url: `rtmp://127.0.0.1:${port}/live/s${i}` }, mode: 'copy', format: 'ts', segmentSeconds: SEG,
      dvr: { windowSeconds: 60 } })) }), silentLogger());
  const stopAgent = started.add('the agent', () => agent.close());
  // Late: listed more than 1 s after the segment's last write, or written more than SEG + 1 s after
  // the one before it (the origin fell behind). The second is what the nginx-rtmp side counts, from
  // the same moment: when nginx finished the fragment.
  let slow = 0;
  let gaps = 0;
  let listed = 0;
  let latencies: number[] = [];
  const perStream = new Map<string, number>();
  const lastWrite = new Map<string, number>();
  agent.packager.events.on('listed', (e) => {
    const wrote = Date.now() - e.latencyMs;
    const prev = lastWrite.get(e.stream);
    lastWrite.set(e.stream, wrote);
    listed++;
    if (e.latencyMs > 1000) slow++;
    if (prev !== undefined && wrote - prev > (SEG + 1) * 1000) gaps++;
    latencies.push(e.latencyMs);
    perStream.set(e.stream, (perStream.get(e.stream) ?? 0) + 1);
  });
  // Warm-up: every puller connected and past its first segments (a backlog from a slow start is not
  // steady state), then the measured run.
  const warm = Date.now();
  while ([...perStream.values()].filter((c) => c >= 2).length < n
    && Date.now() - warm < 60_000) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 2000));
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  listed = 0;
  slow = 0;
  gaps = 0;
  latencies = [];
  await new Promise((r) => setTimeout(r, RUN_MS));
  const cpu = process.cpuUsage(cpu0);
  const wall = Date.now() - t0;
  const late = slow + gaps;
  latencies.sort((a, b) => a - b);
  const p99Ms = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
  await stopAgent();
  await stopPubs();
  await origin.stop();
  await removeRoot();
  return { late, listed, slow, gaps, p99Ms, cpuPerStreamPct: ((cpu.user + cpu.system) / 1000 / wall) * 100 / n };
}

/** nginx-rtmp-module writing HLS itself for the same N streams: late = playlist updates more than 1 s late. */
async function nginxRun(started: Started, file: string, n: number): Promise<{ late: number; listed: number }> {
  const port = 19_600;
  const rtmp = await startRtmp(started, port);
  const pubs = publishers(file, port, n);
  const stopPubs = started.add('the publishers', () => { for (const p of pubs) p.kill('SIGKILL'); });
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
  await stopPubs();
  await rtmp.stop();
  return { late, listed };
}

async function main(started: Started): Promise<void> {
  const src = await tempDir('ingest-src');
  started.add('the source file', () => fs.rm(src, { recursive: true, force: true }));
  const file = path.join(src, 'in720.flv');
  const made = await ffmpeg(['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-f', 'lavfi',
    '-i', 'sine=frequency=440:sample_rate=48000', '-t', '20', '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '2500k',
    '-g', String(25 * SEG), '-keyint_min', String(25 * SEG), '-sc_threshold', '0', '-c:a', 'aac', '-b:a', '96k', file]);
  if (made.code !== 0) throw new Error(made.stderr);
  console.log(`copy-mode 720p (2.5 Mb/s) streams, ${RUN_MS / 1000} s each; real time = no segment more than 1 s late`);
  console.log(`agent: ${pull ? 'an ffmpeg puller per stream from the origin (--pull)'
    : 'the origin\'s own fragments (origin and transcoder on one node)'}`);
  console.log('streams  agent: late / listed, CPU per stream (agent process)   nginx-rtmp hls: late / updates');
  let bestAgent = 0;
  let bestNginx = 0;
  for (const n of COUNTS) {
    // Once a side has fallen behind, larger counts are only run for the other one.
    const a = bestAgent === COUNTS[COUNTS.indexOf(n) - 1] || n === COUNTS[0] ? await agentRun(started, file, n) : undefined;
    const g = !agentOnly && (bestNginx === COUNTS[COUNTS.indexOf(n) - 1] || n === COUNTS[0]) ? await nginxRun(started, file, n) : undefined;
    if (a && a.late === 0 && a.listed > 0) bestAgent = n;
    if (g && g.late === 0 && g.listed > 0) bestNginx = n;
    if (a && verbose) console.log(`         agent: ${a.slow} listed > 1 s after their last write, `
      + `${a.gaps} written > ${SEG + 1} s after the one before; listing p99 ${a.p99Ms.toFixed(0)} ms`);
    console.log(`${String(n).padStart(7)}  ${a ? `${a.late} / ${a.listed}, ${a.cpuPerStreamPct.toFixed(2)} % of a core` : '-'}`.padEnd(63)
      + (g ? `${g.late} / ${g.listed}` : '-'));
    if (bestAgent < n && (bestNginx < n || agentOnly)) break; // both past their limit
  }
  console.log(`most streams in real time: agent ${bestAgent}, nginx-rtmp ${bestNginx} `
    + `(ratio ${bestNginx > 0 ? (bestAgent / bestNginx).toFixed(2) : 'n/a'}x; target >= 0.8x)`);
}

await runBench('bench:ingest', main);
