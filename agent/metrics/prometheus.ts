// The agent's Prometheus /metrics: packager counters per rendition, encoder figures per stream,
// storage state, process defaults. Values are read at scrape time from the live objects.
import http from 'node:http';
import { once } from 'node:events';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { bearerIs } from '../../common/secrets.js';
import type { Packager } from '../packager/packager.js';
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
  ['lastLatencyMs', 'dvr_last_segment_latency_ms', 'Segment renamed to playlist written, last segment'],
] as const;

export function createRegistry(src: MetricsSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const [field, name, help] of RENDITION_COUNTERS) {
    new Gauge({ name, help, labelNames: ['stream', 'rendition'], registers: [registry], collect() {
      this.reset();
      for (const sp of src.packager.list()) {
        for (const [rendition, c] of Object.entries(sp.counters())) {
          this.set({ stream: `${sp.settings.app}/${sp.settings.stream}`, rendition }, c[field]);
        }
      }
    } });
  }
  const perStream = [
    ['inputBitrateBps', 'dvr_input_bitrate_bps', 'Media bit rate of the segments written'],
    ['segmentsWritten', 'dvr_encoder_segments_total', 'Segments the encoder wrote'],
    ['lateSegments', 'dvr_late_segments_total', 'Segments that arrived more than 1 s late'],
    ['encoderSpeed', 'dvr_encoder_speed', 'Media seconds per wall-clock second (1 = real time)'],
    ['restarts', 'dvr_encoder_restarts_total', 'Encoder restarts'],
  ] as const;
  for (const [field, name, help] of perStream) {
    new Gauge({ name, help, labelNames: ['stream'], registers: [registry], collect() {
      this.reset();
      for (const f of src.transcoder.figures()) this.set({ stream: `${f.app}/${f.stream}` }, f[field]);
    } });
  }
  new Gauge({ name: 'dvr_storage_available', help: '1 while the shared storage takes writes', registers: [registry], collect() {
    this.set(src.storage?.available === false ? 0 : 1);
  } });
  new Gauge({ name: 'dvr_storage_free_bytes', help: 'Free bytes on the shared storage', registers: [registry], collect() {
    const free = src.storage?.snapshot().freeBytes;
    if (free !== undefined) this.set(free);
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
