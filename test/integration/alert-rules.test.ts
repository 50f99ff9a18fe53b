// The alerting rules a sysadmin loads into Prometheus (monitoring/alerts.rules.yml): valid for
// Prometheus (promtool check rules), each alert firing on what it is about and not before its time
// (promtool test rules over monitoring/alerts.test.yml), and every metric they read one that the
// controllers or the agents export (a rule over a name nobody exports would never fire).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry, type MetricsSources } from '../../agent/metrics/prometheus.js';
import { controllerMetrics } from '../../controller/metrics.js';
import type { StateStore } from '../../controller/store.js';
import { promtool } from '../support/promtool.js';

const MONITORING = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../monitoring');

describe('alerting rules (monitoring/alerts.rules.yml)', function () {
  this.timeout(30_000);

  it('pass promtool check rules', async () => {
    const out = await promtool(['check', 'rules', path.join(MONITORING, 'alerts.rules.yml')]);
    assert.match(out, /^Checking .*\n\s+SUCCESS: \d+ rules found/, out);
  });

  it('fire on what each is about, after its time, and not on a healthy cluster (promtool test rules)', async () => {
    const out = await promtool(['test', 'rules', 'alerts.test.yml'], '', MONITORING);
    assert.match(out, /SUCCESS/, out);
    assert.doesNotMatch(out, /^exit/, out);
  });

  it('read only metrics the controllers and the agents export, and every alert is tested', async () => {
    const rules = await fs.readFile(path.join(MONITORING, 'alerts.rules.yml'), 'utf8');
    const tests = await fs.readFile(path.join(MONITORING, 'alerts.test.yml'), 'utf8');
    const exprs = [...rules.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1] ?? '');
    const read = new Set(exprs.flatMap((e) => [...e.matchAll(/\b(dvr_[a-z_]+)\b/g)].map((m) => m[1] ?? '')));
    // Only the metrics' names are read here: their values are collected from the store and the agent at scrape time.
    const agent = createRegistry({ packager: { list: () => [] }, transcoder: { figures: () => [] }, storage: undefined } as unknown as
      MetricsSources);
    const controller = controllerMetrics({} as StateStore).registry;
    const exported = new Set([...agent.getMetricsAsArray(), ...controller.getMetricsAsArray()].map((m) => m.name));
    assert.ok(read.size >= 8, `the rules read ${[...read].join(', ')}`);
    for (const name of read) assert.ok(exported.has(name), `${name}: read by a rule, exported by nobody`);
    const alerts = [...rules.matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1] ?? '');
    for (const a of alerts) assert.match(tests, new RegExp(`alertname: ${a}\\n`), `${a}: no promtool test`);
  });
});
