#!/usr/bin/env node
// The controller process: `dvr-controller` (DVR_DATA_DIR, DVR_ADMIN_TOKEN, DVR_API_PORT, DVR_API_HOST,
// DVR_TLS_CERT and DVR_TLS_KEY: the same names `dvr start` reads).
// Providers: DVR_INVENTORY=<cluster.json> adds hosts from that pool over SSH (static; keys pinned in
// $DVR_DATA_DIR/provision/known_hosts, DVR_ACCEPT_NEW_HOST_KEYS=1 trusts new ones on first use);
// DVR_PROVIDER_CREATE / DVR_PROVIDER_DESTROY run the sysadmin's own scripts (exec).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseCommandLine, runCommand, usageError } from '../common/cli.js';
import { envNumber } from '../common/env.js';
import { createLogger } from '../common/log.js';
import { Controller, controllerTimings } from '../controller/controller.js';
import { ExecProvider, StaticProvider, type Provider } from '../controller/providers.js';
import { loadStreamDefaults } from '../controller/streams.js';
import { DvrError } from '../common/errors.js';
import { backupStore, restoreStore } from '../controller/store/backup.js';
import { redact } from '../controller/store/postgres.js';

/** DVR_PUBLISH_HOST: a host name or address, nothing else (it goes into URLs). */
function publishHost(v: string): string {
  if (!/^([A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}$|^[0-9A-Fa-f:.]{2,45}$/.test(v)) throw new DvrError('DVR_ERR_CONFIG',
    `DVR_PUBLISH_HOST: '${v}' is not a host name or address`);
  return v;
}

const USAGE = `usage: dvr-controller [--port N] [--host ADDR]
       dvr-controller backup FILE      a consistent copy of the state, while the controller runs
       dvr-controller restore FILE     the state from a backup (the controller stopped)
       dvr-controller --help | --version

The cluster's controller: the REST API under /api/v1, the dashboard, node heartbeats, failover and
scaling. Prints 'api: <url>' once it listens. Logs go to stderr. Several controllers over one
PostgreSQL (DVR_DATABASE_URL) all answer; one leads (it runs the failover sweep and the scaler) and
another takes over within DVR_DEAD_AFTER_MS / 2 when it stops.

options (each overrides its environment variable):
  --port N      DVR_API_PORT  (default 8000)
  --host ADDR   DVR_API_HOST  (default 0.0.0.0; beyond loopback give it TLS)

environment:
  DVR_DATA_DIR                 its state, tokens and keys (default ./data; the controller's part in ./data/controller)
  DVR_DATABASE_URL             postgres://user:password@host:port/db: the state in PostgreSQL, shared by every controller
                               of the cluster (default: SQLite, DVR_DATA_DIR/controller/controller.sqlite)
  DVR_CONTROLLER_ID            this controller's name among the cluster's (default: the host's name)
  DVR_ADMIN_TOKEN              the admin token (default: generated once, kept in DVR_DATA_DIR/controller/admin-token)
  DVR_AGENT_TOKEN              the agents' token (default: generated once, kept beside it)
  DVR_TLS_CERT, DVR_TLS_KEY    serve HTTPS with this certificate and key (PEM files)
  DVR_PUBLISH_HOST             the host name publishers are given (DNS for every origin, or a load balancer)
  DVR_STREAM_DEFAULTS          a JSON file of defaults for new streams (windowSeconds, format, ..., forceRecording)
  DVR_DEAD_AFTER_MS            a node silent this long is failed and its streams move (default 8000)
  DVR_RECONNECT_GRACE_SECONDS  how long a publisher may be away before its event ends (default 30)
  DVR_PLAYBACK_TTL_SECONDS     how long a signed playback URL the API hands out stays valid (default 21600)
  DVR_SCALE_INTERVAL_MS        how often the scaling policies are evaluated (default 5000)
  DVR_INVENTORY                a provisioning inventory: a pool of hosts the scaler provisions over SSH
  DVR_ACCEPT_NEW_HOST_KEYS=1   trust a pool host's SSH key on first use (then pinned)
  DVR_PROVIDER_CREATE, DVR_PROVIDER_DESTROY   or: your scripts that create and destroy machines
  DVR_LOG_LEVEL, DVR_LOG_FORMAT=json|pretty`;

/** DVR_CONTROLLER_ID: a name (it is listed by the API and logged). */
function controllerName(v: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(v)) throw new DvrError('DVR_ERR_CONFIG', `DVR_CONTROLLER_ID: '${v}' may contain only `
    + 'letters, digits, _ . and -, 1-64 characters');
  return v;
}

