// Heartbeat intake: a node's report is checked, its row (state, capacity, figures) written, its
// figures kept for the dashboard's plots, and its reply made: a transcoder's jobs and deletions, an
// edge's or relay's stream maps. The node's row is the store's; the capacities by role (from the
// stored launch configs) and the plots' figures are caches of this process.
import { DvrError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { isName } from '../common/names.js';
import type { HeartbeatReply, SteeringEdge } from '../common/protocol.js';
import { parseHeartbeat } from './heartbeat-schema.js';
import { HeartbeatWrites } from './heartbeat-writes.js';
import { History } from './history.js';
import { isRole, targetsByRole, type Role } from './launch-config.js';
import type { ControllerMetrics } from './metrics.js';
import { nextState } from './node-states.js';
import type { Publishing } from './publishing.js';
import type { Retention } from './retention.js';
import type { NodeMetrics, NodeRow, StateStore } from './store.js';
import type { StreamMapsCache } from './stream-maps.js';

/** The plots forget what is gone at most this often (and when the dashboard asks). */
const PRUNE_MS = 60_000;

export interface HeartbeatDeps {
  publishing: Publishing;
  retention: Retention;
  maps: StreamMapsCache;
  /** Edges: the edges their players may be steered to. */
  steeringEdges: () => Promise<SteeringEdge[]>;
  metrics: ControllerMetrics;
  now: () => number;
}

export class Heartbeats {
  /** The dashboard's plots: the last half hour of what heartbeats carried. */
  private readonly history = new History();
  private prunedAt = 0;
  /** Each node's row as this controller last wrote it (the next heartbeat's starting point; checked by the store). */
  private readonly written = new Map<string, NodeRow>();
  private readonly writes: HeartbeatWrites;
  /** Capacities by role from the stored launch configs, read again when they change (through any controller). */
  private targets: { version: number; value: ReturnType<typeof targetsByRole> } | undefined;

  constructor(private readonly store: StateStore, private readonly log: Logger, private readonly d: HeartbeatDeps) {
    this.writes = new HeartbeatWrites(store);
  }

  /** A node's capacity is its role's in the stored launch configs; without one, what it had (1 at first). */
  private async capacityFor(role: Role, known: number | undefined): Promise<number> {
    const version = this.store.launchConfigsVersion;
    if (this.targets?.version !== version) this.targets = { version, value: targetsByRole(await this.store.launchConfigs()) };
    return this.targets.value.get(role)?.connectionCapacity ?? (known !== undefined && known > 0 ? known : 1);
  }

  /** A heartbeat of node `id` (the path's), from `remoteAddress`: the node's row written, its reply. */
  async accept(id: string, raw: unknown, remoteAddress: string | undefined): Promise<HeartbeatReply> {
    const body = parseHeartbeat(raw);
    if (!isName(id) || body.nodeId !== id) {
      throw new DvrError('DVR_ERR_BAD_REQUEST', `heartbeat: $.nodeId must be the node id in the path ('${id}')`);
    }
    const role = body.role ?? 'transcoder';
    if (!isRole(role)) throw new DvrError('DVR_ERR_BAD_REQUEST', `heartbeat: $.role: unknown role '${String(role)}'`);
    const now = this.d.now();
    const metrics: NodeMetrics = { system: body.system, streams: body.streams, storage: body.storage,
      ...(Array.isArray(body.failedJobs) && body.failedJobs.length > 0 ? { failedJobs: body.failedJobs.slice(0, 100) } : {}),
      ...(typeof body.connections === 'number' && body.connections >= 0 ? { connections: Math.floor(body.connections) } : {}),
      ...(body.nginx === 'up' || body.nginx === 'down' ? { nginx: body.nginx } : {}),
      ...(body.liveView ? { liveViewPort: body.liveView.port } : {}) };
    // The row as this controller last wrote it, else as the store has it; written only if its state
    // is still that one (an admin's drain or the leader's failover, through any controller, wins).
    let known = this.written.get(id) ?? await this.store.node(id);
    for (let attempt = 1; ; attempt++) {
      const state = nextState(known?.state, 'heartbeat') ?? 'inservice';
      const address = body.address ?? known?.address ?? (remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
      const row: NodeRow = { id, role, state, address,
        capacity: await this.capacityFor(role, known?.capacity), lastHeartbeat: now, metrics,
        since: known?.state === state && known.since > 0 ? known.since : now };
      if (await this.writes.write(row, known?.state)) {
        this.written.set(id, row);
        if (!known || known.state !== state) this.log.info({ node: id, role, state }, 'node in service');
        break;
      }
      if (attempt === 3) throw new DvrError('DVR_ERR_CONFLICT', `heartbeat of ${id}: its row keeps changing; try again`);
      known = await this.store.node(id);
    }
    this.d.metrics.heartbeats.inc();
    if (role === 'transcoder') await this.d.retention.noteReport(id, body);
    this.history.record(id, body, now);
    if (now - this.prunedAt > PRUNE_MS) await this.prune();
    return role === 'transcoder' ? { jobs: await this.d.publishing.jobsFor(id), ...await this.d.retention.deletionsFor(id) }
      : role === 'origin' ? {}
        : role === 'edge' ? { streamMaps: await this.d.maps.forEdges(), steering: { edges: await this.d.steeringEdges() } }
        : { streamMaps: await this.d.maps.get() };
  }

  /** The plots' figures, without what is gone. */
  async historySnapshot(): Promise<ReturnType<History['snapshot']>> {
    await this.prune();
    return this.history.snapshot();
  }

  /** Forgets the figures of nodes and streams that are gone. */
  private async prune(): Promise<void> {
    this.prunedAt = this.d.now();
    const nodes = (await this.store.nodes()).filter((n) => n.state !== 'gone');
    // The API's streams, and those transcoders report (run from their own config: the appliance's demo).
    const reported = nodes.flatMap((n) => n.metrics?.streams ?? []);
    const streams = new Set([...await this.store.streams(), ...reported].map((s) => `${s.app}/${s.stream}`));
    this.history.keepOnly(new Set(nodes.map((n) => n.id)), streams);
    const present = new Set(nodes.map((n) => n.id));
    for (const id of this.written.keys()) if (!present.has(id)) this.written.delete(id);
    this.d.retention.keepOnly(streams);
  }
}
