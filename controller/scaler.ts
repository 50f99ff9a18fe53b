// Applies scale decisions: asks the provider for machines (they join by heartbeat) or drains and
// removes the least-loaded ones. Each action is recorded, which is also the cool-down clock.
import { DvrError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { targetsByRole, type Role, type Target } from './launch-config.js';
import type { Provider } from './providers.js';
import { nextState } from './node-states.js';
import { decide } from './scaling.js';
import type { NodeRow, StateStore } from './store.js';

export class Scaler {
  private busy = false;

  constructor(private readonly store: StateStore, private readonly provider: Provider | undefined, private readonly log: Logger,
    private readonly now: () => number = Date.now) {}

  private async targets(): Promise<Target[]> {
    return [...targetsByRole(await this.store.launchConfigs()).values()];
  }

  private async connections(role: Role, nodes: NodeRow[]): Promise<number> {
    if (role === 'transcoder') {
      const counts = await this.store.assignedCounts();
      return nodes.reduce((a, n) => a + (counts.get(n.id) ?? 0), 0);
    }
    return nodes.reduce((a, n) => a + (n.metrics?.connections ?? 0), 0);
  }

  /**
   * One pass over every role with a scale policy, while `leads` (the leader lease, checked again
   * before each action: a controller that lost it meanwhile does nothing). Never runs twice at once.
   */
  async tick(leads: () => Promise<boolean> = () => Promise.resolve(true)): Promise<void> {
    if (this.busy || !this.provider) return;
    this.busy = true;
    try {
      if (!await leads()) return;
      await this.removeDrained(leads);
      for (const t of await this.targets()) {
        if (!t.scalePolicy) continue;
        const all = await this.store.nodes({ role: t.role });
        const serving = all.filter((n) => n.state === 'inservice');
        const pending = all.filter((n) => n.state === 'provisioning' || n.state === 'registering').length;
        const d = decide(t.scalePolicy, { nodes: serving.map((n) => ({ id: n.id, since: n.since })), pending,
          capacityPerNode: t.connectionCapacity, connections: await this.connections(t.role, serving),
          lastActionAt: await this.store.lastScaleAt(t.role) }, this.now());
        if (d.action !== 'none' && await leads()) await this.scale(t.role, d.action === 'out' ? d.count : -d.count, d.reason);
      }
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'scaling pass failed');
    } finally {
      this.busy = false;
    }
  }

  /** Draining nodes whose last stream has ended are handed back to the provider. */
  private async removeDrained(leads: () => Promise<boolean>): Promise<void> {
    if (!this.provider) return;
    const counts = await this.store.assignedCounts();
    for (const n of await this.store.nodes({ state: 'draining' })) {
      if ((counts.get(n.id) ?? 0) > 0 || !await leads()) continue;
      await this.provider.destroy(n.id);
      await this.store.setNodeState(n.id, nextState(n.state, 'drained') ?? 'gone');
      this.log.info({ node: n.id }, 'drained node removed');
    }
  }

  /** +N creates N nodes of the role, -N drains and removes N (least loaded first). */
  async scale(role: Role, delta: number, reason: string): Promise<string[]> {
    if (!this.provider) throw new DvrError('DVR_ERR_CONFLICT',
      'no provider is configured (DVR_INVENTORY for a static pool, or DVR_PROVIDER_CREATE / DVR_PROVIDER_DESTROY)');
    const target = (await this.targets()).find((t) => t.role === role);
    if (!target) throw new DvrError('DVR_ERR_BAD_REQUEST', `no launch config declares the role '${role}'`);
    const touched: string[] = [];
    if (delta > 0) {
      for (let i = 0; i < delta; i++) {
        const taken = new Set((await this.store.nodes()).filter((n) => n.state !== 'gone').map((n) => n.id));
        const made = await this.provider.create(role, target, taken);
        const state = nextState((await this.store.node(made.id))?.state, 'created') ?? 'provisioning';
        await this.store.upsertNode({ id: made.id, role, state, address: made.address, capacity: target.connectionCapacity,
          lastHeartbeat: this.now(), metrics: null, since: 0 });
        touched.push(made.id);
      }
    } else {
      const counts = await this.store.assignedCounts();
      const victims = (await this.store.nodes({ role })).filter((n) => n.state === 'inservice' || n.state === 'provisioning')
        .sort((a, b) => (counts.get(a.id) ?? 0) - (counts.get(b.id) ?? 0) || a.id.localeCompare(b.id)).slice(0, -delta);
      for (const n of victims) {
        if ((counts.get(n.id) ?? 0) > 0) {
          await this.store.setNodeState(n.id, nextState(n.state, 'drain') ?? n.state); // streams finish first; removed by a later pass
        } else {
          await this.provider.destroy(n.id);
          await this.store.setNodeState(n.id, nextState(n.state, 'removed') ?? 'gone');
        }
        touched.push(n.id);
      }
    }
    if (touched.length > 0) {
      await this.store.addScaleEvent({ role, at: this.now(), action: delta > 0 ? 'out' : 'in', count: touched.length, reason,
        nodes: touched });
      this.log.info({ role, delta, nodes: touched, reason }, 'scaled');
    }
    return touched;
  }
}
