// Allocation: pure functions of the nodes and their load. Load = connections / declared capacity.
import { LIVE_STATES } from './node-states.js';
import type { NodeRow } from './store.js';

export type NodeLoad = Pick<NodeRow, 'id' | 'role' | 'state' | 'capacity'>;
export interface Candidate<N extends NodeLoad = NodeRow> { node: N; load: number }

/** The in-service node of `role` with the lowest load below 100 %, ties broken by id; undefined when all are full. */
export function leastLoaded<N extends NodeLoad>(nodes: N[], role: NodeRow['role'], connections: Map<string, number>,
  exclude: ReadonlySet<string> = new Set()): Candidate<N> | undefined {
  let best: Candidate<N> | undefined;
  for (const node of nodes) {
    if (node.role !== role || node.state !== 'inservice' || exclude.has(node.id) || node.capacity <= 0) continue;
    const load = (connections.get(node.id) ?? 0) / node.capacity;
    if (load >= 1) continue;
    if (!best || load < best.load || (load === best.load && node.id < best.node.id)) best = { node, load };
  }
  return best;
}

/**
 * The transcoder a published stream goes to: the one it has (a publisher that reconnects continues
 * with the same writer) unless that one is out of service or has gone quiet, else one on the machine
 * of the origin that took the publisher (no media crosses the network, and a copy-mode TS stream is
 * packaged from the origin's fragments), else the least loaded. Undefined: none has room.
 */
export function transcoderFor<N extends NodeLoad & Pick<NodeRow, 'address'>>(o: {
  current: (NodeLoad & Pick<NodeRow, 'lastHeartbeat'>) | undefined; loads: N[]; used: Map<string, number>;
  origin: Pick<NodeRow, 'id' | 'address'> | undefined; now: number; quietAfterMs: number;
}): string | undefined {
  if (o.current?.state === 'inservice' && o.now - o.current.lastHeartbeat < o.quietAfterMs) return o.current.id;
  const local = o.origin ? o.loads.filter((l) => l.id === o.origin?.id || l.address === o.origin?.address) : [];
  return (leastLoaded(local, 'transcoder', o.used) ?? leastLoaded(o.loads, 'transcoder', o.used))?.node.id;
}

/**
 * Nodes silent for longer than `deadAfterMs`: to be marked failed. Silence is counted from `since`
 * at the earliest (the controller's start: a controller that was down heard nobody, which proves
 * nothing about the nodes).
 */
export function deadNodes(nodes: NodeRow[], now: number, deadAfterMs: number, since = 0): NodeRow[] {
  return nodes.filter((n) => LIVE_STATES.includes(n.state) && now - Math.max(n.lastHeartbeat, since) > deadAfterMs);
}

/**
 * Nodes created by a provider that never sent a heartbeat within `timeoutMs`: to be marked failed.
 * As in deadNodes, the wait is counted from `since` at the earliest (the controller's start).
 */
export function stuckProvisioning(nodes: NodeRow[], now: number, timeoutMs: number, since = 0): NodeRow[] {
  return nodes.filter((n) => n.state === 'provisioning' && now - Math.max(n.lastHeartbeat, since) > timeoutMs);
}
