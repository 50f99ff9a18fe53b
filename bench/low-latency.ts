// Low-latency HLS, measured on the appliance (`dvr start`, its edge and its transcoder on this machine):
// 1. glass to glass: one publisher (a test pattern) sent to two streams of the same settings but for
//    lowLatency; hls.js in Chromium plays each, the latency is the player's clock minus the
//    PROGRAM-DATE-TIME of what it plays (the packager dates media by when it arrived);
// 2. an edge holding N blocked playlist requests (default 2,000) for the next part: from the part's
//    write (the encoder's file grows by a fragment: inotify on the spool) to each request's answer,
//    and the CPU and memory the edge (nginx and the agent's fan-out) and the transcoder spend.
// Usage: node dist/bench/low-latency.js [--waiters N] [--rounds R]
import { spawn } from 'node:child_process';
import { watch, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { launchChromium, videoPage } from '../test/support/chromium.js';
import { freePort } from '../test/support/run.js';
import { percentile, runBench, tempDir, type Started } from './util.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};

interface Appliance { dataDir: string; playback: string; api: string; token: string; port: number; rtmpPort: number; pid: number }

async function startAppliance(started: Started): Promise<Appliance> {
  const dataDir = await tempDir('bench-ll');
  const [port, apiPort, rtmpPort, statusPort, timeshiftPort] = [await freePort(), await freePort(), await freePort(), await freePort(),
    await freePort()];
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin/dvr.cjs'), 'start'], {
    env: { ...process.env, DVR_DATA_DIR: dataDir, DVR_HTTP_PORT: String(port), DVR_HTTP_HOST: '127.0.0.1', DVR_API_PORT: String(apiPort),
      DVR_RTMP_PORT: String(rtmpPort), DVR_RTMP_STATUS_PORT: String(statusPort), DVR_TIMESHIFT_PORT: String(timeshiftPort),
      DVR_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] });
  started.add('the appliance', async () => {
    proc.kill('SIGINT');
    await new Promise((r) => proc.once('exit', r));
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  const lines: string[] = [];
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => lines.push(l));
  const line = async (name: string): Promise<string> => {
    for (let i = 0; i < 900; i++) {
      const found = lines.map((l) => new RegExp(`^${name}: (\\S+)$`).exec(l)?.[1]).find((u) => u !== undefined);
      if (found) return found;
      if (proc.exitCode !== null) throw new Error(`dvr start exited (${proc.exitCode})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`dvr start printed no ${name}: line`);
  };
  const playback = await line('playback');
  const api = await line('api');
  const token = (await fs.readFile(path.join(dataDir, 'controller', 'admin-token'), 'utf8')).trim();
  return { dataDir, playback, api, token, port, rtmpPort, pid: proc.pid ?? 0 };
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Two streams, one low-latency, fed by one publisher with a clock burnt in; hls.js plays each. */
async function glassToGlass(a: Appliance, started: Started): Promise<Map<string, number[]>> {
  const auth = { Authorization: `Bearer ${a.token}`, 'Content-Type': 'application/json' };
  const urls: string[] = [];
  for (const [stream, lowLatency] of [['ll', true], ['plain', false]] as const) {
    const made = await fetch(`${a.api}/streams`, { method: 'POST', headers: auth,
      body: JSON.stringify({ app: 'live', stream, mode: 'transcode', ladder: [{ name: 'v', height: 360 }], windowSeconds: 600,
        lowLatency }) });
    if (made.status !== 201) throw new Error(`cannot create live/${stream}: ${await made.text()}`);
    const pub = (await (await fetch(`${a.api}/streams/live/${stream}/publish`, { headers: auth })).json()) as { url: string };
    urls.push(pub.url.replace(/\/\/[^/:]+:/, '//127.0.0.1:'));
  }
  const clock = "drawtext=text='%{localtime\\:%H\\\\\\:%M\\\\\\:%S}':fontsize=40:fontcolor=white:x=20:y=20";
  const publisher = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
    '-vf', clock, '-t', '600', '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '50', '-f', 'tee',
    '-map', '0:v', urls.map((u) => `[f=flv]${u}`).join('|')], { stdio: 'ignore' });
  const stopPublisher = started.add('the publisher', () => publisher.kill('SIGINT'));
  const browser = await launchChromium();
  started.add('Chromium', () => browser.close());
  const out = new Map<string, number[]>();
  try {
    for (const stream of ['ll', 'plain']) {
      const master = `http://127.0.0.1:${a.port}/live/${stream}/master.m3u8`;
      await until(`live/${stream} to play`, async () => ((await fetch(master)).ok ? true : undefined), 60_000);
      const page = await browser.newPage();
      await videoPage(page, `http://127.0.0.1:${a.port}`, path.join(ROOT, '..', 'node_modules/hls.js/dist/hls.min.js'));
      await page.evaluate(`(() => { const v = document.getElementById('v'); const hls = new Hls({ lowLatencyMode: true });
        hls.loadSource(${JSON.stringify(master)}); hls.attachMedia(v); v.play(); window.hls = hls; })()`);
      const samples: number[] = [];
      await until(`hls.js on live/${stream}`, async () => {
        const s = await page.evaluate(`(() => { const v = document.getElementById('v');
          return !v.paused && v.readyState >= 3 && hls.playingDate ? Date.now() - hls.playingDate.getTime() : null; })()`) as number | null;
        if (s !== null) samples.push(s);
        return samples.length >= 40 ? true : undefined;
      }, 120_000);
      out.set(stream, samples.slice(10));
      await page.close();
    }
  } finally {
    await stopPublisher();
  }
  return out;
}

/** CPU seconds (user + system) of these processes so far. */
async function cpuSeconds(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11] ?? 0) + Number(f[12] ?? 0);
  }
  return ticks / 100;
}

