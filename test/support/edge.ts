// A real nginx on loopback serving a storage root with the generated edge config.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../../common/log.js';
import { NginxProcess } from '../../nginx/process.js';
import { EDGE_DEFAULTS, type EdgeModel } from '../../nginx/model.js';
import { renderConfig } from '../../nginx/render.js';
import { freePort, tempDir } from './run.js';

export interface Edge { url: string; nginx: NginxProcess; prefix: string; stop: () => Promise<void> }

export function edgeModel(storageRoot: string, prefix: string, port: number, over: Partial<EdgeModel> = {}): EdgeModel {
  return { ...EDGE_DEFAULTS, role: 'edge', storageRoot, prefix, listen: [{ host: '127.0.0.1', port }], workerProcesses: 1,
    statusAllow: ['127.0.0.1'], ...over };
}

export async function startEdge(storageRoot: string, over: Partial<EdgeModel> = {}): Promise<Edge> {
  const prefix = await tempDir('nginx');
  const port = await freePort();
  const nginx = new NginxProcess({ binary: 'nginx', prefix, log: silentLogger(), startTimeoutMs: 10_000, stopTimeoutMs: 5_000 });
  await nginx.start(renderConfig(edgeModel(storageRoot, prefix, port, over)), { host: '127.0.0.1', port });
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
