// What the heartbeats carried over the last half hour, kept in memory for the dashboard's plots:
// per node CPU, memory and free storage; per stream bit rate, segment latency, late segments,
// storage used and the age of its last segment. One sample every 10 s a series at most; columns
// (time, then one array a figure), as plotting libraries take them.
import type { Heartbeat } from '../common/protocol.js';

export const HISTORY_SAMPLE_MS = 10_000;
export const HISTORY_SAMPLES = 180;

export interface Series { t: number[]; [figure: string]: Array<number | null> }

const NODE_FIGURES = ['cpuPercent', 'memoryPercent', 'storageFreeBytes'] as const;
const STREAM_FIGURES = ['bitrateBps', 'segmentLatencySeconds', 'lateSegments', 'storedBytes', 'lastSegmentAgeSeconds'] as const;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export class History {
  private readonly nodes = new Map<string, Series>();
  private readonly streams = new Map<string, Series>();

  private add(map: Map<string, Series>, key: string, figures: readonly string[], at: number, values: Record<string, number | null>): void {
    let s = map.get(key);
    if (!s) {
      s = { t: [], ...Object.fromEntries(figures.map((f) => [f, []])) } as Series;
      map.set(key, s);
    }
    const last = s.t[s.t.length - 1];
    if (last !== undefined && at - last < HISTORY_SAMPLE_MS) return;
    s.t.push(at);
    for (const f of figures) s[f]?.push(values[f] ?? null);
    if (s.t.length > HISTORY_SAMPLES) for (const col of Object.values(s)) col.shift();
  }

  /** A heartbeat's figures, at `at` (ms). */
  record(nodeId: string, hb: Partial<Heartbeat>, at: number): void {
    const sys = hb.system;
    if (sys) {
      this.add(this.nodes, nodeId, NODE_FIGURES, at, { cpuPercent: num(sys.cpuLoadPercent),
        memoryPercent: sys.memoryTotalBytes > 0 ? (sys.memoryUsedBytes / sys.memoryTotalBytes) * 100 : null,
        storageFreeBytes: num(sys.storageFreeBytes) });
    }
    for (const f of hb.streams ?? []) {
      this.add(this.streams, `${f.app}/${f.stream}`, STREAM_FIGURES, at, { bitrateBps: num(f.inputBitrateBps),
        segmentLatencySeconds: f.segmentLatencyMs !== undefined ? f.segmentLatencyMs / 1000 : null, lateSegments: num(f.lateSegments),
        storedBytes: num(f.storedBytes), lastSegmentAgeSeconds: num(f.lastSegmentAgeSeconds) });
    }
  }

  /** Drops the series of what is no longer there (a node handed back, a stream deleted). */
  keepOnly(nodes: ReadonlySet<string>, streams: ReadonlySet<string>): void {
    for (const k of this.nodes.keys()) if (!nodes.has(k)) this.nodes.delete(k);
    for (const k of this.streams.keys()) if (!streams.has(k)) this.streams.delete(k);
  }

  snapshot(): { sampleSeconds: number; nodes: Record<string, Series>; streams: Record<string, Series> } {
    return { sampleSeconds: HISTORY_SAMPLE_MS / 1000, nodes: Object.fromEntries(this.nodes), streams: Object.fromEntries(this.streams) };
  }
}
