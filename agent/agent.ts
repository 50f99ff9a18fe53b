// One agent process: storage monitor -> packager -> transcoder, with metrics and heartbeats.
// close() stops in order: heartbeats, encoders (each finishes its segment), packager, the rest.
import { promises as fs } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { Logger } from '../common/log.js';
import type { Heartbeat, StreamFigures } from '../common/protocol.js';
import type { AgentConfig } from './config.js';
import { startAgentHeartbeat, type HeartbeatSender } from './metrics/heartbeat.js';
import { createRegistry, serveMetrics } from './metrics/prometheus.js';
import { systemFigures } from './metrics/system.js';
import { Packager } from '../packager/packager.js';
import { StorageCleanup } from './storage/cleanup.js';
import { MOUNT_MARKER, StorageMonitor } from './storage/monitor.js';
import { parseTranscodeJob, type TranscodeJob } from '../common/job.js';
import { TimeShiftServer } from './timeshift/server.js';
import { Transcoder } from './transcoder/transcoder.js';
import { LiveViewServer } from './transcoder/live-view-server.js';
import { liveViewKey } from '../common/secrets.js';

export class Agent {
  private heartbeat: HeartbeatSender | undefined;
  private metricsServer: http.Server | undefined;
  /** The host is an edge too: its time-shift service. */
  private timeshift: TimeShiftServer | undefined;
  /** Each stream's newest media for edges that cannot read the storage. */
  private liveView: LiveViewServer | undefined;
  private closing: Promise<void> | undefined;
  /** What this node removes from the storage when asked, and the versions it finds there. */
  readonly cleanup: StorageCleanup;

  private constructor(readonly config: Readonly<AgentConfig>, readonly storage: StorageMonitor, readonly packager: Packager,
    readonly transcoder: Transcoder, private readonly log: Logger) {
    this.cleanup = new StorageCleanup({ root: config.storageRoot, log: log.child({ part: 'cleanup' }),
      available: () => storage.snapshot().available, runsHere: (app, stream) => transcoder.has(app, stream) });
    packager.events.on('republished', (e) => { if (e.version !== undefined) this.cleanup.noteArchived(e.app, e.stream, e.version); });
  }

