// What the packager learns from one segment's bytes.
import { DvrError } from '../../common/errors.js';

export type ContainerKind = 'ts' | 'fmp4';

export interface SegmentMedia {
  container: ContainerKind;
  /** Presentation time of the first frame, seconds (timestamps unwrapped within the segment). */
  startTime: number;
  /** Duration, seconds: of the video track when there is one, else of the audio. */
  duration: number;
  hasVideo: boolean;
  hasAudio: boolean;
  /** RFC 6381 codec strings found in the media, video first. */
  codecs: string[];
  /** Frames per second measured from the timestamps, when there is video. */
  frameRate: number | undefined;
}

export interface InitMedia {
  tracks: Map<number, { timescale: number; kind: 'video' | 'audio' | 'other'; codec: string | undefined;
    defaultSampleDuration: number; defaultSampleFlags: number }>;
}

/** Why a segment was refused (DVR_ERR_SEGMENT); the message is what the logs and metrics carry. */
export class SegmentRejected extends DvrError {
  constructor(readonly reason: string) {
    super('DVR_ERR_SEGMENT', reason);
    this.name = 'SegmentRejected';
  }
}
