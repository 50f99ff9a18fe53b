// What provisioning does to each host of an inventory: an ordered list of nfs-kit steps, each a
// script with its arguments and the files it needs uploaded. Pure: the runner carries it out over
// SSH, the Ansible inventory writer describes the same thing to Ansible.
import { urlHost } from '../common/address.js';
import { EDGE_DEFAULTS, RTMP_MODULE_PATH, type NginxModel, type OriginSegmenter } from '../nginx/model.js';
import { bundledPlayerFiles } from '../nginx/player.js';
import { renderConfig, renderSecretInclude } from '../nginx/render.js';
import { storageMounted, type Inventory, type InventoryHost } from './inventory.js';
import { DvrError } from '../common/errors.js';

export interface Upload {
  /** File name in the host's upload directory. */
  name: string;
  /** Inline content, or a local file to copy. */
  content?: string;
  localPath?: string;
  /** Holds a secret: uploaded 0600 and removed after the run. */
  secret?: boolean;
}

export interface Step {
  name: string;
  script: 'nfs-server.sh' | 'nfs-client.sh' | 'nginx.sh' | 'agent.sh';
  /** Arguments; '@upload/<name>' stands for the uploaded file's path on the host. */
  args: string[];
  uploads: Upload[];
}

export interface PlanInputs {
  /** The controller's agent token (transcoders heartbeat with it, origins' hooks send it). */
  agentToken?: string;
  /** The agent bundle (see bundle.ts); needed when a host is a transcoder. */
  agentBundle?: string;
  /** The controller's playback signing secret: edges and relays check signed URLs with it. */
  signingSecret?: string;
  /** known_hosts lines pinning the storage host's key, for nodes that mount it with sshfs. */
  storageKnownHosts?: string;
}

export const UPLOAD = '@upload/';

/** A host's directories: its data (nginx runtime, spool, state) and, for Ansible, its upload directory. */
export function hostDirs(h: InventoryHost): { uploads: string; data: string } {
  const prefix = h.prefix ?? '';
  return { uploads: `${prefix}/var/lib/dvr-provision`, data: `${prefix}/var/lib/dvr` };
}

/** A host's nginx files: its main config, the secret's include, and the stream maps its agent keeps. */
export function nginxFiles(h: InventoryHost): { config: string; secret: string; streams: string; storageDown: string } {
  const prefix = h.prefix ?? '';
  return { config: `${prefix}/etc/dvr/nginx/nginx.conf`, secret: `${prefix}/etc/dvr/nginx/signing.conf`,
    streams: `${hostDirs(h).data}/nginx/streams.conf`, storageDown: `${hostDirs(h).data}/nginx/storage-down` };
}

/** An edge that reads a mounted storage and runs an agent falls back to the transcoders' live view while the mount stalls. */
function fallsBack(inv: Inventory, h: InventoryHost, inputs: PlanInputs): boolean {
  return h.roles.includes('edge') && !h.roles.includes('transcoder') && storageOn(inv, h).mounted && runsAgent(inv, h, inputs);
}

/** Where a host sees the storage: the export itself on the storage server, the mountpoint elsewhere. */
function storageOn(inv: Inventory, h: InventoryHost): { root: string; mounted: boolean } {
  return h.roles.includes('storage') ? { root: inv.storage.export, mounted: false }
    : { root: inv.storage.root, mounted: storageMounted(inv) };
}

function prefixArgs(h: InventoryHost): string[] {
  return h.prefix ? ['--prefix', h.prefix] : [];
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new DvrError('DVR_ERR_CONFIG', `provisioning plan: ${what} is missing`);
  return value;
}

/**
 * A node that is origin and transcoder at once segments copy-mode streams in its origin (nginx-rtmp's
 * HLS writer, workers as the agent's account) and its agent takes the fragments: no puller per stream.
 */
function originSegments(inv: Inventory, h: InventoryHost): { segmenter: OriginSegmenter; sources: string[] } | undefined {
  if (!h.roles.includes('origin') || !h.roles.includes('transcoder')) return undefined;
  return { segmenter: { dir: `${hostDirs(h).data}/origin-fragments`, fragmentSeconds: 2, playlistSeconds: 60 },
    sources: [...new Set([`rtmp://${urlHost(h.address)}:${inv.rtmp.port}`, `rtmp://127.0.0.1:${inv.rtmp.port}`])] };
}

