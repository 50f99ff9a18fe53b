// Controller benchmark: heartbeats per second and allocation latency (publish callback -> a
// transcoder chosen and stored) with 1,000 nodes and 10,000 streams, against a bare express
// endpoint taking the same requests in the same run. Target: p99 allocation under 20 ms.
// Usage: node dist/bench/controller.js [--quick]
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import type http from 'node:http';
import express from 'express';
import { silentLogger } from '../common/log.js';
import { Controller } from '../controller/controller.js';
import { parseLaunchConfig } from '../controller/launch-config.js';
import { percentile, runBench, tempDir, type Started } from './util.js';

const quick = process.argv.includes('--quick');
const NODES = 1000;
const STREAMS = 10_000;
const AGENT = 'bench-agent-token-0123456789';
const SECONDS = quick ? 3 : 10;

async function hammer(fire: (i: number) => Promise<void>, concurrency: number,
  seconds: number): Promise<{ rate: number; latencies: number[] }> {
  const until = Date.now() + seconds * 1000;
  const latencies: number[] = [];
  let i = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < until) {
      const t = process.hrtime.bigint();
      await fire(i++);
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }));
  return { rate: latencies.length / seconds, latencies };
}

function heartbeat(id: string): string {
  return JSON.stringify({ nodeId: id, role: 'transcoder', sentAt: new Date().toISOString(), storage: { available: true },
    system: { cpuLoadPercent: 12.5, memoryUsedBytes: 1e9, memoryTotalBytes: 8e9, networkRxBytesPerSec: 1e6, networkTxBytesPerSec: 1e6,
      storageFreeBytes: 1e11, storageTotalBytes: 2e11 }, streams: [] });
}

async function main(started: Started): Promise<void> {
  const dataDir = await tempDir('bench-ctl');
  started.add('the data directory', () => fs.rm(dataDir, { recursive: true, force: true }));
  const c = await Controller.start({ dataDir, host: '127.0.0.1', port: 0, log: silentLogger(), agentToken: AGENT,
    provisioningTimeoutMs: 600_000, deadAfterMs: 3_600_000, sweepIntervalMs: 60_000, originRtmpPort: 1935, edgeHttpPort: 8080,
    endGraceSeconds: 30, playbackTtlSeconds: 60, scaleIntervalMs: 60_000 });
  started.add('the controller', () => c.close());
  const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${AGENT}` };
  await c.store.putLaunchConfig('bench', parseLaunchConfig({ launchconfig: { name: 'bench', version: '1', targets: { target: [
    { role: 'transcoder', connectionCapacity: 20, instanceType: 'c-4' }] } } }));
  for (let i = 0; i < NODES; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_v, k) => fetch(`${c.url}/api/v1/nodes/tc-${i + k}/heartbeat`,
      { method: 'POST', headers, body: heartbeat(`tc-${i + k}`) })));
  }
  await c.store.transaction(async (tx) => {
    for (let i = 0; i < STREAMS; i++) {
      await tx.insertStream({ app: 'live', stream: `s${i}`, streamKey: `k${i}`, status: 'idle', transcoder: undefined,
        endingSince: undefined, settings: { windowSeconds: 3600, recording: false, archiveStrategy: 'append', format: 'fmp4', mode: 'copy',
          ladder: [{ name: 'source' }], segmentSeconds: 2, signedPlayback: false, storageCapBytes: 0, dash: true, deltaUpdates: true,
          retentionHours: 0, playlistCapSeconds: 10_800 } });
    }
  });
  // Half the streams are live already, so allocation sees a loaded cluster.
  for (let i = 0; i < STREAMS / 2; i++) await c.store.setStreamStatus('live', `s${i}`, 'live', `tc-${i % NODES}`);

  const bare = express();
  bare.use(express.json());
  bare.post('/hb/:id', (_req, res) => { res.json({}); });
  const bareServer: http.Server = bare.listen(0, '127.0.0.1');
  started.add('the bare express server', () => bareServer.close());
  await once(bareServer, 'listening');
  const barePort = (bareServer.address() as { port: number }).port;

  const hb = await hammer(async (i) => {
    await (await fetch(`${c.url}/api/v1/nodes/tc-${i % NODES}/heartbeat`,
      { method: 'POST', headers, body: heartbeat(`tc-${i % NODES}`) })).text();
  }, 32, SECONDS);
  const bareHb = await hammer(async (i) => { await (await fetch(`http://127.0.0.1:${barePort}/hb/tc-${i % NODES}`, { method: 'POST', headers, body: heartbeat('x') })).text(); }, 32, SECONDS);
  let next = STREAMS / 2;
  const alloc = await hammer(async () => {
    const n = next++;
    if (n >= STREAMS) return;
    const res = await fetch(`${c.url}/api/v1/hooks/publish?token=${AGENT}`, { method: 'POST',
      body: new URLSearchParams({ app: 'live', name: `s${n}`, key: `k${n}` }) });
    await res.text();
    if (res.status !== 200) throw new Error(`publish ${n}: ${res.status}`);
  }, 1, quick ? 2 : 5);
  const bareAlloc = await hammer(async () => { await (await fetch(`http://127.0.0.1:${barePort}/hb/x`, { method: 'POST', headers, body: '{}' })).text(); }, 1, quick ? 2 : 5);

  console.log(`${NODES} transcoders, ${STREAMS} streams (half live); loopback, one process`);
  console.log(`heartbeats/s: controller ${hb.rate.toFixed(0)}, bare express ${bareHb.rate.toFixed(0)} `
    + `(ratio ${(hb.rate / bareHb.rate).toFixed(2)}x); `
    + `p99 ${percentile(hb.latencies, 99).toFixed(1)} ms vs ${percentile(bareHb.latencies, 99).toFixed(1)} ms`);
  console.log(`allocation (publish callback one at a time, ${alloc.latencies.length} streams): `
    + `p50 ${percentile(alloc.latencies, 50).toFixed(2)} ms, p99 ${percentile(alloc.latencies, 99).toFixed(2)} ms (target < 20 ms); `
    + `bare express p50 ${percentile(bareAlloc.latencies, 50).toFixed(2)} ms, p99 ${percentile(bareAlloc.latencies, 99).toFixed(2)} ms`);
}

await runBench('bench:controller', main);
