#!/usr/bin/env node
// The controller process: `dvr-controller` (DVR_DATA_DIR, DVR_ADMIN_TOKEN, DVR_API_PORT, DVR_API_HOST,
// DVR_TLS_CERT and DVR_TLS_KEY: the same names `dvr start` reads).
// Providers: DVR_INVENTORY=<cluster.json> adds hosts from that pool over SSH (static; keys pinned in
// $DVR_DATA_DIR/provision/known_hosts, DVR_ACCEPT_NEW_HOST_KEYS=1 trusts new ones on first use);
// DVR_PROVIDER_CREATE / DVR_PROVIDER_DESTROY run the sysadmin's own scripts (exec).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { envNumber } from '../common/env.js';
import { createLogger } from '../common/log.js';
import { Controller } from '../controller/controller.js';
import { ExecProvider, StaticProvider, type Provider } from '../controller/providers.js';
import { DvrError } from '../common/errors.js';

/** DVR_PUBLISH_HOST: a host name or address, nothing else (it goes into URLs). */
function publishHost(v: string): string {
  if (!/^([A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}$|^[0-9A-Fa-f:.]{2,45}$/.test(v)) throw new DvrError('DVR_ERR_CONFIG',
    `DVR_PUBLISH_HOST: '${v}' is not a host name or address`);
  return v;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string' } } });
  const log = createLogger({ name: 'dvr-controller' });
  const env = process.env;
  for (const [old, now] of [['DVR_CONTROLLER_PORT', 'DVR_API_PORT'], ['DVR_CONTROLLER_HOST', 'DVR_API_HOST']] as const) {
    if (env[old] !== undefined) throw new DvrError('DVR_ERR_CONFIG', `${old} is now ${now} (one name for the API's port across commands)`);
  }
  const port = Number(values.port ?? env['DVR_API_PORT'] ?? 8000);
  const dataDir = path.resolve(env['DVR_DATA_DIR'] ?? './data');
  if ((env['DVR_TLS_CERT'] === undefined) !== (env['DVR_TLS_KEY'] === undefined)) {
    throw new DvrError('DVR_ERR_CONFIG', 'DVR_TLS_CERT and DVR_TLS_KEY go together: the certificate and its key (PEM files)');
  }
  if (env['DVR_INVENTORY'] && env['DVR_PROVIDER_CREATE']) throw new DvrError('DVR_ERR_CONFIG',
    'set either DVR_INVENTORY (static provider) or DVR_PROVIDER_CREATE/DESTROY (exec provider), not both');
  let provider: Provider | undefined;
  if (env['DVR_INVENTORY']) {
    provider = new StaticProvider({ inventoryFile: path.resolve(env['DVR_INVENTORY']),
      knownHostsFile: path.join(dataDir, 'provision', 'known_hosts'), acceptNewHostKeys: env['DVR_ACCEPT_NEW_HOST_KEYS'] === '1',
      workDir: path.join(dataDir, 'provision'), log: log.child({ part: 'provider' }) });
  } else if (env['DVR_PROVIDER_CREATE'] && env['DVR_PROVIDER_DESTROY']) {
    provider = new ExecProvider({ createScript: env['DVR_PROVIDER_CREATE'], destroyScript: env['DVR_PROVIDER_DESTROY'],
      timeoutMs: 600_000 });
  }
  const controller = await Controller.start({
    dataDir: path.join(dataDir, 'controller'), host: values.host ?? env['DVR_API_HOST'] ?? '0.0.0.0',
    ...(env['DVR_TLS_CERT'] && env['DVR_TLS_KEY'] ? { tls: { certFile: path.resolve(env['DVR_TLS_CERT']),
      keyFile: path.resolve(env['DVR_TLS_KEY']) } } : {}),
    port, log, ...(process.env['DVR_ADMIN_TOKEN'] ? { adminToken: process.env['DVR_ADMIN_TOKEN'] } : {}),
    ...(process.env['DVR_AGENT_TOKEN'] ? { agentToken: process.env['DVR_AGENT_TOKEN'] } : {}),
    provisioningTimeoutMs: 600_000, deadAfterMs: envNumber('DVR_DEAD_AFTER_MS', 8_000, { min: 1000, max: 3_600_000, integer: true }),
    sweepIntervalMs: 1000, originRtmpPort: 1935, edgeHttpPort: 8080,
    endGraceSeconds: envNumber('DVR_RECONNECT_GRACE_SECONDS', 30, { min: 0, max: 3600 }), playbackTtlSeconds: 6 * 3600,
    scaleIntervalMs: Number(process.env['DVR_SCALE_INTERVAL_MS'] ?? 5000),
    ...(provider ? { provider } : {}),
    ...(env['DVR_PUBLISH_HOST'] ? { publishHost: publishHost(env['DVR_PUBLISH_HOST']) } : {}),
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