  static async start(config: Readonly<AgentConfig>, log: Logger): Promise<Agent> {
    await fs.mkdir(config.spoolRoot, { recursive: true });
    await fs.mkdir(config.stateDir, { recursive: true });
    if (!config.storage.mount) {
      await fs.mkdir(config.storageRoot, { recursive: true });
      await fs.writeFile(path.join(config.storageRoot, MOUNT_MARKER), 'dvr storage\n');
    }
    const storage = new StorageMonitor({ root: config.storageRoot, log, intervalMs: config.storage.probeIntervalMs,
      timeoutMs: config.storage.probeTimeoutMs, minFreeBytes: config.storage.minFreeBytes });
    await storage.start();
    const packager = new Packager({ root: config.storageRoot, spoolRoot: config.spoolRoot, log,
      // A spool inside the mounted storage is the network mount too.
      spoolIsLocal: !config.storage.mount || path.relative(config.storageRoot, config.spoolRoot).startsWith('..'),
      storageAvailable: () => storage.available, retryDelayMs: config.storage.probeIntervalMs,
      concurrentStreamTasks: config.storage.concurrentStreamTasks, takeoverDelayMs: config.storage.takeoverDelayMs,
      liveView: config.liveView !== undefined });
    const transcoder = new Transcoder({ packager, node: config.nodeId, log, stateDir: config.stateDir, policy: config.encoder,
      ...(config.originSegments ? { originSegments: config.originSegments } : {}) });
    const agent = new Agent(config, storage, packager, transcoder, log);
    if (config.metrics) {
      agent.metricsServer = await serveMetrics(createRegistry({ packager, transcoder, storage }), config.metrics.host,
        config.metrics.port, config.metrics.token);
    }
    agent.timeshift = await TimeShiftServer.forAgent(config, log);
    const token = config.controller?.agentToken;
    if (config.liveView && token !== undefined) {
      agent.liveView = await LiveViewServer.start({ ...config.liveView, key: liveViewKey(token), log: log.child({ part: 'live-view' }),
        find: (app, stream) => packager.find(app, stream) });
    }
    await transcoder.reconcile(config.jobs);
    agent.heartbeat = startAgentHeartbeat(config, log, () => agent.heartbeatBody(), async (reply) => {
      if (reply.deleteRecordings) agent.cleanup.deleteRecordings(reply.deleteRecordings);
      if (reply.purgeStreams) agent.cleanup.purge(reply.purgeStreams);
      // The controller's jobs come on top of the local config's (single-machine mode keeps its own).
      if (!reply.jobs) return;
      // An invalid job is refused alone; the reply's other jobs are applied.
      const assigned: Array<Readonly<TranscodeJob>> = [];
      const refused: Array<{ stream: string; error: string }> = [];
      reply.jobs.forEach((j, i) => {
        try {
          assigned.push(parseTranscodeJob(j, `controller job [${i}]`));
        } catch (err) {
          const { app, stream } = (j ?? {}) as { app?: unknown; stream?: unknown };
          refused.push({ stream: typeof app === 'string' && typeof stream === 'string' ? `${app}/${stream}` : `controller job [${i}]`,
            error: err instanceof Error ? err.message : String(err) });
        }
      });
      const local = new Set(config.jobs.map((j) => `${j.app}/${j.stream}`));
      await transcoder.reconcile([...config.jobs, ...assigned.filter((j) => !local.has(`${j.app}/${j.stream}`))], refused);
    });
    log.info({ node: config.nodeId, jobs: config.jobs.length }, 'agent started');
    return agent;
  }

  get liveViewPort(): number | undefined { return this.liveView?.port; }

  get metricsPort(): number | undefined {
    const a = this.metricsServer?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  async heartbeatBody(): Promise<Heartbeat> {
    const st = this.storage.snapshot();
    const failedJobs = this.transcoder.failures();
    return {
      nodeId: this.config.nodeId, role: this.config.role, sentAt: new Date().toISOString(),
      storage: { available: st.available, reason: st.reason }, system: await systemFigures(st), streams: this.streamFigures(),
      ...(this.liveView ? { liveView: { port: this.liveView.port } } : {}),
      ...(failedJobs.length > 0 ? { failedJobs } : {}),
      ...this.cleanup.report(),
    };
  }

  /** The transcoder's figures; a stream of the local config carries its settings (no controller knows them). */
  private streamFigures(): StreamFigures[] {
    const local = new Map(this.config.jobs.map((j) => [`${j.app}/${j.stream}`, j]));
    return this.transcoder.figures().map((f) => {
      const j = local.get(`${f.app}/${f.stream}`);
      return j ? { ...f, local: { format: j.format, mode: j.mode, ladder: j.ladder, segmentSeconds: j.segmentSeconds,
        ...(j.lowLatency === true ? { lowLatency: true } : {}), dvr: j.dvr } } : f;
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const steps: Array<[string, () => Promise<void> | void]> = [
        ['heartbeat', () => this.heartbeat?.close()],
        ['storage cleanup', () => this.cleanup.close()],
        ['time-shift', () => this.timeshift?.close()],
        ['live view', () => this.liveView?.close()],
        ['transcoder', () => this.transcoder.close()],
        ['packager', () => this.packager.close()],
        ['storage', () => this.storage.close()],
        ['metrics', () => new Promise<void>((resolve) => {
          if (this.metricsServer) this.metricsServer.close(() => resolve()); else resolve();
        })],
      ];
      for (const [part, step] of steps) {
        try { await step(); } catch (err) { this.log.error({ part, err: String(err) }, 'stop step failed'); }
      }
    })();
    return this.closing;
  }
}
