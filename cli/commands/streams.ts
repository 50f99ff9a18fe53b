// `dvr streams list | create | set | defaults | url | rm`: the API's streams.
import { bytes, duration, table } from '../table.js';
import { usageError } from '../../common/cli.js';
import { isDvrError } from '../../common/errors.js';
import type { RenditionSpec } from '../../common/stream-settings.js';
import {
  TARGET_HELP, numberFlag, out, streamRef, stringFlag, warn, type CommandGroup, type Flags, type Parsed,
} from './common.js';
import type { ApiClient } from '../client.js';

const HELP = `usage: dvr streams list
       dvr streams create <app>/<stream> [--window S] [--format ts|fmp4] [--mode copy|transcode]
                          [--ladder NAME:HEIGHT:VIDEO_KBPS:AUDIO_KBPS,...] [--segment S] [--record]
                          [--archive append|version|delete] [--storage-cap BYTES] [--retention H] [--signed]
                          [--playlist-cap S] [--no-dash] [--no-delta] [--low-latency]
       dvr streams set <app>/<stream> [--window S] [--record | --no-record] [--archive ...]
                          [--storage-cap BYTES] [--retention H] [--playlist-cap S] [--signed | --no-signed]
                                           change its DVR settings; a live stream takes them at once
       dvr streams defaults                the cluster's defaults for new streams
       dvr streams url <app>/<stream>      its publish URL (with the stream key) and a playback URL
       dvr streams rm <app>/<stream> [--purge]
                                           --purge: its media too (its directory and archived versions);
                                           refused while it runs; says what was removed and its size

create: --window is the DVR window in seconds (0 = the whole event; default 3600), --record keeps
the whole event as VOD when it ends, --signed makes playback need the URLs the API signs,
--low-latency adds low-latency HLS at the live edge (partial segments, blocking reloads; fMP4).

${TARGET_HELP}`;

export interface StreamJson { app: string; stream: string; status: string; format: string; mode: string; windowSeconds: number;
  recording: boolean; signedPlayback?: boolean; transcoder: string | null; ladder: RenditionSpec[]; streamKey?: string;
  warnings?: string[]; local?: boolean }

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

async function list(a: Parsed, api: () => Promise<ApiClient>): Promise<number> {
  const streams = await (await api()).call<StreamJson[]>('GET', '/streams');
  out(a.values.json, streams, () => (streams.length === 0 ? 'no streams (dvr streams create <app>/<stream>)' : table(
    ['STREAM', 'STATUS', 'FORMAT', 'MODE', 'RENDITIONS', 'WINDOW', 'RECORD', 'SIGNED', 'TRANSCODER'],
    streams.map((s) => [`${s.app}/${s.stream}`, s.status, s.format, s.mode, s.ladder.map((r) => r.name).join(','),
      duration(s.windowSeconds), s.recording ? 'yes' : 'no', s.signedPlayback === true ? 'yes' : 'no',
      s.local === true ? `${s.transcoder ?? ''} (local)` : s.transcoder]))));
  return 0;
}

async function create(a: Parsed, api: () => Promise<ApiClient>): Promise<number> {
  const v = a.values;
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
  if (v['low-latency'] === true) body['lowLatency'] = true;
  const client = await api();
  const s = await client.call<StreamJson>('POST', '/streams', body);
  warn(s);
  const publish = await client.call<{ url: string }>('GET', `/streams/${s.app}/${s.stream}/publish`);
  out(v.json, { ...s, publishUrl: publish.url }, () => [`created: ${s.app}/${s.stream} (${s.format}, ${s.mode}, `
    + `window ${duration(s.windowSeconds)}${s.recording ? ', recorded' : ''}${s.signedPlayback === true ? ', signed playback' : ''})`,
  `publish: ${publish.url}`].join('\n'));
  return 0;
}

