// Edge serving benchmark with wrk on loopback, same files for every server: the generated edge
// config vs a minimal static nginx config (the baseline) vs express.static, for a playlist and
// a 2 MB segment, with and without signed URLs. Target: edge >= 0.95x the baseline's req/s.
// Usage: node dist/bench/nginx.js [--quick]
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../common/log.js';
import { EDGE_DEFAULTS } from '../nginx/model.js';
import { NginxProcess } from '../nginx/process.js';
import { MEDIA_TYPES, renderConfig } from '../nginx/render.js';
import { signedPlaybackPath } from '../nginx/signing.js';
import { percentile, runBench, tempDir, type Started } from './util.js';

const quick = process.argv.includes('--quick');
const DURATION = quick ? '3s' : '10s';
const SECRET = 'bench-secret-0123456789abcdef';

function wrk(url: string, connections: number): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('wrk', ['-t1', `-c${connections}`, `-d${DURATION}`, url], (err, stdout) => {
      if (err) { reject(err); return; }
      resolve(Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN));
    });
  });
}

function baselineConfig(root: string, prefix: string, port: number): string {
  return `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
    types { ${MEDIA_TYPES.map(([t, e]) => `${t} ${e};`).join(' ')} }
    access_log ${prefix}/access.log;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path ${prefix}/tmp/body; proxy_temp_path ${prefix}/tmp/proxy; fastcgi_temp_path ${prefix}/tmp/fcgi;
    uwsgi_temp_path ${prefix}/tmp/uwsgi; scgi_temp_path ${prefix}/tmp/scgi;
    server { listen 127.0.0.1:${port}; root ${root}; }
}
`;
}

async function main(started: Started): Promise<void> {
  const root = await tempDir('bench-nginx');
  started.add('the media directory', () => fs.rm(root, { recursive: true, force: true }));
  const dir = path.join(root, 'live', 'bench', 'r');
  await fs.mkdir(dir, { recursive: true });
  let playlist = '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n';
  for (let i = 0; i < 30; i++) playlist += `#EXTINF:2.000000,\n${String(i).padStart(9, '0')}_1795400000000_2000000_0_0.ts\n`;
  await fs.writeFile(path.join(dir, 'index.m3u8'), playlist);
  await fs.writeFile(path.join(dir, 'seg.ts'), Buffer.alloc(2 * 1024 * 1024, 7));

  const servers: Array<{ name: string; url: string }> = [];
  const startNginx = async (name: string, config: (prefix: string, port: number) => string, port: number): Promise<void> => {
    const prefix = await tempDir(`bench-${name}`);
    const nginx = new NginxProcess({ binary: 'nginx', prefix, log: silentLogger(), startTimeoutMs: 10_000, stopTimeoutMs: 5000 });
    started.add(`nginx (${name})`, async () => { await nginx.stop(); await fs.rm(prefix, { recursive: true, force: true }); });
    await nginx.start(config(prefix, port), { host: '127.0.0.1', port });
    servers.push({ name, url: `http://127.0.0.1:${port}` });
  };
  await startNginx('baseline', (prefix, port) => baselineConfig(root, prefix, port), 18_301);
  await startNginx('edge', (prefix, port) => renderConfig({ ...EDGE_DEFAULTS, role: 'edge', prefix, storageRoot: root, workerProcesses: 1,
    listen: [{ host: '127.0.0.1', port }], signing: { secret: SECRET, streams: [] } }), 18_302);
  await startNginx('edge nfs-mode', (prefix, port) => renderConfig({ ...EDGE_DEFAULTS, role: 'edge', prefix, storageRoot: root,
    workerProcesses: 1, listen: [{ host: '127.0.0.1', port }], networkStorage: true }), 18_304);
  const here = path.dirname(fileURLToPath(import.meta.url));
  const node = spawn(process.execPath, [path.join(here, 'static-server.js'), root, '18303'], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.add('express.static', () => node.kill());
  await new Promise<void>((resolve) => createInterface({ input: node.stdout }).once('line', () => resolve()));
  servers.push({ name: 'express.static', url: 'http://127.0.0.1:18303' });

  const exp = Math.floor(Date.now() / 1000) + 86_400;
  const cases: Array<[string, string, number]> = [['playlist', '/live/bench/r/index.m3u8', 64],
    ['2 MB segment', '/live/bench/r/seg.ts', 16]];
  const rounds = quick ? 1 : 3;
  console.log(`wrk -t1, ${DURATION} per run, ${rounds} interleaved round(s), median req/s (ratio to the baseline); `
    + 'loopback, nginx with 1 worker');
  for (const [label, p, conns] of cases) {
    const edge = servers[1]?.url ?? '';
    const targets: Array<[string, string]> = [...servers.map((s): [string, string] => [s.name, `${s.url}${p}`]),
      ['edge signed', `${edge}${signedPlaybackPath(SECRET, 'live', 'bench', p.replace('/live/bench/', ''), exp)}`]];
    const samples = new Map<string, number[]>(targets.map(([n]) => [n, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [name, url] of targets) samples.get(name)?.push(await wrk(url, conns));
    }
    const med = (name: string): number => percentile(samples.get(name) ?? [], 50);
    const base = med('baseline');
    console.log(`${label.padEnd(13)} ` + targets.map(([name]) => `${name} ${med(name).toFixed(0)}`
      + (name === 'baseline' ? '' : ` (${(med(name) / base).toFixed(2)}x)`)).join('   '));
  }
}

await runBench('bench:nginx', main);
