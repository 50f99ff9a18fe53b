#!/usr/bin/env node
// Turns fresh hosts into cluster nodes from an inventory file, over SSH.
//   dvr-provision apply --inventory cluster.json [--check] [--host NAME ...] [--accept-new-host-keys]
//   dvr-provision ansible-inventory --inventory cluster.json --out DIR
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeAnsibleInventory } from '../provisioning/ansible.js';
import { buildAgentBundle } from '../provisioning/bundle.js';
import { loadInventory, PROVISIONING_DIR, type Inventory } from '../provisioning/inventory.js';
import { KnownHosts } from '../provisioning/known-hosts.js';
import { SECRET_RE } from '../nginx/signing.js';
import { agentRole, type PlanInputs } from '../provisioning/plan.js';
import { provision } from '../provisioning/runner.js';
import { DvrError } from '../common/errors.js';

const USAGE = `usage:
  dvr-provision apply --inventory FILE [--check] [--host NAME ...] [--accept-new-host-keys]
                      [--known-hosts FILE] [--concurrency N]
  dvr-provision ansible-inventory --inventory FILE --out DIR [--known-hosts FILE]

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
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      inventory: { type: 'string' }, check: { type: 'boolean', default: false }, host: { type: 'string', multiple: true },
      'accept-new-host-keys': { type: 'boolean', default: false }, 'known-hosts': { type: 'string' },
      concurrency: { type: 'string', default: '10' }, out: { type: 'string' }, help: { type: 'boolean', default: false },
    },
  });
  const command = positionals[0];
  if (values.help || !command || !values.inventory || !['apply', 'ansible-inventory'].includes(command)) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const inv = await loadInventory(values.inventory);
  const dataDir = path.resolve(process.env['DVR_DATA_DIR'] ?? './data');
  const knownHosts = await KnownHosts.open(values['known-hosts'] ?? path.join(dataDir, 'provision', 'known_hosts'));
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'dvr-provision-'));
  try {
    const inputs = await inputsFor(inv, command === 'ansible-inventory' ? path.resolve(values.out ?? '.') : work);
    if (command === 'ansible-inventory') {
      if (!values.out) { console.error('ansible-inventory needs --out DIR'); return 2; }
      const out = await writeAnsibleInventory(inv, inputs, knownHosts, values.out);
      console.log(`inventory: ${out.inventoryFile}`);
      console.log(`run: ansible-playbook -i ${out.inventoryFile} ${path.join(PROVISIONING_DIR, 'ansible', 'site.yml')}`);
      return 0;
    }
    const concurrency = Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      console.error(`--concurrency: '${values.concurrency}' is not a positive integer`);
      return 2;
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

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  console.error(`dvr-provision: ${(e as Error).message}`);
  process.exitCode = 2;
});
