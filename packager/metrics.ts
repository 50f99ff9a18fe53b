// Counters the packager keeps per rendition; the agent exposes them (Prometheus, heartbeats).

export interface RenditionCounters {
  segmentsListed: number;
  segmentsRejected: number;
  /** Segments of time already listed (a backlog after a takeover): dropped, not listed again. */
  segmentsSuperseded: number;
  segmentsPurged: number;
  bytesPurged: number;
  capTrims: number;
  outputErrors: number;
  discontinuities: number;
  lastLatencyMs: number;
}

export function newCounters(): RenditionCounters {
  return { segmentsListed: 0, segmentsRejected: 0, segmentsSuperseded: 0, segmentsPurged: 0, bytesPurged: 0, capTrims: 0,
    outputErrors: 0, discontinuities: 0, lastLatencyMs: 0 };
}
