// `dvr size`: what a deployment needs (storage, NFS load, egress), offline, before provisioning it.
import { bps, bytesSI, parseBitrate, parseDuration, size, type SizeInput } from '../size.js';
import { duration, table } from '../table.js';
import { parseCommandLine, usageError } from '../../common/cli.js';

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

const OPTIONS = { streams: { type: 'string' }, bitrate: { type: 'string' }, renditions: { type: 'string' },
  window: { type: 'string' }, record: { type: 'string' }, viewers: { type: 'string' }, edges: { type: 'string' },
  'nfs-link': { type: 'string' }, json: { type: 'boolean' } } as const;

/** What `dvr size` is asked, from its flags (each wrong one named). */
function sizeInput(v: { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'string' ? string : boolean }): SizeInput {
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
  return { streams: count('streams', v.streams), renditionsBps, windowSeconds, recordingHours,
    viewers: count('viewers', v.viewers, 0), edges: Math.max(1, count('edges', v.edges, 1)),
    nfsLinkBps: rate('nfs-link', v['nfs-link'] ?? '2G') };
}

/** `dvr size ...`: offline, the exit status. */
export function sizeMain(argv: string[]): number {
  const a = parseCommandLine({ command: 'dvr size', usage: SIZE_HELP, options: OPTIONS }, argv);
  if (!a) return 0;
  const v = a.values;
  const input = sizeInput(v);
  const { renditionsBps, windowSeconds, recordingHours } = input;
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
