// The one-machine appliance: everything a cluster's nodes run, on this machine. An RTMP origin
// (nginx) asks the controller about each publisher, the controller hands the stream to the
// transcoder agent, which packages it, and nginx serves it; a demo stream plays from a test pattern.
// Each part is started in turn and remembered, so a failure at any step stops everything started
// before it and says which part failed, with the last lines of that part's log.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DvrError, isDvrError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { Agent } from '../agent/agent.js';
import { writeAtomic } from '../common/files.js';
import { liveViewKey } from '../common/secrets.js';
import { MOUNT_MARKER } from '../agent/storage/monitor.js';
import { parseAgentConfig } from '../agent/config.js';
import { ServingAgent } from '../agent/roles/serving-agent.js';
import type { StreamDefaults } from '../controller/streams.js';
import { Controller, controllerTimings } from '../controller/controller.js';
import { LAUNCH_CONFIG_DIR } from '../controller/launch-config.js';
import { NginxProcess } from '../nginx/process.js';
import { EDGE_DEFAULTS, RTMP_MODULE_PATH } from '../nginx/model.js';
import { renderConfig, renderSecretInclude, renderStreamMaps } from '../nginx/render.js';
import { streamMapsOf } from '../controller/stream-maps.js';
import { stagePlayerFiles } from '../nginx/player.js';
import { prepareSegmenterDirs } from '../nginx/segmenter.js';
import { ensureWorkerAccount, shareWithWorkers, type Account } from './data-dir.js';
import { reclaim, release } from './leftovers.js';

export interface ApplianceOptions {
  dataDir: string;
  /** Where nginx listens (playback and RTMP). */
  host: string;
  port: number;
  rtmpPort: number;
  rtmpStatusPort: number;
  /** The edge's time-shift service, on 127.0.0.1 (nginx passes it the time-shift URLs). */
  timeshiftPort: number;
  apiHost: string;
  apiPort: number;
  /** Base of the URLs printed for players. */
  publicUrl: string;
  demo: boolean;
  demoWindowSeconds: number;
  reconnectGraceSeconds: number;
  adminToken?: string;
  /** The cluster's defaults for new streams (DVR_STREAM_DEFAULTS). */
  streamDefaults?: Readonly<StreamDefaults>;
  /** How long the demo may take to become playable. */
  playableWithinMs: number;
}

/** A start-up step that failed: the part, why, and the log that tells more. */
export class StartupError extends Error {
  constructor(readonly part: string, message: string, readonly logFiles: string[], readonly code?: string) {
    super(message);
    this.name = 'StartupError';
  }
}

interface Part { name: string; stop: () => Promise<void> }

export class Appliance {
  private readonly parts: Part[] = [];
  private stopping: Promise<void> | undefined;
  controller: Controller | undefined;
  publishUrl = '';

  constructor(private readonly o: ApplianceOptions, private readonly log: Logger, private readonly say: (line: string) => void) {}

  get playbackUrl(): string { return `${this.o.publicUrl}/live/demo/master.m3u8`; }
  get dashUrl(): string { return `${this.o.publicUrl}/live/demo/manifest.mpd`; }
  /** The edge's player page for the demo. */
  get playerUrl(): string { return `${this.o.publicUrl}/player/?stream=live/demo`; }

