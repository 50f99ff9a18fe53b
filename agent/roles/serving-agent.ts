// The agent on a serving node (edge, relay, origin): nginx does the work; the agent reports the
// node's figures, its connections and whether its nginx answers with each heartbeat. On edges and
// relays it also keeps nginx's stream maps (signed streams, ended events) in step with the
// controller's replies: tested, swapped, reloaded only when they change; on edges, content steering
// follows the controller's view of the edges (steering.ts).
import type { Logger } from '../../common/log.js';
import type { Heartbeat, HeartbeatReply, Role } from '../../common/protocol.js';
import { IncludeFile } from '../../nginx/include.js';
import { renderStreamMaps } from '../../nginx/render.js';
import type { AgentConfig } from '../config.js';
import { startAgentHeartbeat, type HeartbeatSender } from '../metrics/heartbeat.js';
import { systemFigures } from '../metrics/system.js';
import { TimeShiftServer } from '../timeshift/server.js';
import { nginxConnections } from './nginx-status.js';
import { backupOf, validSteeringEdges } from './steering.js';
import { DvrError } from '../../common/errors.js';
import { liveViewKey } from '../../common/secrets.js';
import { StorageMonitor } from '../storage/monitor.js';
import { writeAtomic, unlinkIfPresent } from '../../common/files.js';

/** After a stall, the flag waits at most this long for the transcoders to list their spools on the storage. */
const CATCH_UP_MAX_MS = 60_000;

export class ServingAgent {
  private heartbeat: HeartbeatSender | undefined;
  /** Edges: the time-shift service nginx passes time-shift URLs to. */
  timeshift: TimeShiftServer | undefined;
  private statusFailures = 0;
  private readonly maps: IncludeFile | undefined;
  /** Content steering is on: the controller named two or more edges in service once. */
  private steers = false;
  /** The last stream-maps failure, logged once until it changes. */
  private mapsError: string | undefined;
  readonly metricsPort = undefined;
  /** Edges with a live fallback: the probe of the storage mount that raises and lowers nginx's flag. */
  private reader: StorageMonitor | undefined;
  /** The mount as the probe sees it, and when it answered again after a stall. */
  private mount: { down: boolean; backAt: number | undefined } = { down: false, backAt: undefined };
  /** The controller's last reply named a stream whose transcoder still lists its spool on the storage. */
  private catchingUp = false;
  /** Whether nginx's flag is up (undefined: not known). */
  private flagged: boolean | undefined;
  private flagging: Promise<void> = Promise.resolve();

  private constructor(readonly config: Readonly<AgentConfig>, private readonly role: Exclude<Role, 'transcoder'>,
    private readonly log: Logger) {
    const n = config.nginx;
    this.maps = n ? new IncludeFile({ config: n.config, file: n.streamsInclude, binary: n.binary }) : undefined;
  }

  static async start(config: Readonly<AgentConfig>, log: Logger): Promise<ServingAgent> {
    if (config.role === 'transcoder') throw new DvrError('DVR_ERR_INTERNAL', 'ServingAgent serves edge, relay and origin nodes');
    const agent = new ServingAgent(config, config.role, log);
    agent.timeshift = await TimeShiftServer.forAgent(config, log);
    await agent.watchMount();
    agent.heartbeat = startAgentHeartbeat(config, log, () => agent.heartbeatBody(), (reply) => agent.onReply(reply));
    log.info({ node: config.nodeId, role: config.role, ...(agent.timeshift ? { timeshift: agent.timeshift.port } : {}) }, 'agent started');
    return agent;
  }