async function set(a: Parsed, api: () => Promise<ApiClient>): Promise<number> {
  const v = a.values;
  const { app, stream } = streamRef(a.positionals[0]);
  const body = dvrFlags(v);
  if (v['record'] === true && v['no-record'] === true) throw usageError('--record and --no-record together');
  if (v['signed'] === true && v['no-signed'] === true) throw usageError('--signed and --no-signed together');
  if (v['record'] === true || v['no-record'] === true) body['recording'] = v['record'] === true;
  if (v['signed'] === true || v['no-signed'] === true) body['signedPlayback'] = v['signed'] === true;
  if (Object.keys(body).length === 0) {
    throw usageError('nothing to change (--window, --record, --archive, --storage-cap, --retention, --playlist-cap, --signed)');
  }
  const s = await (await api()).call<StreamJson>('PATCH', `/streams/${app}/${stream}`, body);
  warn(s);
  out(v.json, s, () => `changed: ${s.app}/${s.stream} (window ${duration(s.windowSeconds)}${s.recording ? ', recorded' : ''}`
    + `${s.signedPlayback === true ? ', signed playback' : ''}; a live stream takes it with its transcoder's next heartbeat)`);
  return 0;
}

async function defaults(a: Parsed, api: () => Promise<ApiClient>): Promise<number> {
  const d = await (await api()).call<Record<string, unknown>>('GET', '/stream-defaults');
  out(a.values.json, d, () => (Object.keys(d).length === 0 ? 'no cluster defaults (DVR_STREAM_DEFAULTS): the built-in ones apply'
    : table(['SETTING', 'DEFAULT'], Object.entries(d).map(([k, x]) => [k, JSON.stringify(x)]))));
  return 0;
}

async function url(a: Parsed, api: () => Promise<ApiClient>): Promise<number> {
  const { app, stream } = streamRef(a.positionals[0]);
  const client = await api();
  // A local stream (one a transcoder runs from its own config, as the appliance's demo) takes no publisher.
  const s = await client.call<StreamJson>('GET', `/streams/${app}/${stream}`);
  const publish = s.local === true ? `none (${app}/${stream} runs from transcoder '${s.transcoder ?? ''}'s own config)`
    : (await client.call<{ url: string }>('GET', `/streams/${app}/${stream}/publish`)).url;
  let playback: { url: string; edge: string; expires?: number } | string;
  try {
    playback = await client.call<{ url: string; edge: string; expires?: number }>('GET', `/streams/${app}/${stream}/playback`);
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

async function rm(a: Parsed, api: () => Promise<ApiClient>): Promise<number> {
  const { app, stream } = streamRef(a.positionals[0]);
  if (a.values['purge'] !== true) {
    await (await api()).call('DELETE', `/streams/${app}/${stream}`);
    out(a.values.json, { deleted: `${app}/${stream}` }, () => `deleted: ${app}/${stream} (its media stays on the storage; --purge `
      + 'removes it too)');
    return 0;
  }
  const r = await (await api()).call<{ deleted?: string; removed?: string[]; bytes?: number; deleting?: string; message?: string }>(
    'DELETE', `/streams/${app}/${stream}?purge=true`);
  out(a.values.json, r, () => (r.deleted !== undefined ? `deleted: ${r.deleted} and its media: `
    + `${(r.removed ?? []).length > 0 ? (r.removed ?? []).join(', ') : 'nothing was stored'} (${bytes(r.bytes)})`
    : `deleting: ${r.deleting ?? `${app}/${stream}`}: ${r.message ?? ''}`));
  return 0;
}

const DVR_OPTIONS = { window: { type: 'string' }, archive: { type: 'string' }, 'storage-cap': { type: 'string' },
  retention: { type: 'string' }, 'playlist-cap': { type: 'string' }, record: { type: 'boolean' }, signed: { type: 'boolean' } } as const;

export const STREAMS: CommandGroup = {
  help: HELP,
  commands: {
    list: { positionals: [0, 0], run: list },
    create: { positionals: [1, 1], run: create, options: { ...DVR_OPTIONS, format: { type: 'string' }, mode: { type: 'string' },
      ladder: { type: 'string' }, segment: { type: 'string' }, 'no-dash': { type: 'boolean' }, 'no-delta': { type: 'boolean' },
      'low-latency': { type: 'boolean' } } },
    set: { positionals: [1, 1], run: set, options: { ...DVR_OPTIONS, 'no-record': { type: 'boolean' }, 'no-signed': { type: 'boolean' } } },
    defaults: { positionals: [0, 0], run: defaults },
    url: { positionals: [1, 1], run: url },
    rm: { positionals: [1, 1], run: rm, options: { purge: { type: 'boolean' } } },
  },
};
