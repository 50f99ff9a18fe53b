// `dvr streams|nodes|launch-config|scale`: the controller's API without hand-written curl. Tables
// for a person, the API's JSON with --json; `launch-config validate` works offline.
import { ApiClient, resolveTarget } from '../cli/client.js';
import { bps, bytesSI, parseBitrate, parseDuration, size } from '../cli/size.js';
import { bytes, duration, table } from '../cli/table.js';
import { parseCommandLine, usageError } from '../common/cli.js';
import { readJsonFile } from '../common/json-file.js';
import { isDvrError } from '../common/errors.js';
import { NAME_PATTERN, type RenditionSpec } from '../common/stream-settings.js';
import { parseLaunchConfig } from '../controller/launch-config.js';

const TARGET_HELP = `connection (every command but 'launch-config validate'):
  --api URL          the controller's API (default: DVR_API_URL, else the URL the controller wrote
                     into DVR_DATA_DIR/controller/api-url, else http://127.0.0.1:$DVR_API_PORT)
  --token-file FILE  the admin token (default: DVR_ADMIN_TOKEN, else DVR_DATA_DIR/controller/admin-token)
  --json             print the API's JSON instead of a table
  A controller with a self-signed certificate: NODE_EXTRA_CA_CERTS=<its certificate>.`;

export const API_HELP = {
  streams: `usage: dvr streams list
       dvr streams create <app>/<stream> [--window S] [--format ts|fmp4] [--mode copy|transcode]
                          [--ladder NAME:HEIGHT:VIDEO_KBPS:AUDIO_KBPS,...] [--segment S] [--record]
                          [--archive append|version|delete] [--storage-cap BYTES] [--retention H] [--signed]
                          [--playlist-cap S] [--no-dash] [--no-delta]
       dvr streams set <app>/<stream> [--window S] [--record | --no-record] [--archive ...]
                          [--storage-cap BYTES] [--retention H] [--playlist-cap S] [--signed | --no-signed]
                                           change its DVR settings; a live stream takes them at once
       dvr streams defaults                the cluster's defaults for new streams
       dvr streams url <app>/<stream>      its publish URL (with the stream key) and a playback URL
       dvr streams rm <app>/<stream>

create: --window is the DVR window in seconds (0 = the whole event; default 3600), --record keeps
the whole event as VOD when it ends, --signed makes playback need the URLs the API signs.

${TARGET_HELP}`,
  nodes: `usage: dvr nodes list [--role transcoder|edge|origin|relay] [--state STATE]
       dvr nodes drain <id>                no new streams on it; what runs there stays

${TARGET_HELP}`,
  'launch-config': `usage: dvr launch-config validate <file>   check it offline: each error with its JSON path
       dvr launch-config apply <file>      add it, or replace the one of the same name
       dvr launch-config list
       dvr launch-config rm <name>

${TARGET_HELP}`,
  recordings: `usage: dvr recordings list
Ended events whose media is on the shared storage: what each takes, when it ended, and when its
retention (retentionHours: dvr streams set <app>/<stream> --retention H) deletes it.

${TARGET_HELP}`,
  scale: `usage: dvr scale <role> <+N|-N>
Adds (+N) or removes (-N) nodes of a role by hand (transcoder, edge, origin, relay); the
controller's provider creates or hands them back and the action is in GET /api/v1/scale.

${TARGET_HELP}`,
} as const;

export const SIZE_HELP = `usage: dvr size --streams N --bitrate B --window W [--renditions B,B,...] [--record H]
                [--viewers N] [--edges N] [--nfs-link B] [--json]

What a deployment needs, before provisioning it: the shared storage for the DVR windows (and the
recordings kept), the NFS server's load, and the edges' egress.
  --streams N        streams at once
  --bitrate B        a stream's bit rate (4.5M, 2500k); or --renditions, every rendition's
  --renditions B,..  a ladder: the bit rates of all its renditions (audio included)
  --window W         the DVR window (2h, 30m, 7d, seconds)
  --record H         hours of recording kept per stream beyond the window (default 0)
  --viewers N        viewers at once, across the edges (default 0)
  --edges N          edges (default 1); each reads every rendition once from the storage
  --nfs-link B       the storage server's link (default 2G: 2 Gb/s)`;

