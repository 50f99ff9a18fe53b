// `dvr nodes list | drain` and `dvr recordings list`: the cluster's nodes and the recordings kept.
import { bytes, table } from '../table.js';
import { TARGET_HELP, ago, out, type CommandGroup, type Parsed } from './common.js';
import type { ApiClient } from '../client.js';

interface NodeJson { id: string; role: string; state: string; address: string; capacity: number; lastHeartbeat: number;
  assigned?: number; metrics: { system?: { cpuLoadPercent?: number; memoryUsedBytes?: number; memoryTotalBytes?: number;
    storageFreeBytes?: number | null }; connections?: number; streams?: unknown[] } | null }

async function list(a: Parsed, api: () => Promise<ApiClient>): Promise<number> {
  const q = new URLSearchParams();
  if (typeof a.values['role'] === 'string') q.set('role', a.values['role']);
  if (typeof a.values['state'] === 'string') q.set('state', a.values['state']);
  const nodes = await (await api()).call<NodeJson[]>('GET', `/nodes${q.size > 0 ? `?${q.toString()}` : ''}`);
  out(a.values.json, nodes, () => (nodes.length === 0 ? 'no nodes' : table(
    ['NODE', 'ROLE', 'STATE', 'ADDRESS', 'LOAD', 'CPU', 'MEMORY', 'STORAGE FREE', 'HEARTBEAT'],
    nodes.map((n) => {
      const sys = n.metrics?.system;
      const load = n.role === 'transcoder' ? `${n.assigned ?? 0}/${n.capacity} streams`
        : n.metrics?.connections !== undefined ? `${n.metrics.connections} conns` : '-';
      return [n.id, n.role, n.state, n.address, load, sys?.cpuLoadPercent !== undefined ? `${Math.round(sys.cpuLoadPercent)}%` : '-',
        sys?.memoryTotalBytes ? `${bytes(sys.memoryUsedBytes)} / ${bytes(sys.memoryTotalBytes)}` : '-',
        bytes(sys?.storageFreeBytes ?? undefined), ago(n.lastHeartbeat)];
    }))));
  return 0;
}

async function drain(a: Parsed, api: () => Promise<ApiClient>): Promise<number> {
  const id = a.positionals[0] ?? '';
  const n = await (await api()).call<NodeJson>('POST', `/nodes/${encodeURIComponent(id)}/drain`);
  out(a.values.json, n, () => `${n.id}: ${n.state} (no new streams; what runs there stays)`);
  return 0;
}

export const NODES: CommandGroup = {
  help: `usage: dvr nodes list [--role transcoder|edge|origin|relay] [--state STATE]
       dvr nodes drain <id>                no new streams on it; what runs there stays

${TARGET_HELP}`,
  commands: {
    list: { positionals: [0, 0], run: list, options: { role: { type: 'string' }, state: { type: 'string' } } },
    drain: { positionals: [1, 1], run: drain },
  },
};

async function recordings(a: Parsed, api: () => Promise<ApiClient>): Promise<number> {
  const found = await (await api()).call<Array<{ app: string; stream: string; kind: string; endedAt: string | null;
    bytes: number | null; retentionHours: number; expiresAt: string | null }>>('GET', '/recordings');
  out(a.values.json, found, () => (found.length === 0 ? 'no recordings' : table(
    ['STREAM', 'KIND', 'ENDED', 'SIZE', 'RETENTION', 'DELETED AT'],
    found.map((r) => [`${r.app}/${r.stream}`, r.kind === 'event' ? 'whole event' : r.kind === 'version' ? 'archived version'
      : 'last window', r.endedAt, bytes(r.bytes),
      r.retentionHours > 0 ? `${r.retentionHours} h` : 'kept', r.expiresAt ?? '-']))));
  return 0;
}

export const RECORDINGS: CommandGroup = {
  help: `usage: dvr recordings list
Ended events whose media is on the shared storage: what each takes, when it ended, and when its
retention (retentionHours: dvr streams set <app>/<stream> --retention H) deletes it.

${TARGET_HELP}`,
  commands: { list: { positionals: [0, 0], run: recordings } },
};
