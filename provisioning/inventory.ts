// The cluster inventory dvr-provision works from: validated by the JSON Schema shipped beside this
// file (editors can use it) and by the rules a schema cannot say. Errors name the JSON path.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DvrError } from '../common/errors.js';
import { readJsonFile } from '../common/json-file.js';
import { compile, validateOrThrow } from '../common/schema.js';

export const HOST_ROLES = ['storage', 'origin', 'edge', 'relay', 'transcoder'] as const;
export type HostRole = typeof HOST_ROLES[number];

export interface InventoryHost { name: string; address: string; roles: HostRole[]; sshPort?: number; prefix?: string }

export interface Inventory {
  ssh: { user: string; port: number; privateKey?: string; timeoutSeconds: number };
  uid: number;
  networks: { writers: string[]; readers?: string[]; publishers?: string[] };
  storage: { server?: string; backend: 'kernel' | 'ganesha'; export: string; root: string; mount: boolean;
    transport: 'nfs' | 'sshfs'; sshfs?: { identityFile: string; user: string } };
  controller?: { url: string; fallbackUrls?: string[]; agentTokenFile?: string; signingSecretFile?: string };
  http: { port: number };
  timeshift: { port: number; maxClipSeconds: number; maxClips: number; cacheMaxSizeMb: number };
  liveView: { port: number };
  rtmp: { port: number };
  hosts: InventoryHost[];
}

/** provisioning/ in the source tree (the schema and nfs-kit live there, not in dist/). */
export const PROVISIONING_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../provisioning');

const validate = compile<{ inventory: Inventory }>(
  JSON.parse(readFileSync(path.join(PROVISIONING_DIR, 'inventory.schema.json'), 'utf8')) as object);

function ipv4(a: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.some((p) => p > 255) ? undefined : parts.reduce((n, p) => n * 256 + p, 0);
}

/** Whether an IPv4 address lies in one of the networks; IPv6 is not checked (undefined). */
export function inNetworks(address: string, cidrs: readonly string[]): boolean | undefined {
  const ip = ipv4(address);
  if (ip === undefined) return undefined;
  return cidrs.some((c) => {
    const [net, bits] = c.split('/');
    const base = ipv4(net ?? '');
    if (base === undefined) return false;
    const size = 2 ** (32 - Number(bits));
    return Math.floor(ip / size) === Math.floor(base / size);
  });
}

/**
 * Why a network cannot go into an export or an allow list (not CIDR, a byte or prefix out of range,
 * or a catch-all: any /0, however written), or undefined when it can.
 */
export function cidrProblem(c: string): string | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,3})$/.exec(c);
  const v6 = /^[0-9A-Fa-f:]*:[0-9A-Fa-f:]*\/(\d{1,3})$/.exec(c);
  if (!v4 && !v6) return `'${c}' is not a network in CIDR form (e.g. 10.0.0.0/24)`;
  const bad = v4?.slice(1, 5).find((o) => Number(o) > 255);
  if (bad !== undefined) return `'${c}': ${bad} is not an address byte (0-255)`;
  const bits = Number(v4 ? v4[5] : v6?.[1]);
  const max = v4 ? 32 : 128;
  if (bits > max) return `'${c}': prefix length ${bits} is out of range (0-${max})`;
  if (bits === 0) return `'${c}' would open it to every address (a /0 network); name the cluster's networks`;
  return undefined;
}

export function parseInventory(input: unknown, where = 'inventory'): Readonly<Inventory> {
  // Networks first, with a message that says what is wrong (the schema would only name its pattern).
  const nets = (input as { inventory?: { networks?: Record<string, unknown> } } | null)?.inventory?.networks;
  for (const [kind, list] of Object.entries(nets && typeof nets === 'object' ? nets : {})) {
    (Array.isArray(list) ? list : []).forEach((c: unknown, i) => {
      const why = typeof c === 'string' ? cidrProblem(c) : undefined;
      if (why) throw new DvrError('DVR_ERR_CONFIG', `invalid ${where}: $.inventory.networks.${kind}[${i}]: ${why}`);
    });
  }
  const inv = validateOrThrow(validate, input, where).inventory;
  const bad = (at: string, why: string): never => { throw new DvrError('DVR_ERR_CONFIG', `invalid ${where}: $.inventory.${at}: ${why}`); };
  const names = new Map<string, number>(), addresses = new Map<string, number>();
  inv.hosts.forEach((h, i) => {
    if (names.has(h.name)) bad(`hosts[${i}].name`, `'${h.name}' is already the name of hosts[${names.get(h.name)}]`);
    if (addresses.has(h.address)) bad(`hosts[${i}].address`, `${h.address} is already the address of hosts[${addresses.get(h.address)}]`);
    names.set(h.name, i); addresses.set(h.address, i);
    const has = (r: HostRole): boolean => h.roles.includes(r);
    if ((has('transcoder') || has('origin')) && !inv.controller?.agentTokenFile) {
      bad('controller.agentTokenFile', `required: hosts[${i}] (${h.name}) is a ${has('origin') ? 'origin' : 'transcoder'} `
        + 'and talks to the controller');
    }
    const served = (['origin', 'edge', 'relay'] as const).filter(has);
    if (served.length > 1) {
      bad(`hosts[${i}].roles`, `${h.name} has ${served.join(' and ')}: a host runs one nginx (on http.port, with one config), `
        + 'so at most one of origin, edge, relay');
    }
    if (has('storage') && inv.storage.server !== h.name) {
      bad(`hosts[${i}].roles`, `${h.name} has the storage role but storage.server is `
        + `${inv.storage.server ? `'${inv.storage.server}'` : 'not set'}`);
    }
    if (has('transcoder') && inNetworks(h.address, inv.networks.writers) === false) {
      bad(`hosts[${i}].address`, `${h.address} (${h.name}, transcoder) is not in networks.writers: it could not write to the storage`);
    }
    if ((has('edge') || has('relay')) && inNetworks(h.address, [...inv.networks.writers, ...inv.networks.readers ?? []]) === false) {
      bad(`hosts[${i}].address`, `${h.address} (${h.name}) is in neither networks.readers nor networks.writers: `
        + 'it could not read the storage');
    }
  });
  if (inv.storage.server !== undefined) {
    const i = names.get(inv.storage.server);
    if (i === undefined) bad('storage.server', `no host is named '${inv.storage.server}'`);
    else if (!inv.hosts[i]?.roles.includes('storage')) bad('storage.server',
      `hosts[${i}] (${inv.storage.server}) does not have the storage role`);
  }
  if (inv.storage.transport === 'sshfs' && storageMounted(inv) && !inv.storage.sshfs) {
    bad('storage.sshfs', 'required with transport sshfs: the key the nodes log into the storage host with (identityFile)');
  }
  if (inv.hosts.some((h) => h.roles.includes('relay')) && !inv.hosts.some((h) => h.roles.includes('edge'))) {
    bad('hosts', 'a relay needs at least one edge to fetch from');
  }
  return inv;
}

export async function loadInventory(file: string): Promise<Readonly<Inventory>> {
  return parseInventory(await readJsonFile(file), `inventory ${file}`);
}

/** The storage is an NFS mount on the nodes (not a local directory). */
export function storageMounted(inv: Inventory): boolean {
  return inv.storage.server !== undefined && inv.storage.mount;
}
