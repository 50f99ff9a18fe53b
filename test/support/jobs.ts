// The small live job most agent tests run: a 320x180 test pattern, one rendition, 1 s segments.
export function patternJob(stream: string): Record<string, unknown> {
  return { app: 'live', stream, source: { testPattern: { width: 320, height: 180, fps: 25 } }, mode: 'transcode',
    ladder: [{ name: 'source', height: 180 }], format: 'ts', segmentSeconds: 1 };
}
