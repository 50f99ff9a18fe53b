// ffmpeg command lines for the encoder side of the packager contract: each rendition's
// segments go to <rendition>/incoming/<session>-<n>.<ext>, written under a temp name and
// renamed when complete (hls muxer, temp_file), with keyframes on every segment boundary.
import path from 'node:path';
import { DvrError } from '../../common/errors.js';
import { PART_TARGET_SECONDS, type RenditionSpec } from '../../common/stream-settings.js';
import { PARTS_DIR } from '../../packager/layout.js';

export type { RenditionSpec };

export type EncoderInput =
  | { kind: 'test-pattern'; width: number; height: number; fps: number; durationSeconds?: number }
  | { kind: 'url'; url: string };

export interface EncoderJob {
  input: EncoderInput;
  /** copy: pass the source through unchanged (one rendition). */
  mode: 'copy' | 'transcode';
  renditions: RenditionSpec[];
  format: 'ts' | 'fmp4';
  segmentSeconds: number;
  /** Names this encoder run; a new session means a reconnect (discontinuity). [A-Za-z0-9]. */
  session: string;
  /** <stream dir>/<rendition>/incoming is where each rendition is written. */
  streamDir: string;
  fps?: number;
  realtime?: boolean;
  /**
   * Low latency: each rendition is written as it is encoded, a fragment at a time, to
   * <rendition>/parts/<session>-<n>.mp4 (the packager's part cutter makes the parts and the
   * segments of them); segments complete are listed in <session>.csv.
   */
  lowLatency?: boolean;
}

export function newSession(now = Date.now()): string {
  return `s${now.toString(36)}`;
}

/** A live source that goes silent must end the run (the supervisor restarts it), not hang it. */
const READ_TIMEOUT_US = 10_000_000;

function inputArgs(job: EncoderJob): string[] {
  const re = job.realtime === false ? [] : ['-re'];
  if (job.input.kind === 'url') {
    const timeout = job.input.url.startsWith('rtmp') ? ['-rw_timeout', String(READ_TIMEOUT_US)] : [];
    return [...timeout, '-i', job.input.url];
  }
  const { width, height, fps, durationSeconds } = job.input;
  // -t before each -i limits the input, so every output ends together.
  const t = durationSeconds !== undefined ? ['-t', String(durationSeconds)] : [];
  return [
    ...re, ...t, '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`,
    ...re, ...t, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
  ];
}

/**
 * Copy-mode fMP4 is split into a video rendition (the ladder's one) and an audio rendition, as the
 * transcode ladder is (CMAF): dash.js plays no Representation that muxes both, and HLS players take
 * the audio group as well. Returns the audio rendition's name, or undefined when nothing is split.
 */
export function copyAudioRendition(job: { format: 'ts' | 'fmp4'; mode: 'copy' | 'transcode'; renditions: readonly RenditionSpec[] }):
string | undefined {
  if (job.format !== 'fmp4' || job.mode !== 'copy') return undefined;
  return job.renditions[0]?.name === 'audio' ? 'sound' : 'audio';
}

/**
 * The mp4 muxer's flags for fMP4 segments: the hls muxer's own, and frag_discont, so that each
 * fragment's decode time (tfdt) is the source's, on the clock every rendition shares. Without it
 * each track is moved to start at 0 and its delay hidden in an edit list (a copied camera whose
 * video starts 0.7 s after its audio had both listed at 0, which MSE players do not undo).
 */
const FMP4_MOVFLAGS = 'movflags=+frag_custom+dash+delay_moov+frag_discont';

/**
 * The fragmented MP4 a low-latency rendition is written as: a fragment at each keyframe and once 90 %
 * of a part's target is reached (a frame more still fits), each flushed to the file at once; the
 * decode times are the source's (frag_discont), as the hls muxer's segments have them.
 */
const PARTS_MOVFLAGS = 'movflags=+frag_keyframe+delay_moov+frag_discont+default_base_moof+skip_trailer';

/** One rendition's muxer: the hls muxer into incoming/, or for low latency the segment muxer into parts/. */
function muxer(job: EncoderJob, rendition: string): { format: 'hls' | 'segment'; options: Array<[string, string]>; target: string } {
  if (job.format === 'fmp4' && job.lowLatency === true) {
    const dir = path.join(job.streamDir, rendition, PARTS_DIR);
    const fragmentUs = Math.round(PART_TARGET_SECONDS * 0.9 * 1e6);
    return { format: 'segment', target: path.join(dir, `${job.session}-%d.mp4`), options: [
      ['segment_time', String(job.segmentSeconds)], ['segment_format', 'mp4'],
      ['segment_format_options', `${PARTS_MOVFLAGS}:frag_duration=${fragmentUs}:flush_packets=1`],
      ['segment_list', path.join(dir, `${job.session}.csv`)], ['segment_list_type', 'csv'], ['segment_list_flags', 'live']] };
  }
  const target = path.join(job.streamDir, rendition, 'incoming', `${job.session}.m3u8`);
  return { format: 'hls', options: hlsOptions(job, rendition), target };
}

