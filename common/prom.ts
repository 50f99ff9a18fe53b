// The process metrics every /metrics of the project carries. Leaf module.
import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client's default process and Node.js metrics, less the three it exports as gauges named
 * *_total (active handles, requests, resources), which promtool rightly refuses: only counters end
 * in _total.
 */
export function processMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
}
