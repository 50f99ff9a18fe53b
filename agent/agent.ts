// One agent process: storage monitor -> packager -> transcoder, with metrics and heartbeats.
// close() stops in order: heartbeats, encoders (each finishes its segment), packager, the rest.
import { promises as fs } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { Logger } from '../common/log.js';
import { errnoCode } from '../common/errors.js';
import type { Heartbeat, RecordingRef, StreamFigures } from '../common/protocol.js';
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
      if (reply.deleteRecordings) agent.deleteRecordings(reply.deleteRecordings);
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
  private readonly deleted = new Map<string, { ref: RecordingRef; at: number }>();
  /** Deletions asked for and not done yet, one at a time in the background (a week of segments takes a while on NFS). */
  private readonly deleting = new Map<string, RecordingRef>();
  private deleter: Promise<void> | undefined;
  private readonly deleteFailures = new Map<string, string>();

  /**
   * The controller asks for the media of ended events whose retention ran out to go. Each stream's
   * directory is first renamed to a dot-named tombstone in its app's directory (one atomic step: a
   * new publish of the stream starts a fresh directory, and edges refuse dot-names), then removed in
   * the background, so that neither the heartbeats nor the stream's next event wait for the walk. A
   * stream this node runs is left alone, and nothing is done while the storage is not available
   * (an unmounted mountpoint would be emptied for nothing and reported done).
   */
  deleteRecordings(refs: readonly RecordingRef[]): void {
    for (const ref of refs.slice(0, 100)) {
      const k = `${ref.app}/${ref.stream}`;
      if (!this.deleted.has(k) && !this.deleting.has(k)) this.deleting.set(k, { app: ref.app, stream: ref.stream, endedAt: ref.endedAt });
    }
    this.deleter ??= this.runDeletions().finally(() => { this.deleter = undefined; });
  }

  private async runDeletions(): Promise<void> {
    await this.removeTombstones();
    for (const [k, ref] of this.deleting) {
      if (this.closing) return;
      if (!this.storage.snapshot().available) return; // asked again with a later reply
      this.deleting.delete(k);
      try {
        const { dir } = streamPaths(this.config.storageRoot, ref.app, ref.stream);
        if (this.transcoder.has(ref.app, ref.stream)) {
          this.log.warn({ stream: k }, 'not deleting a stream that runs here (published again)');
          continue;
        }
        const tombstone = path.join(path.dirname(dir), `.deleting-${ref.stream}-${Date.now()}`);
        try {
          await fs.rename(dir, tombstone);
        } catch (err) {
          if (errnoCode(err) !== 'ENOENT') throw err;
        }
        this.deleted.set(k, { ref, at: Date.now() });
        this.deleteFailures.delete(k);
        this.log.info({ stream: k, dir }, 'recording deleted: its retention ran out');
        await fs.rm(tombstone, { recursive: true, force: true });
      } catch (err) {
        // Asked again with every reply until it is done: said once per reason.
        const why = err instanceof Error ? err.message : String(err);
        if (this.deleteFailures.get(k) !== why) this.log.error({ stream: k, err: why }, 'could not delete a recording');
        this.deleteFailures.set(k, why);
      }
    }
  }

  /** Tombstones a deletion left behind (the agent stopped half-way), in the apps' directories; once per process. */
  private tombstonesSwept = false;
  private async removeTombstones(): Promise<void> {
    if (this.tombstonesSwept || !this.storage.snapshot().available) return;
    this.tombstonesSwept = true;
    const apps = await fs.readdir(this.config.storageRoot, { withFileTypes: true }).catch(() => []);
    for (const app of apps) {
      if (!app.isDirectory() || app.name.startsWith('.')) continue;
      const names = await fs.readdir(path.join(this.config.storageRoot, app.name)).catch(() => [] as string[]);
      for (const n of names.filter((x) => /^\.deleting-[a-z0-9_-]{1,64}-\d+$/.test(x))) {
        await fs.rm(path.join(this.config.storageRoot, app.name, n), { recursive: true, force: true });
        this.log.info({ dir: path.join(app.name, n) }, 'removed what an interrupted deletion left');
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
      storage: { available: st.available, reason: st.reason }, system: await systemFigures(st), streams: this.streamFigures(),
      ...(failedJobs.length > 0 ? { failedJobs } : {}),
      ...(deletedRecordings.length > 0 ? { deletedRecordings } : {}),
    };
  }

  /** The transcoder's figures; a stream of the local config carries its settings (no controller knows them). */
  private streamFigures(): StreamFigures[] {
    const local = new Map(this.config.jobs.map((j) => [`${j.app}/${j.stream}`, j]));
    return this.transcoder.figures().map((f) => {
      const j = local.get(`${f.app}/${f.stream}`);
      return j ? { ...f, local: { format: j.format, mode: j.mode, ladder: j.ladder, segmentSeconds: j.segmentSeconds, dvr: j.dvr } } : f;
    });
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
