// Runs the real encoder command line (as the agent builds it) into a stream's incoming/ dirs.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ffmpegArgs, type RenditionSpec } from '../../agent/encoder/args.js';
import { listDir } from '../../common/files.js';
import type { StreamPackager } from '../../packager/stream.js';
import { ffmpeg, run, until } from './run.js';

export interface EncodeOptions {
  streamDir: string;
  session: string;
  format: 'ts' | 'fmp4';
  renditions: RenditionSpec[];
  seconds: number;
  segmentSeconds?: number;
  realtime?: boolean;
}

export async function encode(o: EncodeOptions): Promise<void> {
  const args = ffmpegArgs({
    input: { kind: 'test-pattern', width: 640, height: 360, fps: 25, durationSeconds: o.seconds },
    mode: 'transcode', renditions: o.renditions, format: o.format, segmentSeconds: o.segmentSeconds ?? 2,
    session: o.session, streamDir: o.streamDir, realtime: o.realtime ?? false,
  });
  const res = await ffmpeg(args);
  if (res.code !== 0) throw new Error(`ffmpeg failed (${res.code}): ${res.stderr.slice(-1000)}`);
}

/** Waits until nothing is left in any incoming/ dir and the packager's queue is drained. */
export async function drained(sp: StreamPackager, deadlineMs = 30_000): Promise<void> {
  await until('incoming/ to be empty', async () => {
    for (const dir of sp.incomingDirs) {
      if ((await listDir(dir)).some((f) => /\.(ts|m4s)$/.test(f))) return undefined;
    }
    return true;
  }, deadlineMs);
  await sp.idle();
}

export async function readText(file: string): Promise<string> {
  return fs.readFile(file, 'utf8');
}

/** Duration of one segment's video (or first) stream as ffprobe reads its packets: end of the last minus start of the first. */
export async function ffprobeDuration(file: string, init?: string): Promise<number> {
  let target = file;
  if (init) {
    target = `${file}.probe.mp4`;
    await fs.writeFile(target, Buffer.concat([await fs.readFile(init), await fs.readFile(file)]));
  }
  const streams = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=index,codec_type', '-of', 'json', target]);
  const list = (JSON.parse(streams.stdout) as { streams: Array<{ index: number; codec_type: string }> }).streams;
  const pick = list.find((x) => x.codec_type === 'video') ?? list[0];
  const res = await run('ffprobe', ['-v', 'error', '-select_streams', String(pick?.index ?? 0), '-show_entries',
    'packet=pts_time,duration_time', '-of', 'json', target]);
  if (init) await fs.rm(target, { force: true });
  const packets = (JSON.parse(res.stdout) as { packets: Array<{ pts_time: string; duration_time: string }> }).packets;
  const starts = packets.map((p) => Number(p.pts_time));
  const ends = packets.map((p) => Number(p.pts_time) + Number(p.duration_time));
  return Math.max(...ends) - Math.min(...starts);
}

/** Plays a URL with ffmpeg as a client: decoding errors and the number of video frames decoded. */
export async function playAll(url: string): Promise<{ errors: string; frames: number }> {
  const res = await run('ffmpeg', ['-v', 'error', '-stats_period', '100', '-i', url, '-map', '0:v:0?', '-map', '0:a:0?',
    '-f', 'null', '-'], 180_000);
  const probe = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries',
    'stream=nb_read_frames', '-of', 'csv=p=0', url], 180_000);
  // ffmpeg's HLS demuxer does not offset timestamps at EXT-X-DISCONTINUITY, so its null muxer
  // reports the reset as non-monotonic DTS; that is the client's muxer, not a decoding error.
  const errors = (res.stderr + probe.stderr).split('\n').filter((l) => l.trim() !== '' && !/non monotonically increasing dts/.test(l));
  return { errors: errors.join('\n'), frames: Number(probe.stdout.trim().split('\n')[0]) };
}

export function renditionFile(sp: StreamPackager, rendition: string, name: string): string {
  return path.join(sp.paths.dir, rendition, name);
}
