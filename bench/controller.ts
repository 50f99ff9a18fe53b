// Controller benchmark: heartbeats per second and allocation latency (publish callback -> a
// transcoder chosen and stored) with 1,000 nodes and 10,000 streams, on SQLite and on PostgreSQL,
// against a bare express endpoint taking the same requests in the same run. Targets: p99
// allocation under 20 ms; heartbeats at 0.8x bare express or better.
// Usage: node dist/bench/controller.js [--quick]
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import express from 'express';
import { silentLogger } from '../common/log.js';
import { Controller } from '../controller/controller.js';
import { parseLaunchConfig } from '../controller/launch-config.js';
import { PostgresServer } from '../lab/postgres.js';
import { freePort } from '../lab/hosts.js';
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

interface Figures { hb: { rate: number; latencies: number[] }; alloc: { rate: number; latencies: number[] }; wrk: number }

/**
 * Heartbeats from wrk (another process: the server has this one to itself), 1,000 node ids in turn,
 * for SECONDS: requests per second, all answered 200 (a non-2xx is an error of the bench).
 */
async function wrkHeartbeats(base: string, dir: string): Promise<number> {
  const script = path.join(dir, 'heartbeats.lua');
  await fs.writeFile(script, `local i = 0
request = function()
  i = i + 1
  local id = "tc-" .. (i % ${NODES})
  local body = '{"nodeId":"' .. id .. '","role":"transcoder","sentAt":"2026-01-01T00:00:00.000Z","storage":{"available":true},'
    .. '"system":{"cpuLoadPercent":12.5,"memoryUsedBytes":1000000000,"memoryTotalBytes":8000000000,"networkRxBytesPerSec":1000000,'
    .. '"networkTxBytesPerSec":1000000,"storageFreeBytes":100000000000,"storageTotalBytes":200000000000},"streams":[]}'
  return wrk.format("POST", "${new URL(base).pathname.replace(/\/$/, '')}/" .. id .. "/heartbeat",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer ${AGENT}" }, body)
end
`);
  const { stdout } = await promisify(execFile)('wrk', ['-t1', '-c32', `-d${SECONDS}s`, '-s', script, new URL(base).origin],
    { timeout: (SECONDS + 30) * 1000 });
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  if (bad) throw new Error(`wrk: ${bad[1] ?? ''} heartbeats were not answered 200`);
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
}

/** One controller over `databaseUrl` (SQLite without): 1,000 transcoders, 10,000 streams, then the heartbeats and the publishes. */
async function measure(started: Started, engine: string, databaseUrl?: string): Promise<Figures> {
  const dataDir = await tempDir(`bench-ctl-${engine}`);
  started.add(`the ${engine} data directory`, () => fs.rm(dataDir, { recursive: true, force: true }));
  const c = await Controller.start({ dataDir, host: '127.0.0.1', port: 0, log: silentLogger(), agentToken: AGENT,
    provisioningTimeoutMs: 600_000, deadAfterMs: 3_600_000, sweepIntervalMs: 60_000, originRtmpPort: 1935, edgeHttpPort: 8080,
    endGraceSeconds: 30, playbackTtlSeconds: 60, scaleIntervalMs: 60_000, ...(databaseUrl ? { databaseUrl } : {}) });
  try {
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
          endingSince: undefined, settings: { windowSeconds: 3600, recording: false, archiveStrategy: 'append', format: 'fmp4',
            mode: 'copy', ladder: [{ name: 'source' }], segmentSeconds: 2, signedPlayback: false, storageCapBytes: 0, dash: true,
            deltaUpdates: true, retentionHours: 0, playlistCapSeconds: 10_800 } });
      }
    });
    // Half the streams are live already, so allocation sees a loaded cluster.
    await c.store.transaction(async (tx) => {
      for (let i = 0; i < STREAMS / 2; i++) await tx.setStreamStatus('live', `s${i}`, 'live', `tc-${i % NODES}`);
    });
    const hb = await hammer(async (i) => {
      const res = await fetch(`${c.url}/api/v1/nodes/tc-${i % NODES}/heartbeat`,
        { method: 'POST', headers, body: heartbeat(`tc-${i % NODES}`) });
      await res.text();
      if (res.status !== 200) throw new Error(`heartbeat: ${res.status}`);
    }, 32, SECONDS);
    let next = STREAMS / 2;
    const alloc = await hammer(async () => {
      const n = next++;
      if (n >= STREAMS) return;
      const res = await fetch(`${c.url}/api/v1/hooks/publish?token=${AGENT}`, { method: 'POST',
        body: new URLSearchParams({ app: 'live', name: `s${n}`, key: `k${n}` }) });
      await res.text();
      if (res.status !== 200) throw new Error(`publish ${n}: ${res.status}`);
    }, 1, quick ? 2 : 5);
    return { hb, alloc, wrk: await wrkHeartbeats(`${c.url}/api/v1/nodes`, dataDir) };
  } finally {
    await c.close();
  }
}

