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
const SECONDS = quick ? 3 : 8;
const ROUNDS = quick ? 2 : 3;

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

/** A heartbeat endpoint under test: a controller over one store, or the bare express endpoint. */
interface Target {
  name: string;
  /** Where heartbeats go: <base>/<node id>/heartbeat. */
  base: string;
  /** The origins' publish callback for stream s<n> (controllers only). */
  publish?: (n: number) => Promise<void>;
  dir: string;
}

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

/** One controller over `databaseUrl` (SQLite without), with 1,000 transcoders and 10,000 streams (half live). */
async function controllerTarget(started: Started, name: string, databaseUrl?: string): Promise<Target> {
  const dir = await tempDir(`bench-ctl-${name}`);
  started.add(`the ${name} data directory`, () => fs.rm(dir, { recursive: true, force: true }));
  const c = await Controller.start({ dataDir: dir, host: '127.0.0.1', port: 0, log: silentLogger(), agentToken: AGENT,
    provisioningTimeoutMs: 600_000, deadAfterMs: 3_600_000, sweepIntervalMs: 60_000, originRtmpPort: 1935, edgeHttpPort: 8080,
    endGraceSeconds: 30, playbackTtlSeconds: 60, scaleIntervalMs: 60_000, ...(databaseUrl ? { databaseUrl } : {}) });
  started.add(`the ${name} controller`, () => c.close());
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
  // Half the streams are live already: each transcoder's reply carries five jobs, and allocation sees a loaded cluster.
  await c.store.transaction(async (tx) => {
    for (let i = 0; i < STREAMS / 2; i++) await tx.setStreamStatus('live', `s${i}`, 'live', `tc-${i % NODES}`);
  });
  return { name, base: `${c.url}/api/v1/nodes`, dir, publish: async (n) => {
    const res = await fetch(`${c.url}/api/v1/hooks/publish?token=${AGENT}`, { method: 'POST',
      body: new URLSearchParams({ app: 'live', name: `s${n}`, key: `k${n}` }) });
    await res.text();
    if (res.status !== 200) throw new Error(`publish ${n}: ${res.status}`);
  } };
}

/** The bare express endpoint: parses the body and answers {}. */
async function bareTarget(started: Started): Promise<Target> {
  const app = express();
  app.use(express.json());
  app.post('/hb/:id/heartbeat', (_req, res) => { res.json({}); });
  const dir = await tempDir('bench-ctl-bare');
  started.add('the bare data directory', () => fs.rm(dir, { recursive: true, force: true }));
  const server: http.Server = app.listen(0, '127.0.0.1');
  started.add('the bare express server', () => server.close());
  await once(server, 'listening');
  return { name: 'bare express', base: `http://127.0.0.1:${(server.address() as { port: number }).port}/hb`, dir };
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;

async function main(started: Started): Promise<void> {
  // PostgreSQL: Debian's server, on loopback, started for this run.
  const pgDir = await tempDir('bench-pg');
  await fs.chmod(pgDir, 0o755);
  const pg = await PostgresServer.start({ dir: pgDir, host: '127.0.0.1', port: await freePort(), user: 'dvr',
    password: `bench-${process.pid}-password`, database: 'dvr' });
  started.add('PostgreSQL', async () => { await pg.stop(); await fs.rm(pgDir, { recursive: true, force: true }); });
  const targets = [await controllerTarget(started, 'SQLite'), await controllerTarget(started, 'PostgreSQL', pg.url),
    await bareTarget(started)];
  const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${AGENT}` };
  const rates = new Map(targets.map((t) => [t.name, { fetch: [] as number[], latencies: [] as number[], wrk: [] as number[] }]));
  // Rounds, the order turned each time: the machine's load moves, and each target meets it alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(k + round) % targets.length] as Target;
      const r = rates.get(t.name);
      const hb = await hammer(async (i) => {
        const res = await fetch(`${t.base}/tc-${i % NODES}/heartbeat`, { method: 'POST', headers, body: heartbeat(`tc-${i % NODES}`) });
        await res.text();
        if (res.status !== 200) throw new Error(`${t.name} heartbeat: ${res.status}`);
      }, 32, SECONDS);
      r?.fetch.push(hb.rate);
      r?.latencies.push(...hb.latencies);
      r?.wrk.push(await wrkHeartbeats(t.base, t.dir));
    }
  }
  const alloc = new Map<string, number[]>();
  for (const t of targets) {
    const publish = t.publish;
    if (!publish) continue;
    let next = STREAMS / 2;
    alloc.set(t.name, (await hammer(async () => {
      const n = next++;
      if (n < STREAMS) await publish(n);
    }, 1, quick ? 2 : 5)).latencies);
  }

  const bare = rates.get('bare express');
  console.log(`${NODES} transcoders, ${STREAMS} streams (half live: five jobs in each reply); loopback, one process; `
    + `${ROUNDS} interleaved rounds of ${SECONDS} s, medians`);
  console.log('heartbeats/s: 32 at a time from a client in this process (fetch); wrk: 32 connections from another process');
  console.log('| store        | heartbeats/s | vs bare | hb p99 ms | wrk hb/s | vs bare | alloc p50 ms | alloc p99 ms |');
  console.log('|--------------|--------------|---------|-----------|----------|---------|--------------|--------------|');
  for (const t of targets) {
    const r = rates.get(t.name);
    const a = alloc.get(t.name);
    if (!r || !bare) continue;
    console.log(`| ${t.name.padEnd(12)} | ${median(r.fetch).toFixed(0).padStart(12)} | `
      + `${(median(r.fetch) / median(bare.fetch)).toFixed(2).padStart(6)}x | ${percentile(r.latencies, 99).toFixed(1).padStart(9)} | `
      + `${median(r.wrk).toFixed(0).padStart(8)} | ${(median(r.wrk) / median(bare.wrk)).toFixed(2).padStart(6)}x | `
      + `${(a ? percentile(a, 50).toFixed(2) : '-').padStart(12)} | ${(a ? percentile(a, 99).toFixed(2) : '-').padStart(12)} |`);
  }
  console.log('allocation target: p99 < 20 ms; heartbeats: >= 0.8x bare express, 2,000/s for 10,000 nodes every 5 s');
}

await runBench('bench:controller', main);
