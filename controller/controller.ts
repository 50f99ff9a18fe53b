// The controller process: SQLite state, the REST API, and the sweeper that marks silent nodes
// failed and moves their streams to another transcoder (which resumes the DVR from the shared
// storage with a discontinuity).
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
import { parseLaunchConfig } from './launch-config.js';
import { nextState } from './node-states.js';
import type { Provider } from './providers.js';
import { envNumber } from '../common/env.js';
import { type StreamDefaults } from './streams.js';
import { Scaler } from './scaler.js';
import { RUNNING_STATUSES, Store } from './store.js';

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
 * A secret: the one given (from the environment, named by `env`), else the one kept in the data
 * directory, else a new one written there (0600). A short or empty one is refused, naming where it came from.
 */
async function secret(dataDir: string, name: string, given: string | undefined, env?: string): Promise<string> {
  const check = (value: string, where: string): string => {
    if (value.length < MIN_TOKEN_LENGTH) {
      throw new DvrError('DVR_ERR_CONFIG', `${where}: ${value.length === 0 ? 'empty' : `${value.length} characters`}; `
        + `the ${name.replace('-', ' ')} needs at least ${MIN_TOKEN_LENGTH} (delete the file to have one generated)`);
    }
    return value;
  };
  if (given !== undefined) return check(given.trim(), env ?? name);
  const file = path.join(dataDir, name);
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

  private constructor(readonly store: Store, readonly adminToken: string, readonly agentToken: string,
    /** Signs playback URLs; edges and relays check them with the same secret. */
    readonly signingSecret: string, private readonly o: ControllerOptions) {}

  static async start(o: ControllerOptions): Promise<Controller> {
    await fs.mkdir(o.dataDir, { recursive: true, mode: 0o750 });
    const adminToken = await secret(o.dataDir, 'admin-token', o.adminToken, 'DVR_ADMIN_TOKEN');
    const agentToken = await secret(o.dataDir, 'agent-token', o.agentToken, 'DVR_AGENT_TOKEN');
    const signingSecret = await secret(o.dataDir, 'signing-secret', undefined);
    const store = new Store(path.join(o.dataDir, 'controller.sqlite'));
    if (o.initialLaunchConfig && store.launchConfigs().length === 0) {
      const config = parseLaunchConfig(JSON.parse(await fs.readFile(o.initialLaunchConfig, 'utf8')) as unknown);
      store.putLaunchConfig(config.launchconfig.name, config);
      o.log.info({ launchConfig: config.launchconfig.name, file: o.initialLaunchConfig }, 'launch config stored');
    }
    const c = new Controller(store, adminToken, agentToken, signingSecret, o);
    const scaler = new Scaler(store, o.provider, o.log.child({ part: 'scaler' }));
    const app = createApi({ store, scaler, log: o.log, adminToken, agentToken, signingSecret, originRtmpPort: o.originRtmpPort,
      edgeHttpPort: o.edgeHttpPort, endGraceSeconds: o.endGraceSeconds, playbackTtlSeconds: o.playbackTtlSeconds, now: Date.now,
      quietAfterMs: Math.max(1000, o.deadAfterMs / 2), ...(o.publishHost !== undefined ? { publishHost: o.publishHost } : {}),
      ...(o.streamDefaults !== undefined ? { streamDefaults: o.streamDefaults } : {}) });
    if (o.tls) {
      const read = async (file: string, what: string): Promise<Buffer> => fs.readFile(file).catch((err: unknown) => {
        throw new DvrError('DVR_ERR_CONFIG', `the TLS ${what} ${file}: ${err instanceof Error ? err.message : String(err)}`);
      });
      const options = { cert: await read(o.tls.certFile, 'certificate'), key: await read(o.tls.keyFile, 'key') };
      try {
        c.server = https.createServer(options, app);
      } catch (err) {
        throw new DvrError('DVR_ERR_CONFIG', `the TLS certificate ${o.tls.certFile} and key ${o.tls.keyFile} do not make a server: `
          + `${err instanceof Error ? err.message : String(err)}`);
      }
      c.server.listen(o.port, o.host);
    } else {
      c.server = app.listen(o.port, o.host);
      if (!isLoopback(o.host)) {
        o.log.warn({ host: o.host, port: o.port }, `the API listens on ${o.host} without TLS: the admin and agent tokens cross the `
          + 'network in clear text; give it a certificate (DVR_TLS_CERT and DVR_TLS_KEY) or listen on 127.0.0.1 behind a TLS proxy');
      }
    }
    await once(c.server, 'listening');
    // Where `dvr streams ...` on this machine finds the API (it reads the admin token beside it).
    await fs.writeFile(path.join(o.dataDir, 'api-url'), `${c.url}\n`, { mode: 0o644 });
    c.sweeper = setInterval(() => c.sweep(), o.sweepIntervalMs);
    c.sweeper.unref();
    c.scaleTimer = setInterval(() => { void scaler.tick(); }, o.scaleIntervalMs);
    c.scaleTimer.unref();
    o.log.info({ url: c.url, nodes: store.nodes().length, streams: store.streams().length }, 'controller started');
    return c;
  }

  get url(): string {
    const a = this.server?.address();
    const port = a && typeof a === 'object' ? a.port : this.o.port;
    const host = this.o.host === '0.0.0.0' || this.o.host === '::' ? '127.0.0.1' : urlHost(this.o.host);
    return `${this.o.tls ? 'https' : 'http'}://${host}:${port}`;
  }

  /**
   * Ends streams whose publisher stayed away past the reconnect grace (their transcoder slot is
   * freed), fails silent nodes and moves their streams to the least-loaded transcoder.
   */
  sweep(now = Date.now()): void {
    for (const s of this.store.endStreams(now - this.o.endGraceSeconds * 1000)) {
      this.o.log.info({ stream: `${s.app}/${s.stream}`, transcoder: s.transcoder ?? null },
        'event ended: the publisher did not come back within the reconnect grace');
    }
    const provisioning = this.store.nodes({ state: 'provisioning' });
    for (const stuck of stuckProvisioning(provisioning, now, this.o.provisioningTimeoutMs, this.startedAt)) {
      this.store.setNodeState(stuck.id, nextState(stuck.state, 'never-joined') ?? 'failed');
      this.o.log.error({ node: stuck.id, afterMs: now - stuck.lastHeartbeat }, 'node never joined after provisioning: failed');
    }
    for (const dead of deadNodes(this.store.nodes(), now, this.o.deadAfterMs, this.startedAt)) {
      this.store.transaction(() => {
        this.store.setNodeState(dead.id, nextState(dead.state, 'silent') ?? 'failed');
        for (const s of this.store.streamsOn(dead.id)) {
          if (!RUNNING_STATUSES.includes(s.status)) continue;
          const loads = this.store.loadOf('transcoder');
          const next = leastLoaded(loads, 'transcoder', new Map(loads.map((l) => [l.id, l.used])), new Set([dead.id]));
          this.store.setStreamStatus(s.app, s.stream, next ? s.status : 'idle', next?.node.id, s.endingSince);
          this.o.log.warn({ stream: `${s.app}/${s.stream}`, from: dead.id, to: next?.node.id ?? null }, 'stream moved off a dead node');
        }
      });
      this.o.log.error({ node: dead.id, silentMs: now - dead.lastHeartbeat }, 'node missed its heartbeats: failed');
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.sweeper);
      clearInterval(this.scaleTimer);
      if (this.server) {
        this.server.closeAllConnections();
        await new Promise<void>((resolve) => this.server?.close(() => resolve()));
      }
      this.store.close();
    })();
    return this.closing;
  }
}
