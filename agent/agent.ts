// One agent process: storage monitor -> packager -> transcoder, with metrics and heartbeats.
// close() stops in order: heartbeats, encoders (each finishes its segment), packager, the rest.
import { promises as fs } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { Logger } from '../common/log.js';
import type { Heartbeat, StreamRef } from '../common/protocol.js';
import type { AgentConfig } from './config.js';
import { startAgentHeartbeat, type HeartbeatSender } from './metrics/heartbeat.js';
import { createRegistry, serveMetrics } from './metrics/prometheus.js';
import { systemFigures } from './metrics/system.js';
import { streamPaths } from './packager/layout.js';
import { Packager } from './packager/packager.js';
import { MOUNT_MARKER, StorageMonitor } from './storage/monitor.js';
import { parseTranscodeJob, type TranscodeJob } from '../common/job.js';
import { TimeShiftServer } from './timeshift/server.js';
import { Transcoder } from './transcoder/transcoder.js';

export class Agent {
  private heartbeat: HeartbeatSender | undefined;
  private metricsServer: http.Server | undefined;
  /** The host is an edge too: its time-shift service. */
  private timeshift: TimeShiftServer | undefined;
  private closing: Promise<void> | undefined;

  private constructor(readonly config: Readonly<AgentConfig>, readonly storage: StorageMonitor, readonly packager: Packager,
    readonly transcoder: Transcoder, private readonly log: Logger) {}

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
      spoolIsLocal: !config.storage.mount || config.spoolRoot !== config.storageRoot,
      storageAvailable: () => storage.available, retryDelayMs: config.storage.probeIntervalMs,
      concurrentStreamTasks: config.storage.concurrentStreamTasks, takeoverDelayMs: config.storage.takeoverDelayMs });
    const transcoder = new Transcoder({ packager, node: config.nodeId, log, stateDir: config.stateDir, policy: config.encoder,
      ...(config.originSegments ? { originSegments: config.originSegments } : {}) });
    const agent = new Agent(config, storage, packager, transcoder, log);
    if (config.metrics) {
      agent.metricsServer = await serveMetrics(createRegistry({ packager, transcoder, storage }), config.metrics.host,
        config.metrics.port, config.metrics.token);
    }
    agent.timeshift = await TimeShiftServer.forAgent(config, log);
    await transcoder.reconcile(config.jobs);
    agent.heartbeat = startAgentHeartbeat(config, log, () => agent.heartbeatBody(), async (reply) => {
      if (reply.deleteRecordings) await agent.deleteRecordings(reply.deleteRecordings);
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

  /** Ended events deleted here, reported with the heartbeats of the next minute (the controller marks them once). */
  private readonly deleted = new Map<string, { ref: StreamRef; at: number }>();

  /**
   * Deletes the media of ended events whose retention ran out, as the controller asks: the stream's
   * directory on the shared storage. A stream this node runs (published again meanwhile) is left alone.
   */
  async deleteRecordings(refs: readonly StreamRef[]): Promise<void> {
    for (const ref of refs.slice(0, 100)) {
      const k = `${ref.app}/${ref.stream}`;
      if (this.deleted.has(k)) continue;
      try {
        const dir = streamPaths(this.config.storageRoot, ref.app, ref.stream).dir;
        if (this.transcoder.has(ref.app, ref.stream)) {
          this.log.warn({ stream: k }, 'not deleting a stream that runs here (published again)');
          continue;
        }
        await fs.rm(dir, { recursive: true, force: true });
        this.deleted.set(k, { ref: { app: ref.app, stream: ref.stream }, at: Date.now() });
        this.log.info({ stream: k, dir }, 'recording deleted: its retention ran out');
      } catch (err) {
        this.log.error({ stream: k, err: err instanceof Error ? err.message : String(err) }, 'could not delete a recording');
      }
    }
  }

  get metricsPort(): number | undefined {
    const a = this.metricsServer?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  async heartbeatBody(): Promise<Heartbeat> {
    const st = this.storage.snapshot();
    const failedJobs = this.transcoder.failures();
    for (const [k, d] of this.deleted) if (Date.now() - d.at > 60_000) this.deleted.delete(k);
    const deletedRecordings = [...this.deleted.values()].map((d) => d.ref);
    return {
      nodeId: this.config.nodeId, role: this.config.role, sentAt: new Date().toISOString(),
      storage: { available: st.available, reason: st.reason }, system: await systemFigures(st), streams: this.transcoder.figures(),
      ...(failedJobs.length > 0 ? { failedJobs } : {}),
      ...(deletedRecordings.length > 0 ? { deletedRecordings } : {}),
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const steps: Array<[string, () => Promise<void> | void]> = [
        ['heartbeat', () => this.heartbeat?.close()],
        ['time-shift', () => this.timeshift?.close()],
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
