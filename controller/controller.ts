// The controller process: its store (SQLite, or PostgreSQL shared by the cluster's controllers),
// the REST API, and what the leader runs: the sweeper that marks silent nodes failed and moves their
// streams to another transcoder (which resumes the DVR from the shared storage with a
// discontinuity), and the scaler.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { isLoopback, urlHost } from '../common/address.js';
import { DvrError, errnoCode } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { deadNodes, leastLoaded, stuckProvisioning } from './allocation.js';
import { createApi } from './api.js';
import { defaultControllerName, Leadership } from './leadership.js';
import { controllerMetrics, type ControllerMetrics } from './metrics.js';
import { parseLaunchConfig } from './launch-config.js';
import { nextState } from './node-states.js';
import type { Provider } from './providers.js';
import { envNumber } from '../common/env.js';
import { type StreamDefaults } from './streams.js';
import { Scaler } from './scaler.js';
import { RUNNING_STATUSES, type NodeRow, type StateStore, type StoreOps } from './store.js';
import { openStore } from './store/open.js';

export interface ControllerOptions {
  dataDir: string;
  host: string;
  port: number;
  log: Logger;
  /** DVR_ADMIN_TOKEN; otherwise generated once and kept in <dataDir>/admin-token. */
  adminToken?: string;
  agentToken?: string;
  /** A node silent for this long is failed and its streams move. */
  deadAfterMs: number;
  /** A provisioned node that never sends a heartbeat within this is failed. */
  provisioningTimeoutMs: number;
  sweepIntervalMs: number;
  originRtmpPort: number;
  edgeHttpPort: number;
  endGraceSeconds: number;
  playbackTtlSeconds: number;
  /** Where new nodes come from; without one, only manual nodes join (by heartbeat). */
  provider?: Provider;
  scaleIntervalMs: number;
  /** A launch-config file stored when the controller starts with none stored (the appliance's own). */
  initialLaunchConfig?: string;
  /** The cluster's defaults for new streams (DVR_STREAM_DEFAULTS: a JSON file). */
  streamDefaults?: Readonly<StreamDefaults>;
  /** The host name publish URLs give out (one name for every origin); otherwise an origin's address. */
  publishHost?: string;
  /** Serve HTTPS with this certificate and key (PEM files); without, a listener beyond loopback is warned about. */
  tls?: { certFile: string; keyFile: string };
  /** postgres://... (DVR_DATABASE_URL): the store the cluster's controllers share; without, SQLite in dataDir. */
  databaseUrl?: string;
  /** This controller's name among the cluster's (DVR_CONTROLLER_ID; default: the host's name). */
  name?: string;
}

/**
 * The controller's timings, with their defaults in one place: `dvr-controller` and `dvr start` read
 * the same environment variables (each named when it is wrong).
 */
export function controllerTimings(): Pick<ControllerOptions, 'deadAfterMs' | 'provisioningTimeoutMs' | 'sweepIntervalMs'
  | 'endGraceSeconds' | 'playbackTtlSeconds' | 'scaleIntervalMs'> {
  return {
    deadAfterMs: envNumber('DVR_DEAD_AFTER_MS', 8_000, { min: 1000, max: 3_600_000, integer: true }),
    provisioningTimeoutMs: 600_000,
    sweepIntervalMs: 1000,
    endGraceSeconds: envNumber('DVR_RECONNECT_GRACE_SECONDS', 30, { min: 0, max: 3600 }),
    playbackTtlSeconds: envNumber('DVR_PLAYBACK_TTL_SECONDS', 6 * 3600, { min: 60, max: 31 * 86400, integer: true }),
    scaleIntervalMs: envNumber('DVR_SCALE_INTERVAL_MS', 5000, { min: 100, max: 3_600_000, integer: true }),
  };
}

/** Tokens shorter than this are refused: a guessable admin token is no authentication. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * A secret: the one given (from the environment, named by `env`), else the one the cluster's
 * controllers share (PostgreSQL), else the one kept in the data directory, else a new one written
 * there (0600). A short or empty one is refused, naming where it came from. `keep`: a shared one is
 * also written to the data directory (`dvr` on this machine reads the admin token there, provisioning
 * the others).
 */