export function nginxModel(inv: Inventory, h: InventoryHost, role: 'edge' | 'relay' | 'origin', inputs: PlanInputs = {}): NginxModel {
  // The node's own agent reads the status pages from the node's address.
  const common = { prefix: `${hostDirs(h).data}/nginx`, workerProcesses: 'auto' as const, workerConnections: 4096,
    statusAllow: ['127.0.0.1', h.address, ...inv.networks.writers] };
  const listen = [{ host: h.address, port: inv.http.port }];
  // Edges and relays with an agent take their stream maps from it, and check tokens with the
  // controller's secret when the inventory names it (without it, a signed stream is refused).
  const files = nginxFiles(h);
  const maps = runsAgent(inv, h, inputs) ? { streamsInclude: files.streams,
    ...(inputs.signingSecret !== undefined ? { signing: { secret: { file: files.secret }, streams: [] } } : {}) } : {};
  switch (role) {
    case 'edge':
      return { ...EDGE_DEFAULTS, ...common, ...maps, role, listen, storageRoot: storageOn(inv, h).root,
        networkStorage: storageOn(inv, h).mounted,
        // The node's agent serves the time-shift URLs; its bundle holds the player page.
        ...(runsAgent(inv, h, inputs) ? { timeshift: { port: inv.timeshift.port, cacheMaxSizeMb: inv.timeshift.cacheMaxSizeMb },
          player: bundledPlayerFiles(`${h.prefix ?? ''}/opt/dvr/current`) } : {}),
        // A read that waits on a stalled mount holds its worker (and that worker's connections) until
        // the mount gives up: with more workers than cores, the others go on serving meanwhile.
        ...(fallsBack(inv, h, inputs) ? { liveFallback: { flagFile: files.storageDown, cacheMaxSizeMb: 1024 }, workerProcesses: 8 } : {}) };
    case 'relay':
      return { ...common, ...maps, role, listen, cacheMaxSizeMb: 10_240, cacheInactiveMinutes: 120, playlistMaxAgeSeconds: 1,
        segmentMaxAgeSeconds: 31_536_000,
        upstreams: inv.hosts.filter((e) => e.roles.includes('edge')).map((e) => ({ host: e.address, port: inv.http.port })) };
    case 'origin': {
      const segmenter = originSegments(inv, h)?.segmenter;
      // nginx-rtmp keeps each stream in the worker its publisher reached: with more than one worker a
      // transcoder pulling the stream lands on another worker half the time ("stream not found").
      return { ...common, workerProcesses: 1, role, rtmpListen: { host: h.address, port: inv.rtmp.port },
        statusListen: { host: h.address, port: inv.http.port }, apps: ['live'],
        controllerUrl: need(inv.controller, 'controller').url.replace(/\/+$/, ''), hookToken: need(inputs.agentToken, 'the agent token'),
        ...(inv.controller?.fallbackUrls?.length ? { controllerFallbackUrls: inv.controller.fallbackUrls } : {}),
        publishAllow: inv.networks.publishers ?? ['all'], playAllow: inv.networks.writers,
        rtmpModulePath: RTMP_MODULE_PATH, nodeId: h.name, ...(segmenter ? { segmenter, workerUser: 'dvr' } : {}) };
    }
  }
}

/** Every node but a bare storage server runs the agent when there is a controller to report to. */
export function runsAgent(inv: Inventory, h: InventoryHost, inputs: PlanInputs): boolean {
  return agentRole(h) !== undefined && inv.controller !== undefined && (h.roles.includes('transcoder') || inputs.agentToken !== undefined);
}

/** The role a host's agent runs: one per host; a transcoder's work wins over reporting. */
export function agentRole(h: InventoryHost): 'transcoder' | 'origin' | 'edge' | 'relay' | undefined {
  return (['transcoder', 'origin', 'edge', 'relay'] as const).find((r) => h.roles.includes(r));
}

export function agentConfig(inv: Inventory, h: InventoryHost, agentToken: string): object {
  const data = hostDirs(h).data;
  const role = agentRole(h);
  const fragments = role === 'transcoder' ? originSegments(inv, h) : undefined;
  return {
    nodeId: h.name, role, storageRoot: storageOn(inv, h).root, spoolRoot: `${data}/spool`, stateDir: `${data}/state`,
    controller: { url: need(inv.controller, 'controller').url.replace(/\/+$/, ''), agentToken,
      ...(inv.controller?.fallbackUrls?.length ? { fallbackUrls: inv.controller.fallbackUrls } : {}) },
    storage: { mount: storageOn(inv, h).mounted || h.roles.includes('storage') },
    ...(fragments ? { originSegments: { dir: fragments.segmenter.dir, fragmentSeconds: fragments.segmenter.fragmentSeconds,
      sources: fragments.sources } } : {}),
    ...(role === 'transcoder' ? { liveView: { host: h.address, port: inv.liveView.port } } : {}),
    ...(role === 'edge' && fallsBack(inv, h, { agentToken }) ? { liveFallback: { flagFile: nginxFiles(h).storageDown } } : {}),
    ...(role === 'transcoder' ? {} : { nginxStatusUrl: `http://${urlHost(h.address)}:${inv.http.port}` }),
    ...(role === 'edge' || role === 'relay' ? { nginx: { config: nginxFiles(h).config, streamsInclude: nginxFiles(h).streams } } : {}),
    // Whatever else it runs, the agent of an edge host serves its time-shift URLs.
    ...(h.roles.includes('edge') ? { timeshift: { port: inv.timeshift.port, maxClipSeconds: inv.timeshift.maxClipSeconds,
      maxClips: inv.timeshift.maxClips } } : {}),
  };
}

