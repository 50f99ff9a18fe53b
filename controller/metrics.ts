// The controller's Prometheus metrics (GET /metrics with the admin token).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { processMetrics } from '../common/prom.js';
import type { StateStore } from './store.js';

export interface ControllerMetrics { registry: Registry; heartbeats: Counter; allocation: Histogram; publishRefused: Counter;
  /** 1 while this controller holds the leader lease. */
  leader: Gauge }

export function controllerMetrics(store: StateStore): ControllerMetrics {
  const registry = new Registry();
  processMetrics(registry);
  new Gauge({ name: 'dvr_controller_nodes', help: 'Nodes by role and state', labelNames: ['role', 'state'], registers: [registry],
    async collect() {
      const counts = new Map<string, number>();
      const nodes = await store.nodes();
      this.reset();
      for (const n of nodes) counts.set(`${n.role}|${n.state}`, (counts.get(`${n.role}|${n.state}`) ?? 0) + 1);
      for (const [k, v] of counts) { const [role, state] = k.split('|'); this.set({ role, state }, v); }
    } });
  new Gauge({ name: 'dvr_controller_streams', help: 'Streams by status', labelNames: ['status'], registers: [registry], async collect() {
    const counts = new Map<string, number>();
    const streams = await store.streams();
    this.reset();
    for (const s of streams) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
    for (const [status, v] of counts) this.set({ status }, v);
  } });
  return {
    registry,
    heartbeats: new Counter({ name: 'dvr_controller_heartbeats_total', help: 'Heartbeats received', registers: [registry] }),
    allocation: new Histogram({ name: 'dvr_controller_allocation_seconds', help: 'Time to allocate a transcoder for a publish',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1], registers: [registry] }),
    publishRefused: new Counter({ name: 'dvr_controller_publish_refused_total', help: 'Publishes refused (unknown stream or key)',
      registers: [registry] }),
    leader: new Gauge({ name: 'dvr_controller_leader', help: 'Whether this controller leads (1): it runs the failover sweep and the scaler',
      registers: [registry] }),
  };
}
