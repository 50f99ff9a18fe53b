// For sysadmins who prefer Ansible: writes an inventory (YAML; this writer emits its JSON subset)
// and the per-host files for provisioning/ansible/site.yml, which runs the same nfs-kit steps the
// SSH runner does. The steps come from the same plan, so both ways configure a host identically.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { hostId, storageKnownHosts, type KnownHosts } from './known-hosts.js';
import type { Inventory } from './inventory.js';
import { hostDirs, planHost, UPLOAD, type PlanInputs } from './plan.js';

export interface AnsibleOutput { inventoryFile: string; filesDir: string }


export async function writeAnsibleInventory(inv: Inventory, given: PlanInputs, knownHosts: KnownHosts,
  outDir: string): Promise<AnsibleOutput> {
  const inputs = { ...given, ...storageKnownHosts(inv, knownHosts, given.storageKnownHosts) };
  const filesDir = path.join(outDir, 'files');
  await fs.mkdir(filesDir, { recursive: true, mode: 0o700 });
  // Ansible's ssh verifies against exactly the keys dvr-provision pinned.
  const known = path.join(outDir, 'known_hosts');
  const lines = knownHosts.linesFor(inv.hosts.map((h) => hostId(h.address, h.sshPort ?? inv.ssh.port)));
  await fs.writeFile(known, lines.length ? `${lines.join('\n')}\n` : '', { mode: 0o600 });

  const groups: Record<string, { hosts: Record<string, object> }> = {};
  for (const h of inv.hosts) {
    // The playbook copies each host's files to its upload directory.
    const uploads = hostDirs(h).uploads;
    const steps = planHost(inv, h, inputs);
    const hostFiles = path.join(filesDir, h.name);
    await fs.mkdir(hostFiles, { recursive: true, mode: 0o700 });
    const files: { src: string; name: string; mode: string }[] = [];
    for (const u of steps.flatMap((s) => s.uploads)) {
      let src = u.localPath;
      if (src === undefined) {
        src = path.join(hostFiles, u.name);
        await fs.writeFile(src, u.content ?? '', { mode: 0o600 });
      }
      files.push({ src: path.resolve(src), name: u.name, mode: u.secret ? '0600' : '0644' });
    }
    const vars = {
      ansible_host: h.address,
      ansible_port: h.sshPort ?? inv.ssh.port,
      dvr_prefix: h.prefix ?? '',
      dvr_uploads: uploads,
      dvr_files: files,
      dvr_steps: steps.map((s) => ({ name: s.name, script: s.script,
        args: s.args.map((a) => (a.startsWith(UPLOAD) ? `${uploads}/${a.slice(UPLOAD.length)}` : a)) })),
    };
    for (const role of h.roles) (groups[role] ??= { hosts: {} }).hosts[h.name] = vars;
  }
  const doc = {
    all: {
      vars: {
        ansible_user: inv.ssh.user,
        ...(inv.ssh.privateKey ? { ansible_ssh_private_key_file: inv.ssh.privateKey } : {}),
        ansible_ssh_common_args: `-o StrictHostKeyChecking=yes -o UserKnownHostsFile=${path.resolve(known)}`,
        ansible_python_interpreter: '/usr/bin/python3',
      },
      children: groups,
    },
  };
  const inventoryFile = path.join(outDir, 'inventory.yml');
  await fs.writeFile(inventoryFile,
    `# Written by dvr-provision ansible-inventory; holds secrets' paths, keep it private.\n${JSON.stringify(doc, null, 2)}\n`,
    { mode: 0o600 });
  return { inventoryFile, filesDir };
}