export function planHost(inv: Inventory, h: InventoryHost, inputs: PlanInputs): Step[] {
  const steps: Step[] = [];
  const uid = ['--uid', String(inv.uid)];
  const has = (r: string): boolean => (h.roles as string[]).includes(r);
  if (has('storage')) {
    steps.push({ name: 'nfs-server', script: 'nfs-server.sh', uploads: [], args: [
      '--backend', inv.storage.backend, '--export', inv.storage.export, '--bind', h.address, ...uid,
      ...inv.networks.writers.flatMap((c) => ['--rw', c]), ...(inv.networks.readers ?? []).flatMap((c) => ['--ro', c]), ...prefixArgs(h),
      ...(storageMounted(inv) && inv.storage.transport === 'sshfs' ? ['--sftp'] : [])] });
  }
  const mount = (profile: 'writer' | 'reader'): void => {
    if (!storageMounted(inv) || has('storage')) return;
    const server = inv.hosts.find((s) => s.name === inv.storage.server);
    const sshfs = inv.storage.transport === 'sshfs' ? need(inv.storage.sshfs, 'storage.sshfs') : undefined;
    steps.push({ name: `${sshfs ? 'sshfs' : 'nfs'}-client (${profile})`, script: 'nfs-client.sh', args: [
      '--server', need(server, 'the storage server').address, '--export', inv.storage.export, '--mountpoint', inv.storage.root,
      '--profile', profile, ...uid, ...prefixArgs(h),
      ...(sshfs ? ['--transport', 'sshfs', '--user', sshfs.user, '--port', String(server?.sshPort ?? inv.ssh.port),
        '--identity', `${UPLOAD}storage-key`, '--known-hosts', `${UPLOAD}storage-known-hosts`] : [])],
    uploads: sshfs ? [{ name: 'storage-key', localPath: sshfs.identityFile, secret: true },
      { name: 'storage-known-hosts',
        content: need(inputs.storageKnownHosts, 'the storage host\'s pinned key (provision it first)') }] : [] });
  };
  if (has('transcoder')) mount('writer');
  else if (has('edge')) mount('reader');
  for (const role of ['origin', 'edge', 'relay'] as const) {
    if (!has(role)) continue;
    const name = `nginx-${role}.conf`;
    const secret = role !== 'origin' && inputs.signingSecret !== undefined && runsAgent(inv, h, inputs)
      ? [{ name: 'signing.conf', content: renderSecretInclude(inputs.signingSecret), secret: true }] : [];
    steps.push({ name: `nginx (${role})`, script: 'nginx.sh', args: ['--role', role, '--config', UPLOAD + name, ...uid, ...prefixArgs(h),
      ...(secret.length ? ['--secret-include', `${UPLOAD}signing.conf`] : [])],
    uploads: [{ name, content: renderConfig(nginxModel(inv, h, role, inputs)), secret: role === 'origin' }, ...secret] });
  }
  if (runsAgent(inv, h, inputs)) {
    const token = need(inputs.agentToken, 'the agent token');
    steps.push({ name: 'agent', script: 'agent.sh',
      args: ['--bundle', `${UPLOAD}dvr-agent.tgz`, '--config', `${UPLOAD}agent.json`, ...uid, ...prefixArgs(h)],
      uploads: [{ name: 'dvr-agent.tgz', localPath: need(inputs.agentBundle, 'the agent bundle') },
        { name: 'agent.json', content: `${JSON.stringify(agentConfig(inv, h, token), null, 2)}\n`, secret: true }] });
  }
  return steps;
}

/** The step that takes a node out of the cluster: its agent stops. */
export function planStopAgent(h: InventoryHost): Step[] {
  return [{ name: 'agent (stop)', script: 'agent.sh', args: ['--stop', ...prefixArgs(h)], uploads: [] }];
}
