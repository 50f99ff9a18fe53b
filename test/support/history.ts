// A long stored history written in seconds: what a packager leaves on the storage after an hour of a
// copy-mode fMP4 stream (video and audio renditions, canonical segment names, DASH links), for a
// player to seek back into without the test waiting the hour. ffmpeg encodes one 8 s block (four
// 2 s segments: AAC frames repeat their cut pattern every 8 s at 48 kHz); the block repeats with
// each fragment's decode time (tfdt) moved on, so the media plays at the times its names say.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DASH_DIR, dashSegmentName, initName, segmentName } from '../../packager/layout.js';
import { inspectInit, inspectSegment } from '../../packager/media/inspect.js';
import { run, tempDir } from './run.js';

const BLOCK_SEGMENTS = 4;
const BLOCK_SECONDS = 8;

/** Moves every tfdt of a fragment by `ticks` (in place). */
function shiftDecodeTimes(buf: Buffer, ticks: number, from = 0, to = buf.length): void {
  let p = from;
  while (p + 8 <= to) {
    const size = buf.readUInt32BE(p);
    const type = buf.toString('latin1', p + 4, p + 8);
    if (size < 8) throw new Error(`history: box '${type}' of size ${size} at byte ${p}`);
    if (type === 'moof' || type === 'traf') shiftDecodeTimes(buf, ticks, p + 8, p + size);
    if (type === 'tfdt') {
      if (buf[p + 8] === 1) buf.writeBigUInt64BE(buf.readBigUInt64BE(p + 12) + BigInt(ticks), p + 12);
      else buf.writeUInt32BE(buf.readUInt32BE(p + 12) + ticks, p + 12);
    }
    p += size;
  }
}

export interface History { video: string; audio: string; startMs: number; endMs: number; segments: number }

/**
 * Writes `seconds` (a multiple of 8) of history for `<root>/<app>/<stream>`, ending at `endMs`
 * wall-clock, in discontinuity 0, as renditions `video` and `audio`; returns what it wrote.
 */
export async function writeHistory(streamDir: string, o: { video: string; audio: string; seconds: number; endMs: number }):
Promise<History> {
  const work = await tempDir('history');
  try {
    const hls = (select: string, name: string, codec: string[]): string[] => ['-map', select, ...codec, '-f', 'hls',
      '-hls_segment_type', 'fmp4', '-hls_time', '2', '-hls_list_size', '0', '-hls_fmp4_init_filename', `${name}-init.mp4`,
      '-hls_segment_filename', path.join(work, `${name}-%d.m4s`), path.join(work, `${name}.m3u8`)];
    const made = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error',
      '-t', String(BLOCK_SECONDS), '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25',
      '-t', String(BLOCK_SECONDS), '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      ...hls('0:v', 'v', ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-keyint_min', '50', '-sc_threshold', '0',
        '-b:v', '40k']),
      ...hls('1:a', 'a', ['-c:a', 'aac', '-b:a', '32k'])]);
    if (made.code !== 0) throw new Error(`history: ffmpeg failed: ${made.stderr}`);
    const blocks = o.seconds / BLOCK_SECONDS;
    const startMs = o.endMs - o.seconds * 1000;
    for (const [prefix, rendition] of [['v', o.video], ['a', o.audio]] as const) {
      const dir = path.join(streamDir, rendition);
      await fs.mkdir(path.join(dir, DASH_DIR), { recursive: true });
      const init = await fs.readFile(path.join(work, `${prefix}-init.mp4`));
      await fs.writeFile(path.join(dir, initName(0)), init);
      const media = inspectInit(init);
      const timescale = [...media.tracks.values()][0]?.timescale ?? 0;
      const block = await Promise.all(Array.from({ length: BLOCK_SEGMENTS },
        async (_v, k) => fs.readFile(path.join(work, `${prefix}-${k}.m4s`))));
      const facts = block.map((b) => inspectSegment(b, media));
      const firstUs = (facts[0]?.startTime ?? 0) * 1e6;
      for (let b = 0; b < blocks; b++) {
        for (let k = 0; k < BLOCK_SEGMENTS; k++) {
          const buf = Buffer.from(block[k] ?? Buffer.alloc(0));
          shiftDecodeTimes(buf, b * BLOCK_SECONDS * timescale);
          const seq = b * BLOCK_SEGMENTS + k;
          const mediaStartUs = Math.round((facts[k]?.startTime ?? 0) * 1e6 + b * BLOCK_SECONDS * 1e6);
          const name = segmentName({ seq, startMs: Math.round(startMs + (mediaStartUs - firstUs) / 1000),
            durationUs: Math.round((facts[k]?.duration ?? 0) * 1e6), disc: 0, mediaStartUs }, 'm4s');
          await fs.writeFile(path.join(dir, name), buf);
          await fs.link(path.join(dir, name), path.join(dir, DASH_DIR, dashSegmentName(seq)));
        }
      }
    }
    return { video: o.video, audio: o.audio, startMs, endMs: o.endMs, segments: blocks * BLOCK_SEGMENTS };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}
