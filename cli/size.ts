// `dvr size`: what a deployment needs before it is provisioned: the shared storage for the DVR
// windows (and recordings), the NFS server's write and read load, and the edges' egress, computed
// the way the Red5 NFS guide's sizing table is (bit rate x time; 4.5 Mb/s is about 2 GB an hour).

export interface SizeInput {
  streams: number;
  /** Bits per second of each rendition of a stream (one entry: copy mode or a single rendition). */
  renditionsBps: number[];
  windowSeconds: number;
  /** Hours of recording kept per stream beyond the window (0: none). */
  recordingHours: number;
  /** Viewers across all edges, each watching the top rendition (an upper bound). */
  viewers: number;
  edges: number;
  /** The storage server's link, bits per second. */
  nfsLinkBps: number;
}

export interface SizeResult {
  perStreamBps: number;
  bytesPerStreamHour: number;
  windowBytes: number;
  recordingBytes: number;
  /** Window + recordings + 20 % headroom (container overhead, segments in flight, the cap's slack). */
  storageBytes: number;
  nfsWriteBps: number;
  /** Each edge reads every rendition of every stream once (then serves it from its page cache). */
  nfsReadBps: number;
  nfsLinkPercent: number;
  egressBps: number;
  egressPerEdgeBps: number;
}

export const HEADROOM = 1.2;

export function size(i: SizeInput): SizeResult {
  const perStreamBps = i.renditionsBps.reduce((a, b) => a + b, 0);
  const bytesPerStreamHour = (perStreamBps * 3600) / 8;
  const windowBytes = (i.streams * perStreamBps * i.windowSeconds) / 8;
  const recordingBytes = i.streams * bytesPerStreamHour * i.recordingHours;
  const nfsWriteBps = i.streams * perStreamBps;
  const nfsReadBps = i.edges * i.streams * perStreamBps;
  const egressBps = i.viewers * Math.max(...i.renditionsBps);
  return { perStreamBps, bytesPerStreamHour, windowBytes, recordingBytes, storageBytes: (windowBytes + recordingBytes) * HEADROOM,
    nfsWriteBps, nfsReadBps, nfsLinkPercent: ((nfsWriteBps + nfsReadBps) / i.nfsLinkBps) * 100, egressBps,
    egressPerEdgeBps: i.edges > 0 ? egressBps / i.edges : egressBps };
}

/** '4.5M', '2500k', '128000' (bits per second). */
export function parseBitrate(raw: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)(?:b(?:it)?(?:\/s|ps)?)?$/.exec(raw.trim());
  if (!m) return undefined;
  const scale = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[(m[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g'];
  const v = Number(m[1]) * scale;
  return v > 0 ? v : undefined;
}

/** '2h', '30m', '7d', '3600' (seconds). */
export function parseDuration(raw: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(raw.trim());
  if (!m) return undefined;
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? '') as '' | 's' | 'm' | 'h' | 'd'];
}

const SI = (v: number, unit: string): string => {
  const steps: Array<[number, string]> = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [s, p] of steps) if (v >= s) return `${(v / s).toFixed(v / s >= 100 ? 0 : 1)} ${p}${unit}`;
  return `${v.toFixed(0)} ${unit}`;
};
export const bps = (v: number): string => SI(v, 'b/s');
export const bytesSI = (v: number): string => SI(v, 'B');
