// The lab's cluster, as data: its hosts, their roles and addresses, and the inventory a sysadmin
// would write for them (dvr-provision provisions the lab from exactly that). Pure.
import type { HostRole } from '../provisioning/inventory.js';
import type { HostSpec } from './hosts.js';
import { DvrError } from '../common/errors.js';

/** Hosts are named as the controller lists the nodes their agents run. */
export const LAB_HOSTS: ReadonlyArray<{ name: string; roles: HostRole[] }> = [
  { name: 'storage', roles: ['storage'] },
  { name: 'ot-1', roles: ['origin', 'transcoder'] },
  { name: 'ot-2', roles: ['origin', 'transcoder'] },
  { name: 'tc-1', roles: ['transcoder'] },
  { name: 'edge-1', roles: ['edge'] },
  { name: 'edge-2', roles: ['edge'] },
  { name: 'relay-1', roles: ['relay'] },
];

/**
 * The controllers' hosts (not provisioned: `dvr lab` runs dvr-controller on each, over one
 * PostgreSQL beside the storage); the first is the one the API line names. And the publisher's.
 */
export const CONTROLLER_HOSTS = ['controller', 'controller-2'] as const;
export const CONTROLLER_HOST = CONTROLLER_HOSTS[0];
export const PUBLISHER_HOST = 'publisher';
/** The controllers' PostgreSQL runs on the storage host. */
export const DATABASE_HOST = 'storage';

/**
 * The name publishers use for every origin. In the lab it resolves, in the publisher's host, to both
 * origins (as a DNS name with one address per origin would); a publisher that loses its origin
 * reconnects to it and lands on the other.
 */
export const PUBLISH_HOST = 'publish.lab';

export const LAB_PORTS = { http: 8080, rtmp: 1935, api: 8000, postgres: 5432 } as const;

export interface LabLayout {
  /** <lab dir> holds every host's files (hosts/<name>), the storage export and the controller's data. */
  dir: string;
  /** The machine's address on the lab's bridge, and each host's. */
  gateway: string;
  addresses: Readonly<Record<string, string>>;
  /** sshfs stand-in where the kernel has no NFS client. */
  transport: 'nfs' | 'sshfs';
  clientKey: string;
  controllerData: string;
}

export function labPaths(dir: string): { export: string; storageRoot: string; inventory: string; knownHosts: string;
  controllerData: string; postgres: string } {
  return { export: `${dir}/export`, storageRoot: `${dir}/storage`, inventory: `${dir}/inventory.json`, knownHosts: `${dir}/known_hosts`,
    controllerData: controllerDataOf(dir, CONTROLLER_HOST), postgres: `${dir}/postgres` };
}

/** A controller's data directory (DVR_DATA_DIR) in the lab: <lab dir>/<its host>. */
export const controllerDataOf = (dir: string, name: string): string => `${dir}/${name}`;

/** The hosts to make: every cluster host with an sshd, the controller, and the publisher (who resolves PUBLISH_HOST). */
export function hostSpecs(): HostSpec[] {
  return [...CONTROLLER_HOSTS.map((name) => ({ name, sshd: false })), ...LAB_HOSTS.map((h) => ({ name: h.name, sshd: true })),
    { name: PUBLISHER_HOST, sshd: false }];
}

/** The publisher host's /etc/hosts lines: PUBLISH_HOST is every origin. */
export function publisherEtcHosts(addresses: Readonly<Record<string, string>>): string[] {
  return LAB_HOSTS.filter((h) => h.roles.includes('origin')).map((h) => `${addresses[h.name] ?? ''} ${PUBLISH_HOST}`);
}

const at = (l: LabLayout, name: string): string => {
  const a = l.addresses[name];
  if (a === undefined) throw new DvrError('DVR_ERR_INTERNAL', `lab layout: no address for ${name}`);
  return a;
};

/** The inventory a sysadmin would write for the lab's hosts (provisioning/inventory.schema.json). */
export function labInventory(l: LabLayout): { inventory: Record<string, unknown> } {
  const p = labPaths(l.dir);
  const of = (role: HostRole): string[] => LAB_HOSTS.filter((h) => h.roles.includes(role)).map((h) => `${at(l, h.name)}/32`);
  return { inventory: {
    ssh: { user: 'root', privateKey: l.clientKey, timeoutSeconds: 15 },
    networks: {
      writers: of('transcoder'),
      readers: [...of('edge'), ...of('relay')],
      // The publisher's host and this machine (a user publishing from here).
      publishers: [`${at(l, PUBLISHER_HOST)}/32`, `${l.gateway}/32`],
    },
    storage: { server: 'storage', backend: 'ganesha', export: p.export, root: p.storageRoot, mount: true, transport: l.transport,
      ...(l.transport === 'sshfs' ? { sshfs: { identityFile: l.clientKey } } : {}) },
    controller: { url: `http://${at(l, CONTROLLER_HOST)}:${LAB_PORTS.api}`,
      fallbackUrls: CONTROLLER_HOSTS.slice(1).map((c) => `http://${at(l, c)}:${LAB_PORTS.api}`),
      agentTokenFile: `${l.controllerData}/controller/agent-token`, signingSecretFile: `${l.controllerData}/controller/signing-secret` },
    http: { port: LAB_PORTS.http },
    rtmp: { port: LAB_PORTS.rtmp },
    hosts: LAB_HOSTS.map((h) => ({ name: h.name, address: at(l, h.name), roles: [...h.roles], prefix: `${l.dir}/hosts/${h.name}` })),
  } };
}
