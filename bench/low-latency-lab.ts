// Low-latency HLS through the lab (`dvr lab up`: transcoders, edges and a relay in network
// namespaces, the storage over the network): two streams of the same settings but for lowLatency,
// each fed by its own publisher in the publisher's host (a test pattern carrying the clock of each
// frame's making), and hls.js in Chromium playing each at edge-1 and through relay-1. The latency is
// the player's clock minus the clock on the frame it shows; beside it, minus the PROGRAM-DATE-TIME
// of what it plays (the packager dates media by when it arrived).
// Usage: node dist/bench/low-latency-lab.js [--running]  (DVR_LAB_DIR, DVR_LAB_NAME, DVR_LAB_SUBNET as for
// `dvr lab`; with --running, the lab already up is used and left up)
import { watch, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, sshdPid } from '../lab/hosts.js';
import { host } from '../lab/lab.js';
import { readState } from '../lab/state.js';
import { labPaths, LAB_PORTS, PUBLISHER_HOST } from '../lab/topology.js';
import type { LabState } from '../lab/state.js';
import { launchChromium } from '../test/support/chromium.js';
import { CLOCK_STRIP_SOURCE, clockStripLatency } from '../test/support/clock-strip.js';
import { adminApi, createStream, publishTestPattern, publishUrl } from '../test/support/publisher.js';
import { until } from '../test/support/run.js';
import { percentile, runBench, type Started } from './util.js';

const dvr = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'dvr.cjs');

