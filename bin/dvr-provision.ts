#!/usr/bin/env node
// Turns fresh hosts into cluster nodes from an inventory file, over SSH.
//   dvr-provision apply --inventory cluster.json [--check] [--host NAME ...] [--accept-new-host-keys]
//   dvr-provision ansible-inventory --inventory cluster.json --out DIR
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCommandLine, runCommand, usageError } from '../common/cli.js';
import { writeAnsibleInventory } from '../provisioning/ansible.js';
import { buildAgentBundle } from '../provisioning/bundle.js';
import { loadInventory, PROVISIONING_DIR, type Inventory } from '../provisioning/inventory.js';
import { KnownHosts } from '../provisioning/known-hosts.js';
import { SECRET_RE } from '../nginx/signing.js';
import { agentRole, type PlanInputs } from '../provisioning/plan.js';
import { provision } from '../provisioning/runner.js';
import { DvrError } from '../common/errors.js';

const USAGE = `usage: dvr-provision apply --inventory FILE [--check] [--host NAME ...] [--accept-new-host-keys]
                           [--known-hosts FILE] [--concurrency N]
       dvr-provision ansible-inventory --inventory FILE --out DIR [--known-hosts FILE]
       dvr-provision --help | --version

  --check                  print what would change on each host; change nothing
  --accept-new-host-keys   trust hosts seen for the first time and pin their keys
  --known-hosts FILE       pinned host keys (default: $DVR_DATA_DIR/provision/known_hosts)
Exit status: 0 every host done, 1 a host failed, 2 bad usage or inventory.`;

async function inputsFor(inv: Inventory, workDir: string): Promise<PlanInputs> {
  const out: PlanInputs = {};
  if (inv.controller?.agentTokenFile) {
    out.agentToken = (await fs.readFile(inv.controller.agentTokenFile, 'utf8')).trim();
    if (!/^[A-Za-z0-9_-]{16,256}$/.test(out.agentToken)) throw new DvrError('DVR_ERR_CONFIG',
      `${inv.controller.agentTokenFile}: not an agent token (16+ letters, digits, _ or -)`);
  }
  if (inv.controller?.signingSecretFile) {
    out.signingSecret = (await fs.readFile(inv.controller.signingSecretFile, 'utf8')).trim();
    if (!SECRET_RE.test(out.signingSecret)) throw new DvrError('DVR_ERR_CONFIG',
      `${inv.controller.signingSecretFile}: not a signing secret (16-128 letters, digits, _ or -)`);
  }
  if (inv.controller && inv.hosts.some((h) => agentRole(h))) {
    out.agentBundle = await buildAgentBundle(path.dirname(PROVISIONING_DIR), path.join(workDir, 'dvr-agent.tgz'));
  }
  return out;
}

async function main(): Promise<number> {
  const parsed = parseCommandLine({ command: 'dvr-provision', usage: USAGE, positionals: { min: 1, max: 1 }, options: {
    inventory: { type: 'string' }, check: { type: 'boolean', default: false }, host: { type: 'string', multiple: true },
    'accept-new-host-keys': { type: 'boolean', default: false }, 'known-hosts': { type: 'string' },
    concurrency: { type: 'string', default: '10' }, out: { type: 'string' },
  } }, process.argv.slice(2));
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const command = positionals[0] ?? '';
  if (!['apply', 'ansible-inventory'].includes(command)) throw usageError(`unknown command '${command}' (apply, ansible-inventory)`);
  if (!values.inventory) throw usageError('--inventory FILE is required');
  if (command === 'ansible-inventory' && !values.out) throw usageError('ansible-inventory needs --out DIR');
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw usageError(`--concurrency: '${values.concurrency}' is not a positive integer`);
  }
  let inv: Inventory;
  try {
    inv = await loadInventory(values.inventory);
  } catch (err) {
    console.error(`dvr-provision: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  const dataDir = path.resolve(process.env['DVR_DATA_DIR'] ?? './data');
  const knownHosts = await KnownHosts.open(values['known-hosts'] ?? path.join(dataDir, 'provision', 'known_hosts'));
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'dvr-provision-'));
  try {
    const inputs = await inputsFor(inv, command === 'ansible-inventory' ? path.resolve(values.out ?? '.') : work);
    if (command === 'ansible-inventory') {
      const out = await writeAnsibleInventory(inv, inputs, knownHosts, values.out ?? '.');
      console.log(`inventory: ${out.inventoryFile}`);
      console.log(`run: ansible-playbook -i ${out.inventoryFile} ${path.join(PROVISIONING_DIR, 'ansible', 'site.yml')}`);
      return 0;
    }
    const width = Math.max(...inv.hosts.map((h) => h.name.length));
    const results = await provision({
      inventory: inv, knownHosts, acceptNewHostKeys: values['accept-new-host-keys'], check: values.check, concurrency, ...inputs,
      ...(values.host ? { only: values.host } : {}),
      onProgress: (host, line) => console.log(`${host.padEnd(width)} | ${line}`),
    });
    console.log('');
    for (const r of results) console.log(`${r.host.padEnd(width)}  ${r.address.padEnd(15)}  ${r.outcome}`);
    for (const r of results) if (r.error) console.error(`\n${r.host}: ${r.error}`);
    return results.some((r) => r.outcome === 'failed') ? 1 : 0;
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

runCommand('dvr-provision', main);
