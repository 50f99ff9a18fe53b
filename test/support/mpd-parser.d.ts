// The part of mpd-parser (videojs, the DASH reader of video.js/VHS) that the tests use; the package
// ships no types. It turns an MPD into HLS-like playlists, one segment list per Representation.
declare module 'mpd-parser' {
  export interface MpdSegment {
    uri: string;
    /** The URI resolved against the manifestUri given to parse. */
    resolvedUri: string;
    /** Seconds. */
    duration: number;
    /** Seconds on the presentation timeline (Period start + (t - presentationTimeOffset) / timescale). */
    presentationTime: number;
    /** The start of the Period (timeline) the segment belongs to, seconds. */
    timeline: number;
    number: number;
    map?: { uri: string };
  }
  export interface MpdPlaylist {
    attributes: {
      NAME: string;
      BANDWIDTH: number;
      CODECS?: string;
      RESOLUTION?: { width: number; height: number };
      'FRAME-RATE'?: number;
    };
    endList: boolean;
    targetDuration: number;
    /** Indexes into `segments` where a new Period begins. */
    discontinuityStarts: number[];
    timelineStarts: Array<{ start: number; timeline: number }>;
    segments: MpdSegment[];
  }
  export interface ParsedMpd {
    /** mediaPresentationDuration, seconds (0 when absent). */
    duration: number;
    endList: boolean;
    minimumUpdatePeriod?: number;
    suggestedPresentationDelay?: number;
    playlists: MpdPlaylist[];
    mediaGroups: { AUDIO: Record<string, Record<string, { playlists: MpdPlaylist[] }>> };
    timelineStarts: Array<{ start: number; timeline: number }>;
  }
  export function parse(manifest: string, options?: { manifestUri?: string; NOW?: number; clientOffset?: number }): ParsedMpd;
}