async function rssMb(pids: number[]): Promise<number> {
  let kb = 0;
  for (const pid of pids) {
    const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    kb += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  }
  return kb / 1024;
}

async function pidsOf(pattern: string): Promise<number[]> {
  const out = await new Promise<string>((resolve) => {
    const p = spawn('pgrep', ['-f', pattern]);
    let s = '';
    p.stdout.on('data', (d: Buffer) => { s += d.toString(); });
    p.once('exit', () => resolve(s));
  });
  return out.split('\n').filter((l) => l !== '').map(Number);
}

/** N requests held for the next part of the demo's r720 rendition; rounds of them. */
async function blocked(a: Appliance, waiters: number, rounds: number): Promise<{ delays: number[]; cpu: number; rss: number;
  rssIdle: number; seconds: number }> {
  const media = `http://127.0.0.1:${a.port}/live/demo/r720/index.m3u8`;
  const parts = path.join(a.dataDir, 'media/live/demo/r720/parts');
  const writes: number[] = [];
  const w = watch(parts, () => writes.push(Date.now()));
  const edge = [...await pidsOf(`nginx: worker process`), a.pid];
  const rssIdle = await rssMb(edge);
  const delays: number[] = [];
  let cpu = 0;
  let rss = 0;
  let seconds = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      const text = await (await fetch(`${media}?_HLS_msn=0`)).text();
      const hint = /PRELOAD-HINT:TYPE=PART,URI="part_[A-Za-z0-9]+_(\d+)_(\d+)\.m4s"/.exec(text);
      const msn = Number(/#EXT-X-RENDITION-REPORT:[^\n]*LAST-MSN=(\d+)/.exec(text)?.[1] ?? NaN);
      if (!hint || !Number.isFinite(msn)) throw new Error(`no hint in the playlist: ${text.slice(-400)}`);
      const part = Number(hint[2]);
      const url = `${media}?_HLS_msn=${msn}&_HLS_part=${part}&_HLS_skip=YES`;
      const cpu0 = await cpuSeconds(edge);
      const t0 = Date.now();
      const asked = writes.length;
      const answered = await Promise.all(Array.from({ length: waiters }, async () => {
        // Node's fetch opens as many connections as there are requests: each waits on its own, as players do.
        const r = await fetch(url);
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`a blocked request got ${r.status}`);
        return Date.now();
      }).map(async (p, i) => { if (i === 0) rss = Math.max(rss, await rssMb(edge)); return p; }));
      seconds += (Date.now() - t0) / 1000;
      cpu += await cpuSeconds(edge) - cpu0;
      // The part's write: the encoder's file grew (the first change after the requests were sent).
      const written = writes.slice(asked).find((t) => t >= t0) ?? t0;
      for (const t of answered) delays.push(t - written);
    }
  } finally {
    w.close();
  }
  return { delays, cpu, rss, rssIdle, seconds };
}

async function main(started: Started): Promise<void> {
  const waiters = arg('waiters', 2000);
  const rounds = arg('rounds', 5);
  console.log('starting the appliance (dvr start)');
  const a = await startAppliance(started);
  const b = await blocked(a, waiters, rounds);
  console.log(`\n${waiters} blocked playlist requests on the appliance's edge, ${rounds} parts (2 cores):`);
  console.log(`  part written -> answered: p50 ${percentile(b.delays, 50)} ms, p99 ${percentile(b.delays, 99)} ms, `
    + `max ${Math.max(...b.delays)} ms`);
  console.log(`  edge (nginx workers + agent) CPU while holding: ${(100 * b.cpu / b.seconds).toFixed(1)} % of a core; `
    + `memory ${b.rss.toFixed(0)} MB (idle ${b.rssIdle.toFixed(0)} MB)`);
  const g = await glassToGlass(a, started);
  const ll = g.get('ll') ?? [];
  const plain = g.get('plain') ?? [];
  console.log('\nglass to glass (hls.js in Chromium; the player\'s clock minus the PROGRAM-DATE-TIME it plays), one publisher:');
  console.log(`  low-latency HLS: p50 ${(percentile(ll, 50) / 1000).toFixed(2)} s, p90 ${(percentile(ll, 90) / 1000).toFixed(2)} s`);
  console.log(`  without:         p50 ${(percentile(plain, 50) / 1000).toFixed(2)} s, p90 ${(percentile(plain, 90) / 1000).toFixed(2)} s`);
  console.log(`  ratio: ${(percentile(plain, 50) / percentile(ll, 50)).toFixed(1)}x closer to live`);
}

await runBench('bench:low-latency', main);
