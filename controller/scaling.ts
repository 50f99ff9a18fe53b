// Scaling decisions: a pure function of a role's policy, its nodes and its load. Load is the
// role's connections as a percentage of the declared connectionCapacity of its nodes in service.
// Warm-up: new nodes count for capacity only once warmed, and no further scale-out happens while
// any is warming. Cool-down: no action within coolDownSeconds of the last one. Together they
// keep the role from flapping.
import { ROLES, type ScalePolicy } from './launch-config.js';

/** POST /api/v1/scale: a role and how many nodes to add (+) or hand back (-). */
export const scaleRequestSchema = {
  $id: 'scale-request', type: 'object', additionalProperties: false, required: ['role', 'count'],
  properties: { role: { enum: [...ROLES] }, count: { type: 'integer', minimum: -100, maximum: 100, not: { const: 0 } } },
} as const;

export interface RoleState {
  /** Nodes in service (or draining) with the time each came into service, ms. */
  nodes: Array<{ id: string; since: number }>;
  /** Nodes created but not in service yet (provisioning, registering). */
  pending: number;
  capacityPerNode: number;
  connections: number;
  /** When the last scale action for this role happened, ms (0 = never). */
  lastActionAt: number;
}

export type ScaleDecision =
  | { action: 'none'; reason: string; loadPercent: number }
  | { action: 'out' | 'in'; count: number; reason: string; loadPercent: number };

export function decide(policy: ScalePolicy, s: RoleState, now: number): ScaleDecision {
  const warm = s.nodes.filter((n) => now - n.since >= policy.warmUpSeconds * 1000);
  const warming = s.nodes.length - warm.length + s.pending;
  const capacity = Math.max(1, warm.length) * s.capacityPerNode;
  const loadPercent = (s.connections / capacity) * 100;
  const total = s.nodes.length + s.pending;
  if (total < policy.min) return { action: 'out', count: policy.min - total, reason: `below min ${policy.min}`, loadPercent };
  if (total > policy.max) return { action: 'in', count: total - policy.max, reason: `above max ${policy.max}`, loadPercent };
  if (now - s.lastActionAt < policy.coolDownSeconds * 1000) return { action: 'none', reason: 'cooling down', loadPercent };
  if (loadPercent > policy.scaleOutAbovePercent) {
    if (warming > 0) return { action: 'none', reason: `${warming} node(s) warming up`, loadPercent };
    const count = Math.min(policy.increment, policy.max - total);
    if (count <= 0) return { action: 'none', reason: `at max ${policy.max}`, loadPercent };
    return { action: 'out', count, reason: `load ${loadPercent.toFixed(0)}% > ${policy.scaleOutAbovePercent}%`, loadPercent };
  }
  if (loadPercent < policy.scaleInBelowPercent && warming === 0) {
    const count = Math.min(policy.increment, total - policy.min);
    // Scale in only if the remaining nodes stay below the scale-out threshold: no flapping.
    const after = (s.connections / (Math.max(1, warm.length - count) * s.capacityPerNode)) * 100;
    if (count > 0 && after <= policy.scaleOutAbovePercent) {
      return { action: 'in', count, reason: `load ${loadPercent.toFixed(0)}% < ${policy.scaleInBelowPercent}%`, loadPercent };
    }
  }
  return { action: 'none', reason: 'load within thresholds', loadPercent };
}