/** The hls muxer's options for one rendition, as name/value pairs. */
function hlsOptions(job: EncoderJob, rendition: string): Array<[string, string]> {
  const incoming = path.join(job.streamDir, rendition, 'incoming');
  const ext = job.format === 'fmp4' ? 'm4s' : 'ts';
  const fmp4: Array<[string, string]> = job.format === 'fmp4'
    ? [['hls_segment_type', 'fmp4'], ['hls_fmp4_init_filename', `${job.session}-init.mp4`], ['hls_segment_options', FMP4_MOVFLAGS]]
    : [];
  return [['hls_time', String(job.segmentSeconds)], ['hls_list_size', '3'], ['hls_flags', 'temp_file+independent_segments'],
    ...fmp4, ['hls_segment_filename', path.join(incoming, `${job.session}-%d.${ext}`)]];
}

/**
 * A split copy: one output through the tee muxer, whose slaves each take the source's video or its
 * audio. A source without one of them (a video-only camera) loses that slave only (onfail=ignore):
 * separate outputs would make ffmpeg refuse to start, and an SRT caller would be dropped with it.
 */
function splitCopyArgs(job: EncoderJob, audio: string): string[] {
  const video = job.renditions[0]?.name ?? 'source';
  const slave = (select: 'v' | 'a', rendition: string): string => {
    const m = muxer(job, rendition);
    // A value that is itself a list of options (segment_format_options) escapes its separators once more.
    const options = [['select', select], ['f', m.format], ...m.options.map(([k, v]) => [k, v.replace(/[:=]/g, (c) => `\\\\${c}`)]),
      ['onfail', 'ignore']];
    return `[${options.map(([k, v]) => `${k}=${v}`).join(':')}]${m.target}`;
  };
  // The tee muxer's own separators and escapes (it also trims spaces); the names are [a-z0-9_-], so
  // only the storage root could hold one.
  if (/[:|[\]\\'"\s]/.test(job.streamDir)) {
    throw new DvrError('DVR_ERR_CONFIG', `storage path ${job.streamDir}: ':', '|', '[', ']', quotes, backslashes and spaces `
      + 'are not allowed in it');
  }
  const maps = job.input.kind === 'url' ? ['-map', '0:v?', '-map', '0:a?'] : ['-map', '0:v', '-map', '1:a'];
  return [...maps, '-c', 'copy', '-f', 'tee', `${slave('v', video)}|${slave('a', audio)}`];
}

function outputArgs(job: EncoderJob, r: RenditionSpec): string[] {
  // fMP4 ladders with an audio rendition are demuxed (CMAF): video renditions carry no audio.
  const demuxed = job.format === 'fmp4' && job.mode === 'transcode' && r.height !== undefined
    && job.renditions.some((x) => x.height === undefined);
  const video = job.input.kind === 'url' ? ['-map', '0:v?'] : ['-map', '0:v'];
  const audio = demuxed ? [] : job.input.kind === 'url' ? ['-map', '0:a?'] : ['-map', '1:a'];
  const maps = r.height === undefined && job.mode === 'transcode' ? (job.input.kind === 'url' ? ['-map', '0:a?'] : ['-map', '1:a'])
    : [...video, ...audio];
  const fps = job.fps ?? (job.input.kind === 'test-pattern' ? job.input.fps : 25);
  let codec: string[];
  if (job.mode === 'copy') {
    codec = ['-c', 'copy'];
  } else if (r.height === undefined) {
    codec = ['-vn', '-c:a', 'aac', '-b:a', `${r.audioKbps ?? 96}k`];
  } else {
    const gop = Math.round(fps * job.segmentSeconds);
    codec = [
      '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-vf', `scale=-2:${r.height}`,
      '-b:v', `${r.videoKbps ?? 1500}k`, '-maxrate', `${Math.round((r.videoKbps ?? 1500) * 1.2)}k`,
      '-bufsize', `${(r.videoKbps ?? 1500) * 2}k`, '-pix_fmt', 'yuv420p',
      '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0',
      '-force_key_frames', `expr:gte(t,n_forced*${job.segmentSeconds})`,
      ...(demuxed ? ['-an'] : ['-c:a', 'aac', '-b:a', `${r.audioKbps ?? 96}k`, '-ar', '48000']),
    ];
  }
  const m = muxer(job, r.name);
  return [...maps, ...codec, '-f', m.format, ...m.options.flatMap(([k, v]) => [`-${k}`, v]), m.target];
}

export function ffmpegArgs(job: EncoderJob): string[] {
  const audio = copyAudioRendition(job);
  const outputs = audio !== undefined ? splitCopyArgs(job, audio)
    : (job.mode === 'copy' ? job.renditions.slice(0, 1) : job.renditions).flatMap((r) => outputArgs(job, r));
  return ['-hide_banner', '-loglevel', 'error', '-nostdin', ...inputArgs(job), ...outputs];
}