export type ApiCommand = keyof typeof API_HELP;
export const isApiCommand = (s: string | undefined): s is ApiCommand => s !== undefined && s in API_HELP;

const TARGET_OPTIONS = { api: { type: 'string' }, 'token-file': { type: 'string' }, json: { type: 'boolean' } } as const;

function streamRef(arg: string | undefined): { app: string; stream: string } {
  const m = /^([^/]+)\/([^/]+)$/.exec(arg ?? '');
  const re = new RegExp(NAME_PATTERN);
  if (!m?.[1] || !m[2] || !re.test(m[1]) || !re.test(m[2])) {
    throw usageError(`'${arg ?? ''}' is not <app>/<stream> (each 1-64 of a-z 0-9 _ -)`);
  }
  return { app: m[1], stream: m[2] };
}

function numberFlag(name: string, raw: string | undefined, integer = false): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw usageError(`--${name}: '${raw}' is not a${integer ? ' whole' : ''} number >= 0`);
  }
  return v;
}

type Flags = Record<string, string | boolean | undefined>;

/** The API's advice on a stream's settings, on stderr (stdout stays the result). */
function warn(s: { warnings?: string[] }): void {
  for (const w of s.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
}
const stringFlag = (v: Flags, k: string): string | undefined => (typeof v[k] === 'string' ? v[k] : undefined);

/** The DVR settings `streams create` and `streams set` both take: --window, --storage-cap, --retention, --playlist-cap, --archive. */
function dvrFlags(v: Flags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const numbers: Array<[flag: string, field: string, integer: boolean]> = [['window', 'windowSeconds', false],
    ['storage-cap', 'storageCapBytes', true], ['retention', 'retentionHours', false], ['playlist-cap', 'playlistCapSeconds', false]];
  for (const [flag, field, integer] of numbers) {
    const n = numberFlag(flag, stringFlag(v, flag), integer);
    if (n !== undefined) body[field] = n;
  }
  if (stringFlag(v, 'archive') !== undefined) body['archiveStrategy'] = stringFlag(v, 'archive');
  return body;
}

/** --ladder 720p:720:2500:128,audio::0:96 -> renditions (empty fields left out). */
export function parseLadder(raw: string): RenditionSpec[] {
  return raw.split(',').map((item, i) => {
    const [name = '', height, videoKbps, audioKbps, ...extra] = item.split(':');
    if (extra.length > 0 || name === '') throw usageError(`--ladder: item ${i + 1} '${item}' is not NAME:HEIGHT:VIDEO_KBPS:AUDIO_KBPS`);
    const r: RenditionSpec = { name };
    const num = (what: string, v: string | undefined): number | undefined => {
      if (v === undefined || v === '') return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw usageError(`--ladder: item ${i + 1} '${item}': ${what} '${v}' is not a whole number`);
      return n;
    };
    const h = num('height', height); const vk = num('video kb/s', videoKbps); const ak = num('audio kb/s', audioKbps);
    if (h !== undefined) r.height = h;
    if (vk !== undefined) r.videoKbps = vk;
    if (ak !== undefined) r.audioKbps = ak;
    return r;
  });
}


interface StreamJson { app: string; stream: string; status: string; format: string; mode: string; windowSeconds: number;
  recording: boolean; signedPlayback?: boolean; transcoder: string | null; ladder: RenditionSpec[]; streamKey?: string;
  warnings?: string[]; local?: boolean }
interface NodeJson { id: string; role: string; state: string; address: string; capacity: number; lastHeartbeat: number;
  assigned?: number; metrics: { system?: { cpuLoadPercent?: number; memoryUsedBytes?: number; memoryTotalBytes?: number;
    storageFreeBytes?: number | null }; connections?: number; streams?: unknown[] } | null }

const ago = (ms: number): string => (ms <= 0 ? '-' : `${Math.max(0, Math.round((Date.now() - ms) / 1000))}s ago`);

/** `dvr size ...`: offline, the exit status. */
export function sizeMain(argv: string[]): number {
  const a = parseCommandLine({ command: 'dvr size', usage: SIZE_HELP, options: {
    streams: { type: 'string' }, bitrate: { type: 'string' }, renditions: { type: 'string' }, window: { type: 'string' },
    record: { type: 'string' }, viewers: { type: 'string' },
    edges: { type: 'string' }, 'nfs-link': { type: 'string' }, json: { type: 'boolean' } } }, argv);
  if (!a) return 0;
  const v = a.values;
  const count = (name: string, raw: string | undefined, fallback?: number): number => {
    if (raw === undefined && fallback !== undefined) return fallback;
    if (raw === undefined) throw usageError(`--${name} is required`);
    if (!/^\d+$/.test(raw)) throw usageError(`--${name}: '${raw}' is not a whole number`);
    return Number(raw);
  };
  const rate = (name: string, raw: string): number => {
    const r = parseBitrate(raw);
    if (r === undefined) throw usageError(`--${name}: '${raw}' is not a bit rate (4.5M, 2500k)`);
    return r;
  };
  if ((v.bitrate === undefined) === (v.renditions === undefined)) throw usageError('give --bitrate or --renditions (one of them)');
  const renditionsBps = v.renditions !== undefined ? v.renditions.split(',').map((x) => rate('renditions', x))
    : [rate('bitrate', v.bitrate ?? '')];
  if (v.window === undefined) throw usageError('--window is required');
  const windowSeconds = parseDuration(v.window);
  if (windowSeconds === undefined) throw usageError(`--window: '${v.window}' is not a duration (2h, 30m, 7d, seconds)`);
  const recordingHours = v.record !== undefined ? Number(v.record) : 0;
  if (!Number.isFinite(recordingHours) || recordingHours < 0) throw usageError(`--record: '${v.record ?? ''}' is not hours >= 0`);
  const input = { streams: count('streams', v.streams), renditionsBps, windowSeconds, recordingHours,
    viewers: count('viewers', v.viewers, 0), edges: Math.max(1, count('edges', v.edges, 1)),
    nfsLinkBps: rate('nfs-link', v['nfs-link'] ?? '2G') };
  const r = size(input);
  if (v.json === true) {
    console.log(JSON.stringify({ input, ...r }, null, 2));
    return 0;
  }
  console.log(table(['WHAT', 'NEEDED', 'HOW'], [
    ['stream bit rate', bps(r.perStreamBps), `${renditionsBps.length} rendition${renditionsBps.length > 1 ? 's' : ''}`],
    ['storage per stream-hour', bytesSI(r.bytesPerStreamHour), 'bit rate x 3600 / 8'],
    ['DVR windows', bytesSI(r.windowBytes), `${input.streams} streams x ${duration(windowSeconds)}`],
    ['recordings', bytesSI(r.recordingBytes), `${input.streams} streams x ${recordingHours} h`],
    ['shared storage', bytesSI(r.storageBytes), 'windows + recordings + 20 % headroom'],
    ['NFS writes', bps(r.nfsWriteBps), 'the transcoders, all streams'],
    ['NFS reads', bps(r.nfsReadBps), `${input.edges} edge${input.edges > 1 ? 's' : ''} x every rendition`],
    ['NFS link use', `${r.nfsLinkPercent.toFixed(1)} %`,
      `of ${bps(input.nfsLinkBps)}${r.nfsLinkPercent > 70 ? ': too close, add a faster link or relays' : ''}`],
    ['edge egress', bps(r.egressBps), `${input.viewers} viewers x the top rendition (${bps(r.egressPerEdgeBps)} per edge)`],
  ]));
  return 0;
}

/** Runs `dvr <command> ...`; the exit status. */
export async function apiMain(command: ApiCommand, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const help = API_HELP[command];
  if (command !== 'scale' && (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help')) {
    if (sub === undefined) throw usageError(`'dvr ${command}' needs a subcommand`);
    console.log(help);
    return 0;
  }
  const spec = (options: Record<string, { type: 'string' | 'boolean' }>, min: number, max: number) =>
    ({ command: `dvr ${command}`, usage: help, options: { ...TARGET_OPTIONS, ...options }, positionals: { min, max } });
  const client = async (v: { api?: string | undefined; 'token-file'?: string | undefined }): Promise<ApiClient> =>
    new ApiClient(await resolveTarget({ api: v.api, tokenFile: v['token-file'] }, process.env, process.cwd(), process.getuid?.() === 0));
  const out = (json: boolean | undefined, value: unknown, text: () => string): void => {
    console.log(json === true ? JSON.stringify(value, null, 2) : text());
  };

  if (command === 'scale') {
    const a = parseCommandLine(spec({}, 2, 2), argv);
    if (!a) return 0;
    const [role, n] = a.positionals;
    if (!role || !['transcoder', 'edge', 'origin', 'relay'].includes(role)) {
      throw usageError(`'${role ?? ''}' is not a role (transcoder, edge, origin, relay)`);
    }
    if (!/^[+-][1-9][0-9]*$/.test(n ?? '')) throw usageError(`'${n ?? ''}' is not +N or -N`);
    const r = await (await client(a.values)).call<{ nodes: string[] }>('POST', '/scale', { role, count: Number(n) });
    out(a.values.json, r, () => `${Number(n) > 0 ? 'added' : 'removed'}: ${r.nodes.join(', ') || '(none)'}`);
    return 0;
  }

  const key = `${command} ${sub ?? ''}`;
  switch (key) {
    case 'streams list': {
      const a = parseCommandLine(spec({}, 0, 0), rest);
      if (!a) return 0;
      const streams = await (await client(a.values)).call<StreamJson[]>('GET', '/streams');
      out(a.values.json, streams, () => (streams.length === 0 ? 'no streams (dvr streams create <app>/<stream>)' : table(
        ['STREAM', 'STATUS', 'FORMAT', 'MODE', 'RENDITIONS', 'WINDOW', 'RECORD', 'SIGNED', 'TRANSCODER'],
        streams.map((s) => [`${s.app}/${s.stream}`, s.status, s.format, s.mode, s.ladder.map((r) => r.name).join(','),
          duration(s.windowSeconds), s.recording ? 'yes' : 'no', s.signedPlayback === true ? 'yes' : 'no',
          s.local === true ? `${s.transcoder ?? ''} (local)` : s.transcoder]))));
      return 0;
    }
    case 'streams create': {
      const a = parseCommandLine(spec({ window: { type: 'string' }, format: { type: 'string' }, mode: { type: 'string' },
        ladder: { type: 'string' }, segment: { type: 'string' }, record: { type: 'boolean' }, archive: { type: 'string' },
        'storage-cap': { type: 'string' }, signed: { type: 'boolean' }, 'no-dash': { type: 'boolean' }, 'no-delta': { type: 'boolean' },
        retention: { type: 'string' }, 'playlist-cap': { type: 'string' } },
      1, 1), rest);
      if (!a) return 0;
      const v = a.values as Flags;
      const str = (k: string): string | undefined => stringFlag(v, k);
      const body: Record<string, unknown> = { ...streamRef(a.positionals[0]), ...dvrFlags(v) };
      const segment = numberFlag('segment', str('segment'));
      if (segment !== undefined) body['segmentSeconds'] = segment;
      if (str('format') !== undefined) body['format'] = str('format');
      if (str('mode') !== undefined) body['mode'] = str('mode');
      if (str('ladder') !== undefined) body['ladder'] = parseLadder(str('ladder') ?? '');
      if (v['record'] === true) body['recording'] = true;
      if (v['signed'] === true) body['signedPlayback'] = true;
      if (v['no-dash'] === true) body['dash'] = false;
      if (v['no-delta'] === true) body['deltaUpdates'] = false;
      const api = await client(a.values);
      const s = await api.call<StreamJson>('POST', '/streams', body);
      warn(s);
      const publish = await api.call<{ url: string }>('GET', `/streams/${s.app}/${s.stream}/publish`);
      out(a.values.json, { ...s, publishUrl: publish.url }, () => [`created: ${s.app}/${s.stream} (${s.format}, ${s.mode}, `
        + `window ${duration(s.windowSeconds)}${s.recording ? ', recorded' : ''}${s.signedPlayback === true ? ', signed playback' : ''})`,
      `publish: ${publish.url}`].join('\n'));
      return 0;
    }
    case 'streams set': {
      const a = parseCommandLine(spec({ window: { type: 'string' }, record: { type: 'boolean' }, 'no-record': { type: 'boolean' },
        retention: { type: 'string' }, 'playlist-cap': { type: 'string' },
        archive: { type: 'string' }, 'storage-cap': { type: 'string' }, signed: { type: 'boolean' }, 'no-signed': { type: 'boolean' } },
      1, 1), rest);
      if (!a) return 0;
      const v = a.values as Flags;
      const { app, stream } = streamRef(a.positionals[0]);
      const body = dvrFlags(v);
      if (v['record'] === true && v['no-record'] === true) throw usageError('--record and --no-record together');
      if (v['signed'] === true && v['no-signed'] === true) throw usageError('--signed and --no-signed together');
      if (v['record'] === true || v['no-record'] === true) body['recording'] = v['record'] === true;
      if (v['signed'] === true || v['no-signed'] === true) body['signedPlayback'] = v['signed'] === true;
      if (Object.keys(body).length === 0) {
        throw usageError('nothing to change (--window, --record, --archive, --storage-cap, --retention, --playlist-cap, --signed)');
      }
      const s = await (await client(a.values)).call<StreamJson>('PATCH', `/streams/${app}/${stream}`, body);
      warn(s);
      out(a.values.json, s, () => `changed: ${s.app}/${s.stream} (window ${duration(s.windowSeconds)}${s.recording ? ', recorded' : ''}`
        + `${s.signedPlayback === true ? ', signed playback' : ''}; a live stream takes it with its transcoder's next heartbeat)`);
      return 0;
    }
    case 'streams defaults': {
      const a = parseCommandLine(spec({}, 0, 0), rest);
      if (!a) return 0;
      const d = await (await client(a.values)).call<Record<string, unknown>>('GET', '/stream-defaults');
      out(a.values.json, d, () => (Object.keys(d).length === 0 ? 'no cluster defaults (DVR_STREAM_DEFAULTS): the built-in ones apply'
        : table(['SETTING', 'DEFAULT'], Object.entries(d).map(([k, x]) => [k, JSON.stringify(x)]))));
      return 0;
    }
    case 'streams url': {
      const a = parseCommandLine(spec({}, 1, 1), rest);
      if (!a) return 0;
      const { app, stream } = streamRef(a.positionals[0]);
      const api = await client(a.values);
      // A local stream (one a transcoder runs from its own config, as the appliance's demo) takes no publisher.
      const s = await api.call<StreamJson>('GET', `/streams/${app}/${stream}`);
      const publish = s.local === true ? `none (${app}/${stream} runs from transcoder '${s.transcoder ?? ''}'s own config)`
        : (await api.call<{ url: string }>('GET', `/streams/${app}/${stream}/publish`)).url;
      let playback: { url: string; edge: string; expires?: number } | string;
      try {
        playback = await api.call<{ url: string; edge: string; expires?: number }>('GET', `/streams/${app}/${stream}/playback`);
      } catch (err) {
        if (!isDvrError(err, 'DVR_ERR_NO_CAPACITY')) throw err;
        playback = err.message;
      }
      // The edge that serves the playlist serves the player page for the same (maybe signed) path.
      const player = typeof playback === 'string' ? undefined : (() => {
        const u = new URL(playback.url);
        return `${u.origin}/player/?src=${encodeURIComponent(u.pathname)}`;
      })();
      out(a.values.json, { publish, playback, ...(player ? { player } : {}) }, () => [`publish: ${publish}`,
        typeof playback === 'string' ? `playback: none: ${playback}`
          : `playback: ${playback.url}\nplayer: ${player ?? ''}${playback.expires !== undefined
            ? `\nexpires: ${new Date(playback.expires * 1000).toISOString()}` : ''}`,
      ].join('\n'));
      return 0;
    }
    case 'streams rm': {
      const a = parseCommandLine(spec({}, 1, 1), rest);
      if (!a) return 0;
      const { app, stream } = streamRef(a.positionals[0]);
      await (await client(a.values)).call('DELETE', `/streams/${app}/${stream}`);
      out(a.values.json, { deleted: `${app}/${stream}` }, () => `deleted: ${app}/${stream}`);
      return 0;
    }
    case 'recordings list': {
      const a = parseCommandLine(spec({}, 0, 0), rest);
      if (!a) return 0;
      const list = await (await client(a.values)).call<Array<{ app: string; stream: string; kind: string; endedAt: string | null;
        bytes: number | null; retentionHours: number; expiresAt: string | null }>>('GET', '/recordings');
      out(a.values.json, list, () => (list.length === 0 ? 'no recordings' : table(
        ['STREAM', 'KIND', 'ENDED', 'SIZE', 'RETENTION', 'DELETED AT'],
        list.map((r) => [`${r.app}/${r.stream}`, r.kind === 'event' ? 'whole event' : 'last window', r.endedAt, bytes(r.bytes),
          r.retentionHours > 0 ? `${r.retentionHours} h` : 'kept', r.expiresAt ?? '-']))));
      return 0;
    }
    case 'nodes list': {
      const a = parseCommandLine(spec({ role: { type: 'string' }, state: { type: 'string' } }, 0, 0), rest);
      if (!a) return 0;
      const q = new URLSearchParams();
      const v = a.values as Record<string, unknown>;
      if (typeof v['role'] === 'string') q.set('role', v['role']);
      if (typeof v['state'] === 'string') q.set('state', v['state']);
      const nodes = await (await client(a.values)).call<NodeJson[]>('GET', `/nodes${q.size > 0 ? `?${q.toString()}` : ''}`);
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
    case 'nodes drain': {
      const a = parseCommandLine(spec({}, 1, 1), rest);
      if (!a) return 0;
      const id = a.positionals[0] ?? '';
      const n = await (await client(a.values)).call<NodeJson>('POST', `/nodes/${encodeURIComponent(id)}/drain`);
      out(a.values.json, n, () => `${n.id}: ${n.state} (no new streams; what runs there stays)`);
      return 0;
    }
    case 'launch-config validate': {
      const a = parseCommandLine({ command: 'dvr launch-config', usage: help, options: {}, positionals: { min: 1, max: 1 } }, rest);
      if (!a) return 0;
      const file = a.positionals[0] ?? '';
      let config;
      try {
        config = parseLaunchConfig(await readJsonFile(file));
      } catch (err) {
        if (!isDvrError(err, 'DVR_ERR_BAD_REQUEST')) throw err;
        // One line per problem, each with its JSON path.
        for (const p of err.message.replace(/^invalid launch config: /, '').split('; ')) console.error(`${file}: ${p}`);
        return 1;
      }
      console.log(`${file}: valid launch config '${config.launchconfig.name}' (${config.launchconfig.targets.target
        .map((t) => t.role).join(', ')})`);
      return 0;
    }
    case 'launch-config apply': {
      const a = parseCommandLine(spec({}, 1, 1), rest);
      if (!a) return 0;
      const file = a.positionals[0] ?? '';
      const config = parseLaunchConfig(await readJsonFile(file));
      const name = config.launchconfig.name;
      const api = await client(a.values);
      const had = (await api.call<Array<{ launchconfig: { name: string } }>>('GET', '/launch-configs'))
        .some((c) => c.launchconfig.name === name);
      const stored = await api.call('PUT', `/launch-configs/${encodeURIComponent(name)}`, config);
      out(a.values.json, stored, () => `${had ? 'replaced' : 'added'}: launch config '${name}' (applied with the nodes' next heartbeats)`);
      return 0;
    }
    case 'launch-config list': {
      const a = parseCommandLine(spec({}, 0, 0), rest);
      if (!a) return 0;
      const configs = await (await client(a.values)).call<Array<{ launchconfig: { name: string; description?: string;
        targets: { target: Array<{ role: string; connectionCapacity?: number; scalePolicy?: { min: number; max: number } }> } } }>>(
        'GET', '/launch-configs');
      out(a.values.json, configs, () => (configs.length === 0 ? 'no launch configs' : table(['NAME', 'ROLE', 'CAPACITY', 'MIN..MAX'],
        configs.flatMap((c) => c.launchconfig.targets.target.map((t) => [c.launchconfig.name, t.role, t.connectionCapacity,
          t.scalePolicy ? `${t.scalePolicy.min}..${t.scalePolicy.max}` : '-'])))));
      return 0;
    }
    case 'launch-config rm': {
      const a = parseCommandLine(spec({}, 1, 1), rest);
      if (!a) return 0;
      const name = a.positionals[0] ?? '';
      await (await client(a.values)).call('DELETE', `/launch-configs/${encodeURIComponent(name)}`);
      out(a.values.json, { deleted: name }, () => `deleted: launch config '${name}'`);
      return 0;
    }
    default:
      throw usageError(`unknown subcommand '${sub ?? ''}' of 'dvr ${command}'`);
  }
}