async function lab(...args: string[]): Promise<string> {
  const r = await run(process.execPath, [dvr, 'lab', ...args], 900_000);
  if (r.code !== 0) throw new Error(`dvr lab ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Where the transcoder of live/ll spools rendition v's growing fragments (whichever lab host it landed on). */
async function partsDir(state: LabState): Promise<string> {
  return until('live/ll\'s spool', async () => {
    const found = await run('find', [path.join(state.options.dir, 'hosts'), '-type', 'd', '-path', '*/spool/live/ll/v/parts']);
    return found.stdout.split('\n').find((l) => l !== '');
  }, 60_000, 500);
}

/**
 * Where parts could live, measured: (memory) from a part's write on the transcoder to a blocking reload
 * for it answered at edge-1 (the transcoder's live view through the edge's fan-out); (storage) from a
 * part-sized file's write and rename over ot-1's mount of the storage to edge-1 serving it (asked every
 * 2 ms), from the write's start, as an edge would serve parts written to the storage like segments.
 */
async function whereParts(state: LabState, edge: string, rounds: number):
Promise<{ memory: number[]; storage: number[]; write: number[] }> {
  const media = `${edge}/live/ll/v/index.m3u8`;
  const writes: number[] = [];
  const w = watch(await partsDir(state), () => writes.push(Date.now()));
  const out = { memory: [] as number[], storage: [] as number[], write: [] as number[] };
  try {
    for (let round = 0; round < rounds; round++) {
      const text = await (await fetch(`${media}?_HLS_msn=0`)).text();
      const hint = /PRELOAD-HINT:TYPE=PART,URI="part_[A-Za-z0-9]+_\d+_(\d+)\.m4s"/.exec(text);
      const msn = Number(/^#EXT-X-MEDIA-SEQUENCE:(\d+)$/m.exec(text)?.[1] ?? NaN) + text.split('#EXTINF:').length - 1;
      if (!hint) throw new Error(`no hint at edge-1: ${text.slice(-300)}`);
      const t0 = Date.now();
      const at = writes.length;
      await (await fetch(`${media}?_HLS_msn=${msn}&_HLS_part=${hint[1] ?? 0}&_HLS_skip=YES`)).arrayBuffer();
      const answered = Date.now();
      const written = writes.slice(at).find((t) => t >= t0);
      if (written !== undefined) out.memory.push(answered - written);
    }
    // ot-1's sshd lives in the mount namespace where its provisioning mounted the storage.
    const sshd = await sshdPid(host(state, 'ot-1'));
    const dir = path.join(labPaths(state.options.dir).storageRoot, 'live', 'll', 'v');
    for (let round = 0; round < rounds; round++) {
      const name = `probe-${Date.now()}-${round}.m4s`;
      let seen: number | undefined;
      const poll = (async () => {
        const deadline = Date.now() + 10_000;
        while (seen === undefined && Date.now() < deadline) {
          const res = await fetch(`${edge}/live/ll/v/${name}`).catch(() => undefined);
          await res?.arrayBuffer();
          if (res?.status === 200) seen = Date.now();
          else await new Promise((r) => setTimeout(r, 2));
        }
      })();
      // As the transcoder's agent writes: in its host's mount namespace (its own mount of the
      // storage), as the service account (a FUSE mount lets its owner in alone).
      const wrote = await run('nsenter', ['-t', String(sshd), '-m', '-n', '--', 'runuser', '-u', 'dvr', '--', process.execPath, '-e',
        `const fs = require('fs'); const [dir, name] = process.argv.slice(1); const t = dir + '/.' + name + '.tmp';
        const data = Buffer.alloc(60000, 1); const t0 = Date.now(); fs.writeFileSync(t, data); fs.renameSync(t, dir + '/' + name);
        console.log(t0, Date.now());`, dir, name]);
      await poll;
      await run('nsenter', ['-t', String(sshd), '-m', '-n', '--', 'runuser', '-u', 'dvr', '--', 'rm', '-f', path.join(dir, name)]);
      if (wrote.code !== 0) throw new Error(`writing ${name} over ot-1's mount failed: ${wrote.stderr.trim()}`);
      if (seen === undefined) throw new Error(`edge-1 did not serve ${name} within 10 s of its write`);
      const [began = NaN, renamed = NaN] = wrote.stdout.trim().split(' ').map(Number);
      out.storage.push(seen - began);
      out.write.push(renamed - began);
    }
  } finally {
    w.close();
  }
  return out;
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
  const admin = await adminApi(state.controller.url, labPaths(state.options.dir).controllerData);
  for (const [stream, lowLatency] of [['ll', true], ['plain', false]] as const) {
    const made = await createStream(admin, { app: 'live', stream, mode: 'transcode', ladder: [{ name: 'v', height: 360 }],
      windowSeconds: 600, lowLatency });
    // 409: made by an earlier run on the same lab.
    if (made.status !== 201 && made.status !== 409) throw new Error(`cannot create live/${stream}: ${await made.text()}`);
    // In the publisher's host (where publish.lab resolves to the origins).
    const publisher = publishTestPattern(await publishUrl(admin, 'live', stream), { seconds: 1800, source: CLOCK_STRIP_SOURCE,
      preset: 'veryfast', bitrate: '800k', wrap: ['ip', 'netns', 'exec', host(state, PUBLISHER_HOST).ns] });
    started.add(`the publisher of live/${stream}`, () => publisher.stop());
  }
  const viewers = { 'edge-1': `http://${host(state, 'edge-1').address}:${LAB_PORTS.http}`,
    'relay-1': `http://${host(state, 'relay-1').address}:${LAB_PORTS.http}` };
  const browser = await launchChromium();
  started.add('Chromium', () => browser.close());
  const rows: string[][] = [];
  for (const [name, origin] of Object.entries(viewers)) {
    const row = [name];
    const p50: Record<string, number> = {};
    for (const stream of ['ll', 'plain']) {
      const master = `${origin}/live/${stream}/master.m3u8`;
      await until(`live/${stream} to play at ${name}`, async () => ((await fetch(master).catch(() => undefined))?.ok ? true : undefined),
        120_000, 500);
      const samples = await clockStripLatency(browser, origin, master, `live/${stream} at ${name}`);
      const picture = samples.map((x) => x.picture);
      p50[stream] = percentile(picture, 50);
      row.push(seconds(p50[stream]), seconds(percentile(picture, 90)), seconds(percentile(samples.map((x) => x.dated), 50)));
    }
    rows.push([...row, seconds((p50['plain'] ?? NaN) - (p50['ll'] ?? NaN))]);
  }
  console.log(`\nhls.js (low-latency mode) in Chromium, glass to glass: the player's clock minus the clock on the frame it shows; `
    + `"dated": minus the PROGRAM-DATE-TIME it plays (s; 30 samples each; the lab's ${state.transport} storage, 2 s segments, `
    + '0.5 s parts)\n');
  const header = ['viewer at', 'LL p50', 'LL p90', 'LL dated', 'plain p50', 'plain p90', 'plain dated', 'LL closer by'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const r of [header, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  '));
  const where = await whereParts(state, viewers['edge-1'], 20);
  console.log(`\nwhere parts live, edge-1 (ms, 20 rounds): from the transcoder's memory, part written -> blocking reload answered `
    + `p50 ${percentile(where.memory, 50)}, p99 ${percentile(where.memory, 99)}; on the storage (${state.transport}), 60 KB written and `
    + `renamed on ot-1 -> served by edge-1 p50 ${percentile(where.storage, 50)}, p99 ${percentile(where.storage, 99)} `
    + `(the write and rename alone p50 ${percentile(where.write, 50)}, p99 ${percentile(where.write, 99)})`);
}

await runBench('bench:low-latency-lab', main);