/** The store: PostgreSQL when DVR_DATABASE_URL names one, else SQLite in the data directory. */
function storeChoice(): { databaseUrl?: string } {
  const url = process.env['DVR_DATABASE_URL'];
  if (url === undefined || url === '') return {};
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new DvrError('DVR_ERR_CONFIG', `DVR_DATABASE_URL: must be postgres://user:password@host:port/database (${redact(url)})`);
  }
  // The password is this process's alone: provider scripts and ssh it starts do not inherit it.
  delete process.env['DVR_DATABASE_URL'];
  return { databaseUrl: url };
}

/** `backup FILE` and `restore FILE`. */
async function maintenance([verb, file]: string[]): Promise<number> {
  if (verb !== 'backup' && verb !== 'restore') throw usageError(`unknown command '${verb ?? ''}' (backup FILE or restore FILE)`);
  if (file === undefined) throw usageError(`${verb}: which file? (dvr-controller ${verb} FILE)`);
  const dataDir = path.join(path.resolve(process.env['DVR_DATA_DIR'] ?? './data'), 'controller');
  const choice = { dataDir, log: createLogger({ name: 'dvr-controller' }), ...storeChoice() };
  const target = path.resolve(file);
  if (verb === 'backup') {
    console.log(await backupStore(choice, target));
    return 0;
  }
  // A controller that answers on this data directory's API is running: its store is not to be replaced under it.
  const apiUrl = await fs.readFile(path.join(dataDir, 'api-url'), 'utf8').then((u) => u.trim(), () => undefined);
  const running = apiUrl !== undefined && await fetch(`${apiUrl}/api/v1/health`, { signal: AbortSignal.timeout(2000) })
    .then((r) => r.ok, () => false);
  console.log(await restoreStore(choice, target, running));
  return 0;
}

async function main(): Promise<number | undefined> {
  const parsed = parseCommandLine({ command: 'dvr-controller', usage: USAGE,
    options: { port: { type: 'string' }, host: { type: 'string' } }, positionals: { min: 0, max: 2 } }, process.argv.slice(2));
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length > 0) return maintenance(positionals);
  if (values.port !== undefined && !/^[0-9]{1,5}$/.test(values.port)) throw usageError(`--port: '${values.port}' is not a TCP port`);
  if (values.host !== undefined && !/^[0-9A-Fa-f:.]{2,45}$|^localhost$/.test(values.host)) {
    throw usageError(`--host: '${values.host}' is not an address to listen on`);
  }
  const log = createLogger({ name: 'dvr-controller' });
  const env = process.env;
  for (const [old, now] of [['DVR_CONTROLLER_PORT', 'DVR_API_PORT'], ['DVR_CONTROLLER_HOST', 'DVR_API_HOST']] as const) {
    if (env[old] !== undefined) throw new DvrError('DVR_ERR_CONFIG', `${old} is now ${now} (one name for the API's port across commands)`);
  }
  const port = values.port !== undefined ? Number(values.port) : envNumber('DVR_API_PORT', 8000, { min: 1, max: 65535, integer: true });
  if (port < 1 || port > 65535) throw usageError(`--port: '${values.port ?? ''}' is not a TCP port`);
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
    ...controllerTimings(), originRtmpPort: 1935, edgeHttpPort: 8080,
    ...(provider ? { provider } : {}),
    ...(env['DVR_PUBLISH_HOST'] ? { publishHost: publishHost(env['DVR_PUBLISH_HOST']) } : {}),
    ...(env['DVR_STREAM_DEFAULTS'] ? { streamDefaults: await loadStreamDefaults(path.resolve(env['DVR_STREAM_DEFAULTS'])) } : {}),
    ...storeChoice(), ...(env['DVR_CONTROLLER_ID'] ? { name: controllerName(env['DVR_CONTROLLER_ID']) } : {}),
  });
  console.log(`api: ${controller.url}/api/v1`);
  const stop = (): void => { void controller.close().then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return undefined;
}

runCommand('dvr-controller', main);
