// Low-latency HLS, measured on the appliance (`dvr start`, its edge and its transcoder on this machine):
// 1. glass to glass: a publisher each (a test pattern carrying the clock of each frame's making in its
//    top rows) for two streams of the same settings but for lowLatency; hls.js in Chromium plays each,
//    the latency is the player's clock minus the clock read off the frame on screen (and, beside it,
//    minus the PROGRAM-DATE-TIME it plays: the packager dates media by when it arrived);
// 2. an edge holding N blocked playlist requests (default 2,000, from players in another process) for a
//    part not cut yet: from the part's write (the encoder's file grows by a fragment: inotify on the
//    spool) to each request's answer, and the CPU and memory the edge (nginx and the agent's fan-out)
//    spends; on an appliance without the demo's encodes, as an edge has its cores to itself.
// Usage: node dist/bench/low-latency.js [--waiters N] [--rounds R] [--waiters-only]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { watch, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'puppeteer-core';
import { startAppliance, type Appliance } from '../test/support/appliance.js';
import { hlsJsLatency, launchChromium } from '../test/support/chromium.js';
import { CLOCK_STRIP_SOURCE, clockStripLatency, type Latency } from '../test/support/clock-strip.js';
import { adminApi, createStream, publishTestPattern, publishUrl, type Publisher } from '../test/support/publisher.js';
import { until } from '../test/support/run.js';
import { percentile, runBench, type Started } from './util.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};

/** The appliance as the benchmark uses it: its URLs (the API's token is read where the API is used). */
type Running = Appliance & { playback: string; api: string };

/** `dvr start`, stopped when the benchmark ends; its stderr is the benchmark's. */
async function startBenchAppliance(started: Started): Promise<Running> {
  const a = await startAppliance({ prefix: 'bench-ll', inheritStderr: true });
  started.add('the appliance', () => a.close());
  const playback = await a.line('playback', 90_000);
  const api = await a.line('api', 90_000);
  return { ...a, playback, api };
}

/** Two streams, one low-latency, each fed by a publisher of the clock strip; hls.js plays each. */
async function glassToGlass(a: Running, started: Started): Promise<Map<string, Latency[]>> {
  const admin = await adminApi(a.api, a.dataDir);
  const publishers: Publisher[] = [];
  for (const [stream, lowLatency] of [['ll', true], ['plain', false]] as const) {
    const made = await createStream(admin, { app: 'live', stream, mode: 'transcode', ladder: [{ name: 'v', height: 360 }],
      windowSeconds: 600, lowLatency });
    if (made.status !== 201) throw new Error(`cannot create live/${stream}: ${await made.text()}`);
    publishers.push(publishTestPattern(await publishUrl(admin, 'live', stream, '127.0.0.1'),
      { seconds: 600, source: CLOCK_STRIP_SOURCE, preset: 'veryfast' }));
  }
  const stopPublisher = started.add('the publishers', () => Promise.all(publishers.map((p) => p.stop())));
  const browser = await launchChromium();
  started.add('Chromium', () => browser.close());
  const out = new Map<string, Latency[]>();
  try {
    for (const stream of ['ll', 'plain']) {
      const master = `http://127.0.0.1:${a.port}/live/${stream}/master.m3u8`;
      await until(`live/${stream} to play`, async () => ((await fetch(master).catch(() => undefined))?.ok ? true : undefined),
        60_000, 250);
      out.set(stream, await clockStripLatency(browser, `http://127.0.0.1:${a.port}`, master, `live/${stream}`));
    }
  } finally {
    await stopPublisher();
  }
  return out;
}

/** hls.js on the demo stream: the player's clock minus the date it plays, 30 samples. */
async function demoLatency(a: Running): Promise<number[]> {
  const browser = await launchChromium();
  try {
    return await hlsJsLatency(browser, `http://127.0.0.1:${a.port}`, a.playback, 'the demo');
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

interface Blocked { single: number[]; fromWrite: number[]; spread: number[]; cpu: number; rss: number; rssIdle: number; seconds: number }

const CLIENTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'll-clients.js');

/** N players' blocking reloads for one URL, from a process of their own; resolves with when each was answered. */
async function holdAndWait(url: URL, waiters: number, sent: () => void): Promise<{ times: number[]; statuses: Record<string, number> }> {
  const p = spawn(process.execPath, [CLIENTS, url.hostname, url.port, url.pathname + url.search, String(waiters), '15000'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('sent\n') && !out.includes('\n{')) sent();
  });
  await once(p, 'exit');
  const json = out.split('\n').find((l) => l.startsWith('{'));
  if (!json) throw new Error(`the players' process printed no result: ${out.slice(0, 200)}`);
  return JSON.parse(json) as { times: number[]; statuses: Record<string, number> };
}