  /**
   * The controller's view of the streams becomes nginx's stream maps; on an edge, its view of the
   * edges becomes content steering: once two or more edges are in service, the master playlists
   * and MPDs this edge serves name its pathway and its steering manifests list the others.
   */
  async onReply(reply: HeartbeatReply): Promise<void> {
    const edges = this.role === 'edge' && reply.steering ? validSteeringEdges(reply.steering.edges) : [];
    // Once on, steering stays on: the players it moved here still ask when the others are gone.
    this.steers ||= edges.length >= 2;
    if (this.timeshift && this.steers) this.timeshift.steering = { self: this.config.nodeId, edges };
    if (this.config.liveFallback && reply.streamMaps) {
      this.catchingUp = (reply.streamMaps.live ?? []).some((l) => l.catchingUp === true);
      await this.updateFlag();
    }
    if (!this.maps || !reply.streamMaps) return;
    try {
      const pathway = this.steers ? { pathway: this.config.nodeId, ...backupOf(this.config.nodeId, edges) } : {};
      const token = this.config.controller?.agentToken;
      const live = this.config.liveFallback && token !== undefined ? { sources: reply.streamMaps.live ?? [], key: liveViewKey(token) }
        : undefined;
      // Low latency: the edge's fan-out asks each stream's transcoder.
      if (live && this.timeshift) {
        const sources = new Map(live.sources.map((s) => [`${s.app}/${s.stream}`, s.source]));
        this.timeshift.lowLatency.sources = { key: live.key, sources };
      }
      const result = await this.maps.apply(renderStreamMaps({ signed: reply.streamMaps.signed, ended: reply.streamMaps.ended,
        ...pathway, ...(live ? { live } : {}) }));
      if (result === 'reloaded') {
        this.log.info({ signed: reply.streamMaps.signed.length, ended: reply.streamMaps.ended.length }, 'nginx stream maps updated');
      }
      if (this.mapsError !== undefined) this.log.info('nginx stream maps apply again');
      this.mapsError = undefined;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== this.mapsError) this.log.error({ err: message }, 'cannot update nginx\'s stream maps; it keeps the ones it has');
      this.mapsError = message;
    }
  }

  /**
   * An edge with a live fallback watches its storage mount (a read probe in a child process, as a
   * transcoder's watch writes): while it fails, the flag file tells nginx to serve live media from the
   * transcoders and nothing from the mount. Once the mount answers again the flag stays while a
   * transcoder still lists its spooled segments on the storage (the controller says so): until then the
   * storage's playlists are behind what players already have from the live view.
   */
  private async watchMount(): Promise<void> {
    const f = this.config.liveFallback;
    if (!f) return;
    this.reader = new StorageMonitor({ root: this.config.storageRoot, log: this.log, intervalMs: f.probeIntervalMs,
      timeoutMs: f.probeTimeoutMs, minFreeBytes: 0, readOnly: true,
      messages: { down: 'storage mount stalled: live playlists and segments come from the transcoders, archive reads get 503',
        up: 'storage mount answers again' } });
    this.reader.on('down', () => {
      this.mount = { down: true, backAt: undefined };
      void this.updateFlag();
    });
    this.reader.on('up', () => {
      this.mount = { down: false, backAt: Date.now() };
      setTimeout(() => { void this.updateFlag(); }, CATCH_UP_MAX_MS + 100).unref();
      void this.updateFlag();
    });
    await this.reader.start();
    this.mount = { down: !this.reader.available, backAt: undefined };
    await this.updateFlag();
  }

  /** Raises or lowers nginx's flag as the mount and the transcoders' catching up say; one change at a time. */
  private updateFlag(): Promise<void> {
    this.flagging = this.flagging.then(() => this.applyFlag());
    return this.flagging;
  }

  private async applyFlag(): Promise<void> {
    const f = this.config.liveFallback;
    if (!f) return;
    const { down, backAt } = this.mount;
    const holding = backAt !== undefined && Date.now() - backAt < CATCH_UP_MAX_MS && this.catchingUp;
    const flag = down || holding;
    if (flag === this.flagged) return;
    this.flagged = flag;
    try {
      if (flag) await writeAtomic(f.flagFile, 'the storage mount does not answer: live media come from the transcoders\n');
      else await unlinkIfPresent(f.flagFile);
      if (!flag && backAt !== undefined) {
        this.log.info({ afterMs: Date.now() - backAt },
          'the storage lists what the transcoders spooled: everything is served from it again');
      }
    } catch (err) {
      this.flagged = undefined;
      this.log.error({ file: f.flagFile, err: String(err) }, 'cannot set nginx\'s storage flag');
    }
  }

  /** Connections now, or undefined when nginx cannot be asked (reported once, then every tenth time). */
  async connections(): Promise<number | undefined> {
    if (!this.config.nginxStatusUrl) return undefined;
    try {
      const n = await nginxConnections(this.role, this.config.nginxStatusUrl, 2000);
      if (this.statusFailures > 0) this.log.info({ after: this.statusFailures }, 'nginx status answers again');
      this.statusFailures = 0;
      return n;
    } catch (err) {
      this.statusFailures++;
      if (this.statusFailures === 1 || this.statusFailures % 10 === 0) {
        this.log.warn({ url: this.config.nginxStatusUrl, err: err instanceof Error ? err.message : String(err) },
          'cannot read nginx status');
      }
      return undefined;
    }
  }

  async heartbeatBody(): Promise<Heartbeat> {
    const [system, connections] = await Promise.all([systemFigures(undefined), this.connections()]);
    return {
      nodeId: this.config.nodeId, role: this.role, sentAt: new Date().toISOString(), storage: { available: true, reason: undefined },
      system, streams: [], ...(connections === undefined ? {} : { connections }),
      ...(this.config.nginxStatusUrl ? { nginx: connections === undefined ? 'down' : 'up' } : {}),
    };
  }

  async close(): Promise<void> {
    this.reader?.close();
    await this.heartbeat?.close();
    await this.timeshift?.close();
  }
}
