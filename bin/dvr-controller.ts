#!/usr/bin/env node
// The controller process: `dvr-controller` (DVR_DATA_DIR, DVR_ADMIN_TOKEN, DVR_CONTROLLER_PORT).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../common/log.js';
import { Controller } from '../controller/controller.js';
import { ExecProvider } from '../controller/providers.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string' } } });
  const log = createLogger({ name: 'dvr-controller' });
  const port = Number(values.port ?? process.env['DVR_CONTROLLER_PORT'] ?? 8000);
  const controller = await Controller.start({
    dataDir: path.resolve(process.env['DVR_DATA_DIR'] ?? './data', 'controller'), host: values.host ?? process.env['DVR_CONTROLLER_HOST'] ?? '0.0.0.0',
    port, log, ...(process.env['DVR_ADMIN_TOKEN'] ? { adminToken: process.env['DVR_ADMIN_TOKEN'] } : {}),
    ...(process.env['DVR_AGENT_TOKEN'] ? { agentToken: process.env['DVR_AGENT_TOKEN'] } : {}),
    provisioningTimeoutMs: 600_000, deadAfterMs: Number(process.env['DVR_DEAD_AFTER_MS'] ?? 18_000), sweepIntervalMs: 1000, originRtmpPort: 1935, edgeHttpPort: 8080,
    endGraceSeconds: 30, playbackTtlSeconds: 6 * 3600, scaleIntervalMs: Number(process.env['DVR_SCALE_INTERVAL_MS'] ?? 5000),
    ...(process.env['DVR_PROVIDER_CREATE'] && process.env['DVR_PROVIDER_DESTROY'] ? { provider: new ExecProvider({
      createScript: process.env['DVR_PROVIDER_CREATE'], destroyScript: process.env['DVR_PROVIDER_DESTROY'], timeoutMs: 600_000 }) } : {}),
  });
  console.log(`api: ${controller.url}/api/v1`);
  const stop = (): void => { void controller.close().then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(`dvr-controller: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