/**
 * Rounds of blocked requests on a low-latency stream's rendition. One request for the hinted part: from
 * the part's write (the encoder's file grows: inotify on the spool) to its answer. N requests for a part
 * three ahead of the hinted one (all held before it is cut), from another process: from the write that
 * completed the part (the last before the first answer) to each answer, and from the first answer to the last.
 */
async function blocked(a: Appliance, rendition: string, waiters: number, rounds: number): Promise<Blocked> {
  const media = `http://127.0.0.1:${a.port}/live/${rendition}/index.m3u8`;
  const writes: number[] = [];
  const w = watch(path.join(a.dataDir, 'media/live', rendition, 'parts'), () => writes.push(Date.now()));
  const edge = [...await pidsOf('nginx: worker process'), a.proc.pid ?? 0];
  const out: Blocked = { single: [], fromWrite: [], spread: [], cpu: 0, rss: 0, rssIdle: await rssMb(edge), seconds: 0 };
  const next = async (): Promise<{ msn: number; part: number }> => {
    const text = await (await fetch(`${media}?_HLS_msn=0`)).text();
    const hint = /PRELOAD-HINT:TYPE=PART,URI="part_[A-Za-z0-9]+_\d+_(\d+)\.m4s"/.exec(text);
    // The hinted part is of the segment after every listed one (a full playlist: nothing skipped).
    const msn = Number(/^#EXT-X-MEDIA-SEQUENCE:(\d+)$/m.exec(text)?.[1] ?? NaN) + text.split('#EXTINF:').length - 1;
    if (!hint || !Number.isFinite(msn)) throw new Error(`no hint in the playlist: ${text.slice(-400)}`);
    return { msn, part: Number(hint[1]) };
  };
  try {
    for (let round = 0; round < rounds; round++) {
      const h = await next();
      const t0 = Date.now();
      const at = writes.length;
      const res = await fetch(`${media}?_HLS_msn=${h.msn}&_HLS_part=${h.part}&_HLS_skip=YES`);
      await res.arrayBuffer();
      const answered = Date.now();
      const written = writes.slice(at).find((t) => t >= t0);
      if (written !== undefined) out.single.push(answered - written);
      const q = await next();
      const cpu0 = await cpuSeconds(edge);
      const s0 = Date.now();
      let sentAt = Infinity;
      // Three parts ahead (1.5 s): every request is sent and held before that part is cut.
      const url = new URL(`${media}?_HLS_msn=${q.msn}&_HLS_part=${q.part + 3}&_HLS_skip=YES`);
      const all = holdAndWait(url, waiters, () => {
        sentAt = Date.now();
        void rssMb(edge).then((mb) => { out.rss = Math.max(out.rss, mb); });
      });
      const { times, statuses } = await all;
      out.seconds += (Date.now() - s0) / 1000;
      out.cpu += await cpuSeconds(edge) - cpu0;
      const first = Math.min(...times);
      const completed = writes.filter((t) => t <= first).pop();
      if (times.length !== waiters || statuses['200'] !== waiters) {
        console.log(`  round ${round}: answers ${JSON.stringify(statuses)}`);
      } else if (sentAt >= first || completed === undefined) {
        console.log(`  round ${round}: not every request was held before the part came`);
      } else {
        // The first round opens the edge's connections to its agent and warms the code: said, not counted.
        if (round > 0) {
          out.spread.push(Math.max(...times) - first);
          out.fromWrite.push(...times.map((t) => t - completed));
        }
        console.log(`  round ${round}${round === 0 ? ' (warm-up, not counted)' : ''}: after the part's write, first answer `
          + `${first - completed} ms, last ${Math.max(...times) - completed} ms`);
      }
    }
  } finally {
    w.close();
  }
  return out;
}

/**
 * The edge under blocked requests, on an appliance without the demo (an edge does not encode): a
 * copy-mode low-latency stream from a small test pattern, so the 2 cores are the edge's.
 */
async function blockedOnAnEdge(started: Started, waiters: number, rounds: number): Promise<Blocked> {
  const a = await startAppliance({ prefix: 'bench-ll-wait', inheritStderr: true, args: ['--no-demo'] });
  const stop = started.add('the appliance without the demo', () => a.close());
  try {
    const admin = await adminApi(await a.line('api', 90_000), a.dataDir);
    const made = await createStream(admin, { app: 'live', stream: 'wait', mode: 'copy', format: 'fmp4', lowLatency: true });
    if (made.status !== 201) throw new Error(`cannot create live/wait: ${await made.text()}`);
    const publisher = publishTestPattern(await publishUrl(admin, 'live', 'wait', '127.0.0.1'), { seconds: 900 });
    const stopPublisher = started.add('the publisher', () => publisher.stop());
    try {
      const media = `http://127.0.0.1:${a.port}/live/wait/source/index.m3u8`;
      await until('live/wait to list parts', async () => ((await (await fetch(`${media}?_HLS_msn=0`).catch(() => undefined))?.text())
        ?.includes('#EXT-X-PRELOAD-HINT') ? true : undefined), 60_000, 250);
      return await blocked(a, 'wait/source', waiters, rounds);
    } finally {
      await stopPublisher();
    }
  } finally {
    await stop();
  }
}

async function main(started: Started): Promise<void> {
  const waiters = arg('waiters', 2000);
  const rounds = arg('rounds', 5);
  console.log('starting the appliance without the demo (dvr start --no-demo)');
  const b = await blockedOnAnEdge(started, waiters, rounds);
  console.log(`\nblocked playlist requests on the appliance's edge (a copy-mode stream, 320x180; the players in another process `
    + `on the same 2 cores), ${rounds - 1} rounds after the warm-up:`);
  console.log(`  one request, part written -> answered: p50 ${percentile(b.single, 50)} ms, max ${Math.max(...b.single)} ms`);
  console.log(`  ${waiters} requests for one part, part written -> each answered: p50 ${percentile(b.fromWrite, 50)} ms, `
    + `p99 ${percentile(b.fromWrite, 99)} ms, max ${Math.max(...b.fromWrite)} ms; `
    + `first -> last answered p50 ${percentile(b.spread, 50)} ms`);
  console.log(`  edge (nginx workers + the appliance's process) CPU while holding: ${(100 * b.cpu / b.seconds).toFixed(1)} % of a core; `
    + `memory ${b.rss.toFixed(0)} MB (idle ${b.rssIdle.toFixed(0)} MB)`);
  if (process.argv.includes('--waiters-only')) return;
  console.log('\nstarting the appliance (dvr start)');
  const a = await startBenchAppliance(started);
  const g = await glassToGlass(a, started);
  const f = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  const of = (l: Latency[], k: keyof Latency, p: number): number => percentile(l.map((x) => x[k]), p);
  console.log('\nhls.js in Chromium (low-latency mode), one RTMP publisher per stream, the player\'s clock minus the clock on the '
    + 'frame it shows (glass to glass), and minus the PROGRAM-DATE-TIME it plays (the packager\'s dating):');
  for (const [stream, label] of [['ll', 'low-latency HLS'], ['plain', 'without']] as const) {
    const l = g.get(stream) ?? [];
    console.log(`  ${label.padEnd(15)} glass to glass p50 ${f(of(l, 'picture', 50))}, p90 ${f(of(l, 'picture', 90))}; `
      + `by its dates p50 ${f(of(l, 'dated', 50))}`);
  }
  console.log(`  low latency plays ${f(of(g.get('plain') ?? [], 'picture', 50) - of(g.get('ll') ?? [], 'picture', 50))} closer to the `
    + 'publisher');
  const demo = await demoLatency(a);
  console.log(`  the demo (low-latency, dated where it is made): p50 ${f(percentile(demo, 50))}, p90 ${f(percentile(demo, 90))}`);
}

await runBench('bench:low-latency', main);
