// A real nginx on loopback serving a storage root with the generated edge config.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../../common/log.js';
import { NginxProcess } from '../../nginx/process.js';
import { renderEdgeConfig, type EdgeModel } from '../../nginx/render.js';
import { freePort, tempDir } from './run.js';

export interface Edge { url: string; nginx: NginxProcess; prefix: string; stop: () => Promise<void> }

export function edgeModel(storageRoot: string, prefix: string, port: number): EdgeModel {
  return {
    storageRoot, prefix, listen: [{ host: '127.0.0.1', port }], workerProcesses: 1,
    playlistMaxAgeSeconds: 1, segmentMaxAgeSeconds: 31_536_000, statusAllow: ['127.0.0.1'],
  };
}

export async function startEdge(storageRoot: string): Promise<Edge> {
  const prefix = await tempDir('nginx');
  const port = await freePort();
  const nginx = new NginxProcess({ binary: 'nginx', prefix, log: silentLogger(), startTimeoutMs: 10_000, stopTimeoutMs: 5_000 });
  await nginx.start(renderEdgeConfig(edgeModel(storageRoot, prefix, port)), { host: '127.0.0.1', port });
  return {
    url: `http://127.0.0.1:${port}`, nginx, prefix,
    stop: async () => {
      await nginx.stop();
      await fs.rm(prefix, { recursive: true, force: true });
    },
  };
}

export async function errorLog(edge: Edge): Promise<string> {
  return fs.readFile(path.join(edge.prefix, 'error.log'), 'utf8').catch(() => '');
}