  /** Runs `fn` as the start of `part`; a failure names the part and the logs that say why. */
  private async step<T>(part: string, logFiles: string[], fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StartupError) throw err;
      throw new StartupError(part, err instanceof Error ? err.message : String(err), logFiles, isDvrError(err) ? err.code : undefined);
    }
  }

  async start(): Promise<void> {
    const o = this.o;
    // Secrets are written with explicit modes; everything else must be readable by nginx's workers.
    process.umask(0o022);
    const workers = await this.step('data directory', [], async () => this.prepareDataDir());
    const edgePrefix = path.join(o.dataDir, 'nginx');
    const originPrefix = path.join(o.dataDir, 'nginx-origin');
    const stateDir = path.join(o.dataDir, 'state');
    // What a crashed run left (its nginx instances hold the ports) is stopped before anything binds.
    await this.step('data directory', [], async () => {
      await reclaim({ dataDir: o.dataDir, nginx: { 'nginx (edge)': edgePrefix, 'nginx (origin)': originPrefix }, stateDir }, this.say);
      this.parts.push({ name: 'data directory lock', stop: () => release(o.dataDir) });
    });
    const mediaRoot = path.join(o.dataDir, 'media');
    await fs.mkdir(mediaRoot, { recursive: true });
    // The edge's mount probe tells the storage from an empty directory by this marker (as a cluster's storage has it).
    await writeAtomic(path.join(mediaRoot, MOUNT_MARKER), 'dvr shared storage\n', 0o644);
    // Where this machine reaches its own listeners to see them up.
    const local = o.host === '0.0.0.0' ? '127.0.0.1' : o.host;
    const user = workers ? { workerUser: workers.name } : {};

    this.say(`starting the controller on ${o.apiHost}:${o.apiPort}`);
    const controller = await this.step('controller', [], () => Controller.start({
      dataDir: path.join(o.dataDir, 'controller'), host: o.apiHost, port: o.apiPort, log: this.log,
      ...(o.adminToken !== undefined ? { adminToken: o.adminToken } : {}),
      ...(o.streamDefaults !== undefined ? { streamDefaults: o.streamDefaults } : {}),
      // DVR_DATABASE_URL: the appliance's state in PostgreSQL too (SQLite, in the data directory, otherwise).
      ...(process.env['DVR_DATABASE_URL'] ? { databaseUrl: process.env['DVR_DATABASE_URL'] } : {}),
      ...controllerTimings(), originRtmpPort: o.rtmpPort, edgeHttpPort: o.port, endGraceSeconds: o.reconnectGraceSeconds,
      // Its roles' capacities (the transcoder takes four publishers) until an admin stores another.
      initialLaunchConfig: path.join(LAUNCH_CONFIG_DIR, 'single-machine.json'),
    }));
    this.controller = controller;
    this.parts.push({ name: 'controller', stop: () => controller.close() });

    // The edge checks signed playback with the controller's secret (its own 0600 file) and takes the
    // stream maps (signed streams, ended events) from the controller through its agent, as a
    // cluster's edges do; the first maps are written before it starts.
    const edge = new NginxProcess({ binary: 'nginx', prefix: edgePrefix, log: this.log, startTimeoutMs: 10_000, stopTimeoutMs: 5_000 });
    const secretFile = path.join(edgePrefix, 'signing.conf');
    const streamsInclude = path.join(edgePrefix, 'streams.conf');
    // The edge reaches the transcoder's live view: low-latency HLS (blocking reloads, parts), and the
    // live media should the data directory stop answering.
    const storageDown = path.join(edgePrefix, 'storage-down');
    const live = { sources: [], key: liveViewKey(controller.agentToken) };
    this.say(`starting nginx (edge) on ${o.host}:${o.port}`);
    await this.step('nginx (edge)', [path.join(edgePrefix, 'error.log')], async () => {
      await fs.mkdir(edgePrefix, { recursive: true });
      await writeAtomic(secretFile, renderSecretInclude(controller.signingSecret), 0o600);
      await writeAtomic(streamsInclude, renderStreamMaps({ ...streamMapsOf(await controller.store.streams()), live }), 0o644);
      // The player page is served from the data directory: nginx's workers may not read the checkout.
      const player = await stagePlayerFiles(edgePrefix);
      this.parts.push({ name: 'nginx (edge)', stop: () => edge.stop() });
      await edge.start(renderConfig({ ...EDGE_DEFAULTS, ...user, role: 'edge', storageRoot: mediaRoot, prefix: edgePrefix,
        listen: [{ host: o.host, port: o.port }], player, signing: { secret: { file: secretFile }, streams: [] },
        streamsInclude, timeshift: { port: o.timeshiftPort, cacheMaxSizeMb: 256 },
        liveFallback: { flagFile: storageDown, cacheMaxSizeMb: 256 } }),
      { host: local, port: o.port });
    });

    // The origin segments copy-mode streams itself (nginx-rtmp's HLS writer) and the agent takes the
    // fragments from the same disk, so no puller runs per stream.
    const origin = new NginxProcess({ binary: 'nginx', prefix: originPrefix, log: this.log, startTimeoutMs: 10_000, stopTimeoutMs: 5_000 });
    const segmenter = { dir: path.join(o.dataDir, 'origin-fragments'), fragmentSeconds: 2, playlistSeconds: 60 };
    this.say(`starting nginx (origin) for publishers on ${o.host}:${o.rtmpPort}`);
    await this.step('nginx (origin)', [path.join(originPrefix, 'error.log')], async () => {
      await fs.mkdir(originPrefix, { recursive: true });
      await prepareSegmenterDirs(segmenter, ['live'], workers?.name);
      this.parts.push({ name: 'nginx (origin)', stop: () => origin.stop() });
      await origin.start(renderConfig({
        role: 'origin', prefix: originPrefix, rtmpListen: { host: o.host, port: o.rtmpPort },
        statusListen: { host: '127.0.0.1', port: o.rtmpStatusPort },
        apps: ['live'], controllerUrl: controller.url, hookToken: controller.agentToken, publishAllow: ['all'], playAllow: ['127.0.0.1'],
        rtmpModulePath: RTMP_MODULE_PATH, workerProcesses: 1, workerConnections: 1024, statusAllow: ['127.0.0.1'],
        nodeId: 'appliance-origin', segmenter, ...user,
      }), [{ host: local, port: o.rtmpPort }, { host: '127.0.0.1', port: o.rtmpStatusPort }]);
    });

    // The machine's origin and edge report their publishers and viewers, as a cluster's nodes do.
    const report = { storageRoot: mediaRoot, heartbeatSeconds: 2, controller: { url: controller.url, agentToken: controller.agentToken } };
    for (const [nodeId, role, status] of [['appliance-origin', 'origin', o.rtmpStatusPort], ['appliance-edge', 'edge', o.port]] as const) {
      const a = await ServingAgent.start(parseAgentConfig({ ...report, nodeId, role, nginxStatusUrl: `http://127.0.0.1:${status}`,
        ...(role === 'edge' ? { nginx: { config: edge.configPath, streamsInclude }, timeshift: { port: o.timeshiftPort },
          liveFallback: { flagFile: storageDown } } : {}) }),
      this.log);
      this.parts.push({ name: `agent (${role})`, stop: () => a.close() });
    }

    // The one-machine appliance runs the same agent a cluster's transcoder runs, with a local job.
    const demo = {
      app: 'live', stream: 'demo', source: { testPattern: { width: 1280, height: 720, fps: 25 } }, mode: 'transcode',
      ladder: [{ name: 'r720', height: 720, videoKbps: 2000 }, { name: 'r360', height: 360, videoKbps: 600 }, { name: 'audio' }],
      format: 'fmp4', segmentSeconds: 2, lowLatency: true, dvr: { windowSeconds: o.demoWindowSeconds },
    };
    const encoderLog = path.join(stateDir, 'live-demo.ffmpeg.log');
    this.say(`starting the transcoder agent${o.demo ? ' and the demo stream' : ''}`);
    await this.step('agent (transcoder)', o.demo ? [encoderLog] : [], async () => {
      const agent = await Agent.start(parseAgentConfig({
        nodeId: 'appliance', storageRoot: mediaRoot, stateDir, jobs: o.demo ? [demo] : [],
        // Nothing restarts the appliance to adopt its encoders: they stop with it, whatever kills it.
        encoder: { outliveAgent: false },
        controller: { url: controller.url, agentToken: controller.agentToken }, heartbeatSeconds: 2,
        liveView: { host: '127.0.0.1', port: 0 },
        originSegments: { dir: segmenter.dir, fragmentSeconds: segmenter.fragmentSeconds, sources: [`rtmp://127.0.0.1:${o.rtmpPort}`] },
      }), this.log);
      this.parts.push({ name: 'agent (transcoder)', stop: () => agent.close() });
    });
    this.publishUrl = await this.step('controller', [], () => this.cam1PublishUrl(controller));
    if (!o.demo) return;
    this.say('waiting for the demo stream to play');
    await this.step('demo stream', [encoderLog, path.join(edgePrefix, 'error.log')], async () => {
      // Every rendition of the ladder listed: a player reads the master once, and would keep the first alone.
      await waitForHttp(this.playbackUrl, o.playableWithinMs, (text) => demo.ladder.every((r) => text.includes(`${r.name}/index.m3u8`)));
      await waitForHttp(this.dashUrl, 10_000);
    });
  }

  /** As root: nginx's workers run as an unprivileged account that must reach the media. */
  private async prepareDataDir(): Promise<Account | undefined> {
    await fs.mkdir(this.o.dataDir, { recursive: true, mode: 0o750 });
    if (process.getuid?.() !== 0) return undefined;
    const account = await ensureWorkerAccount((what) => this.say(what));
    await shareWithWorkers(this.o.dataDir, account, (what) => this.say(what));
    return account;
  }

  /** The stream live/cam1 (made on first start) and the RTMP URL that publishes it, key included. */
  private async cam1PublishUrl(controller: Controller): Promise<string> {
    const call = async (method: string, p: string, body?: unknown): Promise<Response> => fetch(`${controller.url}/api/v1${p}`, {
      method, headers: { Authorization: `Bearer ${controller.adminToken}`, 'Content-Type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}) });
    if (!(await call('GET', '/streams/live/cam1')).ok) {
      const made = await call('POST', '/streams', { app: 'live', stream: 'cam1', windowSeconds: 7200, recording: true });
      if (!made.ok) throw new DvrError('DVR_ERR_DEPENDENCY', `cannot create the stream live/cam1: ${await made.text()}`);
    }
    const res = await call('GET', '/streams/live/cam1/publish');
    if (!res.ok) throw new DvrError('DVR_ERR_DEPENDENCY', `cannot look up the publish URL of live/cam1: ${await res.text()}`);
    const url = new URL(((await res.json()) as { url: string }).url);
    // Publishers reach the origin at this machine's public name, not at the loopback address it registered with.
    url.hostname = new URL(this.o.publicUrl).hostname;
    return url.toString();
  }

  /** Stops what was started, newest first, each step on its own. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const part of [...this.parts].reverse()) {
        try {
          await part.stop();
        } catch (err) {
          this.log.error({ err: String(err), part: part.name }, 'stop failed');
        }
      }
    })();
    return this.stopping;
  }
}

async function waitForHttp(url: string, deadlineMs: number, complete: (body: string) => boolean = () => true): Promise<void> {
  const until = Date.now() + deadlineMs;
  let last = 'no answer';
  for (;;) {
    try {
      const res = await fetch(url);
      const body = await res.text();
      if (res.ok && complete(body)) return;
      last = res.ok ? `HTTP 200, not complete yet: ${body.slice(0, 300)}` : `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > until) throw new DvrError('DVR_ERR_DEPENDENCY', `${url} did not become playable within ${deadlineMs / 1000}s `
      + `(last answer: ${last})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The last `lines` lines of a log file, or a note that it is missing. */
export async function tail(file: string, lines = 15): Promise<string> {
  try {
    const text = await fs.readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch (err) {
    return `(${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
}