async function secret(store: StateStore, dataDir: string, name: string, given: string | undefined, env?: string,
  keep = false): Promise<string> {
  const check = (value: string, where: string): string => {
    if (value.length < MIN_TOKEN_LENGTH) {
      throw new DvrError('DVR_ERR_CONFIG', `${where}: ${value.length === 0 ? 'empty' : `${value.length} characters`}; `
        + `the ${name.replace('-', ' ')} needs at least ${MIN_TOKEN_LENGTH} (delete the file to have one generated)`);
    }
    return value;
  };
  if (given !== undefined) return check(given.trim(), env ?? name);
  const file = path.join(dataDir, name);
  if (store.engine === 'postgres') {
    // A controller moved from SQLite to PostgreSQL offers the secret it had: agents and signed URLs keep working.
    const had = (await fs.readFile(file, 'utf8').catch(() => '')).trim();
    const offer = had.length >= MIN_TOKEN_LENGTH ? had : randomBytes(24).toString('base64url');
    const value = check(await store.sharedSecret(name, offer), `the store's ${name}`);
    if (keep) await fs.writeFile(file, `${value}\n`, { mode: 0o600 });
    return value;
  }
  try {
    return check((await fs.readFile(file, 'utf8')).trim(), file);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  const value = randomBytes(24).toString('base64url');
  await fs.writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  return value;
}

export class Controller {
  private server: http.Server | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private scaleTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private readonly startedAt = Date.now();
  private sweeping: Promise<void> | undefined;
  readonly leadership: Leadership;

  private constructor(readonly store: StateStore, readonly adminToken: string, readonly agentToken: string,
    /** Signs playback URLs; edges and relays check them with the same secret. */
    readonly signingSecret: string, private readonly o: ControllerOptions, private readonly metrics: ControllerMetrics) {
    this.leadership = new Leadership(store, { name: o.name ?? defaultControllerName(), url: () => `${this.url}/api/v1`,
      ttlMs: Math.max(1000, Math.floor(o.deadAfterMs / 2)), log: o.log.child({ part: 'leadership' }), metrics });
  }

  static async start(o: ControllerOptions): Promise<Controller> {
    await fs.mkdir(o.dataDir, { recursive: true, mode: 0o750 });
    const store = await openStore({ dataDir: o.dataDir, databaseUrl: o.databaseUrl, log: o.log });
    try {
      const adminToken = await secret(store, o.dataDir, 'admin-token', o.adminToken, 'DVR_ADMIN_TOKEN', true);
      // The cluster's, kept beside the admin token too: provisioning reads them there (the inventory names the files).
      const agentToken = await secret(store, o.dataDir, 'agent-token', o.agentToken, 'DVR_AGENT_TOKEN', true);
      const signingSecret = await secret(store, o.dataDir, 'signing-secret', undefined, undefined, true);
      if (o.initialLaunchConfig && (await store.launchConfigs()).length === 0) {
        const config = parseLaunchConfig(JSON.parse(await fs.readFile(o.initialLaunchConfig, 'utf8')) as unknown);
        await store.putLaunchConfig(config.launchconfig.name, config);
        o.log.info({ launchConfig: config.launchconfig.name, file: o.initialLaunchConfig }, 'launch config stored');
      }
      const c = new Controller(store, adminToken, agentToken, signingSecret, o, controllerMetrics(store));
      await c.listen();
      return c;
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /** The API on its port, the lease, and the leader's timers. */
  private async listen(): Promise<void> {
    const o = this.o;
    const scaler = new Scaler(this.store, o.provider, o.log.child({ part: 'scaler' }));
    const app = createApi({ store: this.store, scaler, log: o.log, adminToken: this.adminToken, agentToken: this.agentToken,
      signingSecret: this.signingSecret, originRtmpPort: o.originRtmpPort, metrics: this.metrics, leadership: this.leadership,
      edgeHttpPort: o.edgeHttpPort, endGraceSeconds: o.endGraceSeconds, playbackTtlSeconds: o.playbackTtlSeconds, now: Date.now,
      quietAfterMs: Math.max(1000, o.deadAfterMs / 2), ...(o.publishHost !== undefined ? { publishHost: o.publishHost } : {}),
      ...(o.streamDefaults !== undefined ? { streamDefaults: o.streamDefaults } : {}) });
    if (o.tls) {
      const read = async (file: string, what: string): Promise<Buffer> => fs.readFile(file).catch((err: unknown) => {
        throw new DvrError('DVR_ERR_CONFIG', `the TLS ${what} ${file}: ${err instanceof Error ? err.message : String(err)}`);
      });
      const options = { cert: await read(o.tls.certFile, 'certificate'), key: await read(o.tls.keyFile, 'key') };
      try {
        this.server = https.createServer(options, app);
      } catch (err) {
        throw new DvrError('DVR_ERR_CONFIG', `the TLS certificate ${o.tls.certFile} and key ${o.tls.keyFile} do not make a server: `
          + `${err instanceof Error ? err.message : String(err)}`);
      }
      this.server.listen(o.port, o.host);
    } else {
      this.server = app.listen(o.port, o.host);
      if (!isLoopback(o.host)) {
        o.log.warn({ host: o.host, port: o.port }, `the API listens on ${o.host} without TLS: the admin and agent tokens cross the `
          + 'network in clear text; give it a certificate (DVR_TLS_CERT and DVR_TLS_KEY) or listen on 127.0.0.1 behind a TLS proxy');
      }
    }
    await once(this.server, 'listening');
    // Where `dvr streams ...` on this machine finds the API (it reads the admin token beside it).
    await fs.writeFile(path.join(o.dataDir, 'api-url'), `${this.url}\n`, { mode: 0o644 });
    await this.leadership.start();
    this.sweeper = setInterval(() => { this.sweeping ??= this.sweep().catch((err: unknown) => {
      o.log.error({ err: err instanceof Error ? err.message : String(err) }, 'sweep failed');
    }).finally(() => { this.sweeping = undefined; }); }, o.sweepIntervalMs);
    this.sweeper.unref();
    this.scaleTimer = setInterval(() => { void scaler.tick(() => this.leadership.confirm()); }, o.scaleIntervalMs);
    this.scaleTimer.unref();
    o.log.info({ url: this.url, engine: this.store.engine, leads: this.leadership.leads, nodes: (await this.store.nodes()).length,
      streams: (await this.store.streams()).length }, 'controller started');
  }

  get url(): string {
    const a = this.server?.address();
    const port = a && typeof a === 'object' ? a.port : this.o.port;
    const host = this.o.host === '0.0.0.0' || this.o.host === '::' ? '127.0.0.1' : urlHost(this.o.host);
    return `${this.o.tls ? 'https' : 'http'}://${host}:${port}`;
  }

  /**
   * The leader's round (fenced by its term): ends streams whose publisher stayed away past the
   * reconnect grace (their transcoder slot is freed), fails silent nodes and moves their streams to
   * the least-loaded transcoder. Silence is counted from when this controller started leading at the
   * earliest (the heartbeats may have gone to a controller that died).
   */
  async sweep(now = Date.now()): Promise<void> {
    const since = Math.max(this.startedAt, this.leadership.leadingSince ?? now);
    await this.leadership.fenced(async (tx) => {
      for (const s of await tx.endStreams(now - this.o.endGraceSeconds * 1000)) {
        this.o.log.info({ stream: `${s.app}/${s.stream}`, transcoder: s.transcoder ?? null },
          'event ended: the publisher did not come back within the reconnect grace');
      }
      const provisioning = await tx.nodes({ state: 'provisioning' });
      for (const stuck of stuckProvisioning(provisioning, now, this.o.provisioningTimeoutMs, since)) {
        await tx.setNodeState(stuck.id, nextState(stuck.state, 'never-joined') ?? 'failed');
        this.o.log.error({ node: stuck.id, afterMs: now - stuck.lastHeartbeat }, 'node never joined after provisioning: failed');
      }
      const dead = deadNodes(await tx.nodes(), now, this.o.deadAfterMs, since);
      if (dead.length > 0) await tx.lockAllocation();
      for (const d of dead) await this.failNode(tx, d, now);
    });
  }

  /** A node missed its heartbeats: failed, and its running streams moved to the least-loaded transcoder. */
  private async failNode(tx: StoreOps, dead: NodeRow, now: number): Promise<void> {
    // Unless its heartbeat came meanwhile (through another controller): then it lives.
    if (!await tx.failSilentNode(dead.id, nextState(dead.state, 'silent') ?? 'failed', dead.lastHeartbeat)) return;
    for (const s of await tx.streamsOn(dead.id)) {
      if (!RUNNING_STATUSES.includes(s.status)) continue;
      const loads = await tx.loadOf('transcoder');
      const next = leastLoaded(loads, 'transcoder', new Map(loads.map((l) => [l.id, l.used])), new Set([dead.id]));
      await tx.setStreamStatus(s.app, s.stream, next ? s.status : 'idle', next?.node.id, s.endingSince);
      this.o.log.warn({ stream: `${s.app}/${s.stream}`, from: dead.id, to: next?.node.id ?? null }, 'stream moved off a dead node');
    }
    this.o.log.error({ node: dead.id, silentMs: now - dead.lastHeartbeat }, 'node missed its heartbeats: failed');
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.sweeper);
      clearInterval(this.scaleTimer);
      await this.sweeping;
      await this.leadership.close();
      if (this.server) {
        this.server.closeAllConnections();
        await new Promise<void>((resolve) => this.server?.close(() => resolve()));
      }
      await this.store.close();
    })();
    return this.closing;
  }
}