async function main(started: Started): Promise<void> {
  const bareApp = express();
  bareApp.use(express.json());
  bareApp.post('/hb/:id', (_req, res) => { res.json({}); });
  bareApp.post('/hb/:id/heartbeat', (_req, res) => { res.json({}); });
  const bareDir = await tempDir('bench-ctl-bare');
  started.add('the bare data directory', () => fs.rm(bareDir, { recursive: true, force: true }));
  const bareServer: http.Server = bareApp.listen(0, '127.0.0.1');
  started.add('the bare express server', () => bareServer.close());
  await once(bareServer, 'listening');
  const barePort = (bareServer.address() as { port: number }).port;
  const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${AGENT}` };
  const measureBare = async (): Promise<Figures> => ({
    hb: await hammer(async (i) => {
      await (await fetch(`http://127.0.0.1:${barePort}/hb/tc-${i % NODES}`, { method: 'POST', headers, body: heartbeat('x') })).text();
    }, 32, SECONDS),
    alloc: await hammer(async () => {
      await (await fetch(`http://127.0.0.1:${barePort}/hb/x`, { method: 'POST', headers, body: '{}' })).text();
    }, 1, quick ? 2 : 5),
    wrk: await wrkHeartbeats(`http://127.0.0.1:${barePort}/hb`, bareDir) });
  // Bare express before and after the controllers (the client warms up, the machine's load moves): the faster of the two.
  const bareFirst = await measureBare();

  // PostgreSQL: Debian's server, on loopback, started for this run.
  const pgDir = await tempDir('bench-pg');
  await fs.chmod(pgDir, 0o755);
  const pg = await PostgresServer.start({ dir: pgDir, host: '127.0.0.1', port: await freePort(), user: 'dvr',
    password: `bench-${process.pid}-password`, database: 'dvr' });
  started.add('PostgreSQL', async () => { await pg.stop(); await fs.rm(pgDir, { recursive: true, force: true }); });
  const engines: Array<[string, Figures]> = [['SQLite', await measure(started, 'sqlite')],
    ['PostgreSQL', await measure(started, 'postgres', pg.url)]];
  const bareLast = await measureBare();
  const bare = { hb: bareLast.hb.rate > bareFirst.hb.rate ? bareLast.hb : bareFirst.hb, alloc: bareFirst.alloc,
    wrk: Math.max(bareFirst.wrk, bareLast.wrk) };
  const bareHb = bare.hb;

  console.log(`${NODES} transcoders, ${STREAMS} streams (half live); loopback, one process; 32 heartbeats at a time, `
    + 'publishes one at a time');
  const row = (name: string, f: Figures): string => `| ${name.padEnd(12)} | ${f.hb.rate.toFixed(0).padStart(12)} | `
    + `${(f.hb.rate / bareHb.rate).toFixed(2).padStart(8)}x | ${percentile(f.hb.latencies, 99).toFixed(1).padStart(9)} | `
    + `${percentile(f.alloc.latencies, 50).toFixed(2).padStart(12)} | ${percentile(f.alloc.latencies, 99).toFixed(2).padStart(12)} | `
    + `${f.wrk.toFixed(0).padStart(12)} | ${(f.wrk / bare.wrk).toFixed(2).padStart(8)}x |`;
  console.log('heartbeats/s: a client in this process (fetch); wrk/s: heartbeats from wrk, another process');
  console.log('| store        | heartbeats/s | vs bare   | hb p99 ms | alloc p50 ms | alloc p99 ms | wrk hb/s     | vs bare   |');
  console.log('|--------------|--------------|-----------|-----------|--------------|--------------|--------------|-----------|');
  for (const [name, f] of engines) console.log(row(name, f));
  console.log(row('bare express', bare));
  console.log('allocation target: p99 < 20 ms; heartbeats: >= 0.8x bare express, 2,000/s for 10,000 nodes every 5 s');
}

await runBench('bench:controller', main);
