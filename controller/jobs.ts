// The jobs a transcoder is given in its heartbeat reply: one per stream assigned to it that runs
// (live, or within its reconnect grace after the publisher left), built from the stream's settings.
import type { TranscodeJob } from '../common/job.js';
import { PLAYLIST_CAP_DEFAULT_SECONDS } from '../common/stream-settings.js';
import type { StreamRow } from './store.js';

export interface JobInputs {
  now: number;
  /** Seconds a job stays with its transcoder after the publisher left. */
  graceSeconds: number;
  /** rtmp://host:port of the origin a stream's transcoder pulls from. */
  sourceOf: (s: StreamRow) => string;
}

/** Pure: the jobs for the streams assigned to one transcoder. */
export function jobsFor(streams: readonly StreamRow[], o: JobInputs): TranscodeJob[] {
  return streams.filter((s) => s.status === 'live' || (s.status === 'ending' && o.now - (s.endingSince ?? o.now) < o.graceSeconds * 1000))
    .map((s): TranscodeJob => {
      const { format, mode, ladder, segmentSeconds, lowLatency, windowSeconds, recording, archiveStrategy, storageCapBytes, dash,
        deltaUpdates, playlistCapSeconds } = s.settings;
      return {
        app: s.app, stream: s.stream, source: { url: `${o.sourceOf(s)}/${s.app}/${s.stream}` }, format, mode, ladder, segmentSeconds,
        reconnectGraceSeconds: o.graceSeconds, epoch: s.epoch ?? 0,
        // Only when on: an agent older than low latency refuses a field it does not know.
        ...(lowLatency === true ? { lowLatency } : {}),
        dvr: { windowSeconds, recording, archiveStrategy, storageCapBytes, dash, deltaUpdates,
          // Only when it is not the default: an agent older than the cap refuses a field it does not know.
          ...(playlistCapSeconds !== undefined && playlistCapSeconds !== PLAYLIST_CAP_DEFAULT_SECONDS ? { playlistCapSeconds } : {}) },
      };
    });
}
