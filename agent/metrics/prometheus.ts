// The agent's Prometheus /metrics: packager counters per rendition, encoder figures per stream,
// storage state, process defaults. Values are read at scrape time from the live objects. What only
// grows is a counter (_total), units are base units (seconds, bytes), as promtool checks them.
import http from 'node:http';
import { once } from 'node:events';
import { Counter, Gauge, Registry } from 'prom-client';
import { processMetrics } from '../../common/prom.js';
import { bearerIs } from '../../common/secrets.js';
import type { Packager } from '../../packager/packager.js';
import type { StorageMonitor } from '../storage/monitor.js';
import type { Transcoder } from '../transcoder/transcoder.js';

export interface MetricsSources { packager: Packager; transcoder: Transcoder; storage: StorageMonitor | undefined }

const RENDITION_COUNTERS = [
  ['segmentsListed', 'dvr_segments_listed_total', 'Segments listed in a playlist'],
  ['segmentsRejected', 'dvr_segments_rejected_total', 'Segments that failed the integrity check'],
  ['segmentsSuperseded', 'dvr_segments_superseded_total', 'Segments of time already listed (after a takeover), not listed again'],
  ['segmentsPurged', 'dvr_segments_purged_total', 'Segments deleted after leaving the window'],
  ['bytesPurged', 'dvr_bytes_purged_total', 'Bytes deleted by purge'],
  ['capTrims', 'dvr_storage_cap_trims_total', 'Times the storage cap deleted media early'],
  ['outputErrors', 'dvr_output_errors_total', 'Writes to the storage that failed'],
  ['discontinuities', 'dvr_discontinuities_total', 'Discontinuities (reconnects, holes)'],
] as const;

/** A counter whose value is kept elsewhere (the packager's, the encoder's): set at each scrape. */
function setCounter(c: Counter<string>, labels: Record<string, string>, value: number): void {
  if (Number.isFinite(value) && value >= 0) c.inc(labels, value);
}

export function createRegistry(src: MetricsSources): Registry {
  const registry = new Registry();
  processMetrics(registry);
  for (const [field, name, help] of RENDITION_COUNTERS) {
    new Counter({ name, help, labelNames: ['stream', 'rendition'], registers: [registry], collect() {
      this.reset();
      for (const sp of src.packager.list()) {
        for (const [rendition, c] of Object.entries(sp.counters())) {
          setCounter(this, { stream: `${sp.settings.app}/${sp.settings.stream}`, rendition }, c[field]);
        }
      }
    } });
  }
  new Gauge({ name: 'dvr_last_segment_latency_seconds', help: 'Segment renamed to playlist written, last segment',
    labelNames: ['stream', 'rendition'], registers: [registry], collect() {
      this.reset();
      for (const sp of src.packager.list()) {
        for (const [rendition, c] of Object.entries(sp.counters())) {
          this.set({ stream: `${sp.settings.app}/${sp.settings.stream}`, rendition }, c.lastLatencyMs / 1000);
        }
      }
    } });
  const streamCounters = [
    ['segmentsWritten', 'dvr_encoder_segments_total', 'Segments the encoder wrote'],
    ['lateSegments', 'dvr_late_segments_total', 'Segments that arrived more than 1 s late'],
    ['restarts', 'dvr_encoder_restarts_total', 'Encoder restarts'],
  ] as const;
  for (const [field, name, help] of streamCounters) {
    new Counter({ name, help, labelNames: ['stream'], registers: [registry], collect() {
      this.reset();
      for (const f of src.transcoder.figures()) setCounter(this, { stream: `${f.app}/${f.stream}` }, f[field]);
    } });
  }
  const streamGauges = [
    ['inputBitrateBps', 'dvr_input_bytes_per_second', 'Media bytes per second of the segments written (bit rate / 8)'],
    ['encoderSpeed', 'dvr_encoder_speed_ratio', 'Media seconds per wall-clock second (1 = real time)'],
  ] as const;
  for (const [field, name, help] of streamGauges) {
    new Gauge({ name, help, labelNames: ['stream'], registers: [registry], collect() {
      this.reset();
      for (const f of src.transcoder.figures()) {
        this.set({ stream: `${f.app}/${f.stream}` }, field === 'inputBitrateBps' ? f[field] / 8 : f[field]);
      }
    } });
  }
  new Gauge({ name: 'dvr_storage_available', help: '1 while the shared storage takes writes', registers: [registry], collect() {
    this.set(src.storage?.available === false ? 0 : 1);
  } });
  new Gauge({ name: 'dvr_storage_free_bytes', help: 'Free bytes on the shared storage', registers: [registry], collect() {
    const free = src.storage?.snapshot().freeBytes;
    if (free !== undefined) this.set(free);
  } });
  new Gauge({ name: 'dvr_storage_size_bytes', help: 'Size of the shared storage in bytes', registers: [registry], collect() {
    const total = src.storage?.snapshot().totalBytes;
    if (total !== undefined) this.set(total);
  } });
  return registry;
}

/** Serves GET /metrics; with a token, only to `Authorization: Bearer <token>`. */
export async function serveMetrics(registry: Registry, host: string, port: number, token: string | undefined): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics' || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    if (token !== undefined && !bearerIs(req.headers.authorization, token)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer' }).end();
      return;
    }
    registry.metrics().then((text) => {
      res.writeHead(200, { 'Content-Type': registry.contentType }).end(text);
    }, (err: unknown) => res.writeHead(500).end(String(err)));
  });
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}
