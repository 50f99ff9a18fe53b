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
import http from 'node:http';
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
  // One publisher per stream, each from the same clock (the packager dates media by its arrival).
  const publishers = urls.map((u) => spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi',
    '-i', 'testsrc2=size=640x360:rate=25', '-t', '600', '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '50',
    '-f', 'flv', u], { stdio: ['ignore', 'ignore', 'inherit'] }));
  const stopPublisher = started.add('the publishers', () => { for (const p of publishers) p.kill('SIGINT'); });
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

/** hls.js on the demo stream: the player's clock minus the date it plays, 30 samples. */
async function demoLatency(a: Appliance): Promise<number[]> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await videoPage(page, `http://127.0.0.1:${a.port}`, path.join(ROOT, '..', 'node_modules/hls.js/dist/hls.min.js'));
    await page.evaluate(`(() => { const v = document.getElementById('v'); const hls = new Hls({ lowLatencyMode: true });
      hls.loadSource(${JSON.stringify(a.playback)}); hls.attachMedia(v); v.play(); window.hls = hls; })()`);
    const samples: number[] = [];
    await until('hls.js on the demo', async () => {
      const s = await page.evaluate(`(() => { const v = document.getElementById('v');
        return !v.paused && v.readyState >= 3 && hls.playingDate ? Date.now() - hls.playingDate.getTime() : null; })()`) as number | null;
      if (s !== null) samples.push(s);
      return samples.length >= 40 ? true : undefined;
    }, 120_000);
    return samples.slice(10);
  } finally {
    await browser.close();
  }
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

interface Blocked { single: number[]; spread: number[]; cpu: number; rss: number; rssIdle: number; seconds: number }

/**
 * Rounds of blocked requests on the demo's r720 rendition. One request for the hinted part: from the
 * part's write (the encoder's file grows: inotify on the spool) to its answer. N requests for the part
 * after the hinted one (all held before it is cut): from the first answer to the last.
 */
async function blocked(a: Appliance, waiters: number, rounds: number): Promise<Blocked> {
  const media = `http://127.0.0.1:${a.port}/live/demo/r720/index.m3u8`;
  const parts = path.join(a.dataDir, 'media/live/demo/r720/parts');
  const writes: number[] = [];
  const w = watch(parts, () => writes.push(Date.now()));
  const edge = [...await pidsOf('nginx: worker process'), a.pid];
  const out: Blocked = { single: [], spread: [], cpu: 0, rss: 0, rssIdle: await rssMb(edge), seconds: 0 };
  const next = async (): Promise<{ msn: number; part: number }> => {
    const text = await (await fetch(`${media}?_HLS_msn=0`)).text();
    const hint = /PRELOAD-HINT:TYPE=PART,URI="part_[A-Za-z0-9]+_\d+_(\d+)\.m4s"/.exec(text);
    const msn = Number(/#EXT-X-RENDITION-REPORT:[^\n]*LAST-MSN=(\d+)/.exec(text)?.[1] ?? NaN);
    if (!hint || !Number.isFinite(msn)) throw new Error(`no hint in the playlist: ${text.slice(-400)}`);
    return { msn, part: Number(hint[1]) };
  };
  // A connection per request (as players each have theirs), through node:http: lighter than fetch on
  // the 2 cores the appliance uses too.
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const connected: number[] = [];
  const ask = (q: { msn: number; part: number }): Promise<number> => new Promise((resolve, reject) => {
    const req = http.get(`${media}?_HLS_msn=${q.msn}&_HLS_part=${q.part}&_HLS_skip=YES`, { agent }, (res) => {
      res.resume();
      res.once('end', () => (res.statusCode === 200 ? resolve(Date.now()) : reject(new Error(`a blocked request got ${res.statusCode}`))));
    });
    req.once('error', reject);
    req.once('socket', (sock) => sock.once('connect', () => connected.push(Date.now())));
  });
  try {
    for (let round = 0; round < rounds; round++) {
      const h = await next();
      const t0 = Date.now();
      const at = writes.length;
      const answered = await ask(h);
      const written = writes.slice(at).find((t) => t >= t0);
      if (written !== undefined) out.single.push(answered - written);
      const q = await next();
      const cpu0 = await cpuSeconds(edge);
      const s0 = Date.now();
      // Three parts ahead (1.5 s): every request is sent and held before that part is cut.
      connected.length = 0;
      const all = Promise.all(Array.from({ length: waiters }, () => ask({ msn: q.msn, part: q.part + 3 })));
      await new Promise((r) => setTimeout(r, 300));
      out.rss = Math.max(out.rss, await rssMb(edge));
      const times = await all;
      out.seconds += (Date.now() - s0) / 1000;
      out.cpu += await cpuSeconds(edge) - cpu0;
      const first = Math.min(...times);
      if (connected.length === waiters && Math.max(...connected) < first) out.spread.push(Math.max(...times) - first);
      else console.log(`  round ${round}: ${connected.filter((t) => t < first).length} of ${waiters} connected before the part came`);
    }
  } finally {
    w.close();
  }
  return out;
}

async function main(started: Started): Promise<void> {
  const waiters = arg('waiters', 2000);
  const rounds = arg('rounds', 5);
  console.log('starting the appliance (dvr start)');
  const a = await startAppliance(started);
  const b = await blocked(a, waiters, rounds);
  console.log(`\nblocked playlist requests on the appliance's edge (its encoder, 720p+360p, on the same 2 cores), ${rounds} rounds:`);
  console.log(`  one request, part written -> answered: p50 ${percentile(b.single, 50)} ms, max ${Math.max(...b.single)} ms`);
  console.log(`  ${waiters} requests for one part: first -> last answered p50 ${percentile(b.spread, 50)} ms, `
    + `max ${Math.max(...b.spread)} ms`);
  console.log(`  edge (nginx workers + agent) CPU while holding: ${(100 * b.cpu / b.seconds).toFixed(1)} % of a core; `
    + `memory ${b.rss.toFixed(0)} MB (idle ${b.rssIdle.toFixed(0)} MB)`);
  const g = await glassToGlass(a, started);
  const ll = g.get('ll') ?? [];
  const plain = g.get('plain') ?? [];
  // The packager dates a stream's media from when its first segment arrived: a puller that got a burst
  // of buffered media at connection dates everything that much early, the same for both streams of
  // one publisher start. The difference is the figure; the demo (made at the transcoder) dates right.
  const f = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  console.log('\nhls.js in Chromium, the player\'s clock minus the PROGRAM-DATE-TIME it plays (RTMP publishers started together):');
  console.log(`  low-latency HLS: p50 ${f(percentile(ll, 50))}, p90 ${f(percentile(ll, 90))}`);
  console.log(`  without:         p50 ${f(percentile(plain, 50))}, p90 ${f(percentile(plain, 90))}`);
  console.log(`  low latency plays ${f(percentile(plain, 50) - percentile(ll, 50))} closer to the publisher`);
  const demo = await demoLatency(a);
  console.log(`  the demo (low-latency, dated where it is made): p50 ${f(percentile(demo, 50))}, p90 ${f(percentile(demo, 90))}`);
}

await runBench('bench:low-latency', main);
