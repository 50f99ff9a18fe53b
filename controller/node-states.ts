// A node's life, as one state machine: every change of a node's state in the controller goes
// through `nextState`. Pure.
//   created (a provider made it)  -> provisioning
//   heartbeat                     -> inservice (from provisioning, registering, failed, or unknown)
//   drain (an admin or scale-in)  -> draining: no new streams; gone once its last stream ended
//   silent (missed heartbeats)    -> failed: its streams move
//   never-joined                  -> failed (provisioned, but no heartbeat in time)
//   removed (handed back)         -> gone
export const NODE_STATES = ['provisioning', 'registering', 'inservice', 'draining', 'gone', 'failed'] as const;
export type NodeState = typeof NODE_STATES[number];
export type NodeEvent = 'created' | 'heartbeat' | 'drain' | 'drained' | 'silent' | 'never-joined' | 'removed';

const TRANSITIONS: Readonly<Record<NodeState | 'unknown', Partial<Record<NodeEvent, NodeState>>>> = {
  unknown: { created: 'provisioning', heartbeat: 'inservice' },
  provisioning: { heartbeat: 'inservice', 'never-joined': 'failed', drain: 'draining', removed: 'gone' },
  registering: { heartbeat: 'inservice', silent: 'failed', drain: 'draining', removed: 'gone' },
  inservice: { heartbeat: 'inservice', silent: 'failed', drain: 'draining', removed: 'gone' },
  // A draining node keeps draining however it heartbeats; silent, it has failed like any other.
  draining: { heartbeat: 'draining', silent: 'failed', drained: 'gone', removed: 'gone' },
  failed: { heartbeat: 'inservice', drain: 'draining', removed: 'gone' },
  // A node handed back stays gone, even if its agent still says something.
  gone: { heartbeat: 'gone', removed: 'gone', created: 'provisioning' },
};

/** The state after `event`, or undefined when the event does not apply in `from`. */
export function nextState(from: NodeState | undefined, event: NodeEvent): NodeState | undefined {
  return TRANSITIONS[from ?? 'unknown'][event];
}

/** States whose node counts as running (heartbeats expected). */
export const LIVE_STATES: readonly NodeState[] = ['inservice', 'registering', 'draining'];
