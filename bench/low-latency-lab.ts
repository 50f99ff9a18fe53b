// Low-latency HLS through the lab (`dvr lab up`: transcoders, edges and a relay in network
// namespaces, the storage over the network): two streams of the same settings but for lowLatency,
// each fed by its own publisher in the publisher's host (the lab's test pattern), and hls.js in
// Chromium playing each at edge-1 and through relay-1. The latency is the player's clock minus the
// PROGRAM-DATE-TIME of what it plays (the packager dates media by when it arrived).
// Usage: node dist/bench/low-latency-lab.js [--running]  (DVR_LAB_DIR, DVR_LAB_NAME, DVR_LAB_SUBNET as for
// `dvr lab`; with --running, the lab already up is used and left up)
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../lab/hosts.js';
import { host, startPublisher } from '../lab/lab.js';
import { readState } from '../lab/state.js';
import { labPaths, LAB_PORTS } from '../lab/topology.js';
import { hlsJsLatency, launchChromium } from '../test/support/chromium.js';
import { until } from '../test/support/run.js';
import { percentile, runBench, type Started } from './util.js';

const dvr = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'dvr.cjs');

async function lab(...args: string[]): Promise<string> {
  const r = await run(process.execPath, [dvr, 'lab', ...args], 900_000);
  if (r.code !== 0) throw new Error(`dvr lab ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

const seconds = (ms: number | undefined): string => (ms === undefined || Number.isNaN(ms) ? '-' : (ms / 1000).toFixed(2));

async function main(started: Started): Promise<void> {
  process.env['DVR_LAB_DIR'] ??= '/var/lib/dvr-lab-bench';
  process.env['DVR_LAB_NAME'] ??= 'dvrbench';
  process.env['DVR_LAB_SUBNET'] ??= '10.209.78.0/24';
  if (!process.argv.includes('--running')) {
    console.log('building the lab (dvr lab up)');
    started.add('the lab', () => lab('down'));
    await lab('up');
  }
  const state = await readState(process.env['DVR_LAB_DIR']);
  if (!state) throw new Error('dvr lab up left no state');
  const api = state.controller.url;
  const token = (await fs.readFile(path.join(labPaths(state.options.dir).controllerData, 'controller', 'admin-token'), 'utf8')).trim();
  const auth = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  for (const [stream, lowLatency] of [['ll', true], ['plain', false]] as const) {
    const made = await fetch(`${api}/streams`, { method: 'POST', headers: auth,
      body: JSON.stringify({ app: 'live', stream, mode: 'transcode', ladder: [{ name: 'v', height: 360 }], windowSeconds: 600,
        lowLatency }) });
    // 409: made by an earlier run on the same lab.
    if (made.status !== 201 && made.status !== 409) throw new Error(`cannot create live/${stream}: ${await made.text()}`);
    const pub = (await (await fetch(`${api}/streams/live/${stream}/publish`, { headers: auth })).json()) as { url: string };
    const group = startPublisher(state, pub.url);
    started.add(`the publisher of live/${stream}`, () => { process.kill(-group, 'SIGTERM'); });
  }
  const viewers = { 'edge-1': `http://${host(state, 'edge-1').address}:${LAB_PORTS.http}`,
    'relay-1': `http://${host(state, 'relay-1').address}:${LAB_PORTS.http}` };
  const browser = await launchChromium();
  started.add('Chromium', () => browser.close());
  const rows: string[][] = [];
  for (const [name, origin] of Object.entries(viewers)) {
    const p50: Record<string, number | undefined> = {};
    const p90: Record<string, number | undefined> = {};
    for (const stream of ['ll', 'plain']) {
      const master = `${origin}/live/${stream}/master.m3u8`;
      await until(`live/${stream} to play at ${name}`, async () => ((await fetch(master).catch(() => undefined))?.ok ? true : undefined),
        120_000, 500);
      const samples = (await hlsJsLatency(browser, origin, master, `live/${stream} at ${name}`)).sort((x, y) => x - y);
      p50[stream] = percentile(samples, 50);
      p90[stream] = percentile(samples, 90);
    }
    rows.push([name, seconds(p50['ll']), seconds(p90['ll']), seconds(p50['plain']), seconds(p90['plain']),
      seconds((p50['plain'] ?? NaN) - (p50['ll'] ?? NaN))]);
  }
  console.log(`\nhls.js (low-latency mode) in Chromium, glass to glass: the player's clock minus the PROGRAM-DATE-TIME it plays `
    + `(s; 30 samples each; the lab's ${state.transport} storage, 2 s segments, 0.5 s parts)\n`);
  const header = ['viewer at', 'LL p50', 'LL p90', 'plain p50', 'plain p90', 'LL closer by'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const r of [header, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  '));
}

await runBench('bench:low-latency-lab', main);
