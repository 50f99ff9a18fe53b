// What the transcoder runs for a stream: something that puts finished segments into the
// packager's incoming/ and says when the source has been silent for longer than its grace.
// An ffmpeg encoder (EncoderSupervisor) or the origin's own fragments (OriginFeed).

export interface MediaSourceEvents {
  /** No media within the reconnect grace: the event ends (ENDLIST). */
  graceExpired: [];
}

export interface MediaSource {
  start(): Promise<void>;
  /** Finishes or takes what is in flight, then stops. Idempotent. */
  stop(): Promise<void>;
  /** A segment arrived from this source: it is alive. */
  noteSegment(): void;
  /**
   * A segment of the source was listed, this long: a source cut at the publisher's keyframes (copy
   * mode) makes segments as long as its keyframe interval, which a stall check must allow.
   */
  noteDuration?(seconds: number): void;
  /** Source restarts: encoder restarts, or publisher reconnects seen by the origin feed. */
  readonly restarts: number;
  on(event: 'graceExpired', listener: () => void): unknown;
  off(event: 'graceExpired', listener: () => void): unknown;
}
