// The fault benchmark: builds the lab (dvr lab up), runs every fault of the suite through the
// `dvr lab fault` command with viewers and a bounded load on both edges, prints one table, and
// removes the lab. Usage: node dist/bench/faults.js [--only kill-agent,cut]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resultTable } from '../lab/drill.js';
import { readState } from '../lab/state.js';
import { faultSuite } from '../lab/suite.js';
import { run } from '../lab/hosts.js';
import { runBench, type Started } from './util.js';

const dvr = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'dvr.cjs');
const onlyArg = process.argv[process.argv.indexOf('--only') + 1];
const only = process.argv.includes('--only') && onlyArg ? onlyArg.split(',') : undefined;

async function lab(...args: string[]): Promise<string> {
  const r = await run(process.execPath, [dvr, 'lab', ...args], 900_000);
  if (r.code !== 0) throw new Error(`dvr lab ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

async function main(started: Started): Promise<void> {
  process.env['DVR_LAB_DIR'] ??= '/var/lib/dvr-lab-bench';
  process.env['DVR_LAB_NAME'] ??= 'dvrbench';
  process.env['DVR_LAB_SUBNET'] ??= '10.209.78.0/24';
  console.log('building the lab (dvr lab up)');
  started.add('the lab', () => lab('down'));
  await lab('up');
  const state = await readState(process.env['DVR_LAB_DIR']);
  if (!state) throw new Error('dvr lab up left no state');
  const results = await faultSuite(state, async (kind, host) => { await lab('fault', kind, ...(host ? [host] : [])); },
    { ...(only ? { only } : {}), log: (l) => console.log(l) });
  console.log(`\nfaults on the lab (${state.transport} storage; a player and ${20} req/s on both edges; `
    + 'detect: the controller marks the node failed; advances: the live playlist lists media made after the fault; '
    + 'viewer errors: the player\'s requests that failed on every pathway; errors: the load\'s failed requests, '
    + 'which follows the redundant variants as a player without steering does)\n');
  console.log(resultTable(results));
  const problems = results.flatMap((r) => r.problems.map((p) => `${r.label}: ${p}`));
  if (problems.length > 0) console.log(`\nproblems:\n${problems.join('\n')}`);
}

await runBench('bench:faults', main);
