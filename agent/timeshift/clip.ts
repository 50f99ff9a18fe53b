// A range of a rendition as one MP4, without re-encoding: ffmpeg's concat demuxer reads the
// segments (an fMP4 segment behind its init, each as a concat: URL) and writes a fragmented MP4 whose
// moov comes first, so the file plays while it is still being sent.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initName, segmentName, type SegmentExt, type SegmentRecord } from '../../packager/layout.js';
import { THUMBNAIL_WIDTH } from '../../packager/render/master.js';

/** The concat demuxer's script for the segments of one rendition directory. Pure. */
export function concatScript(dir: string, ext: SegmentExt, segments: readonly SegmentRecord[]): string {
  const quote = (p: string): string => `'${p.replace(/'/g, `'\\''`)}'`;
  const lines = ['ffconcat version 1.0'];
  for (const s of segments) {
    const file = path.join(dir, segmentName(s, ext));
    lines.push(`file ${quote(ext === 'm4s' ? `concat:${path.join(dir, initName(s.disc))}|${file}` : file)}`);
    // A fragment's timestamps start where it sits in the stream, not at 0: without its duration the
    // demuxer would take the fragment's end time for its length.
    lines.push(`duration ${(s.durationUs / 1e6).toFixed(6)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One rendition's part of a clip: its directory and the segments of the range. */
export interface ClipTrack { dir: string; ext: SegmentExt; segments: readonly SegmentRecord[] }

/**
 * ffmpeg writing the clip of one or more renditions (video, and audio kept apart) to its stdout; the
 * concat scripts are removed when it exits. The tracks start where their first segments start in
 * wall-clock time, relative to the first track's: they stay in sync though their segments do not align.
 */
export async function startClip(tracks: readonly ClipTrack[], ffmpeg = 'ffmpeg'): Promise<ChildProcess> {
  const first = tracks[0]?.segments[0];
  if (!first) throw new Error('a clip needs segments');
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'dvr-clip-'));
  const inputs: string[] = [];
  for (const [k, t] of tracks.entries()) {
    const script = path.join(tmp, `${k}.ffconcat`);
    await fs.writeFile(script, concatScript(t.dir, t.ext, t.segments), { mode: 0o600 });
    const offset = ((t.segments[0]?.startMs ?? first.startMs) - first.startMs) / 1000;
    inputs.push(...(offset !== 0 ? ['-itsoffset', offset.toFixed(3)] : []),
      '-f', 'concat', '-safe', '0', '-protocol_whitelist', 'file,concat', '-i', script);
  }
  const ts = tracks.some((t) => t.ext === 'ts');
  const child = spawn(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-nostdin', ...inputs,
    ...tracks.flatMap((_, k) => ['-map', `${k}`]), '-c', 'copy', ...(ts ? ['-bsf:a', 'aac_adtstoasc'] : []),
    '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', 'pipe:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.once('close', () => { void fs.rm(tmp, { recursive: true, force: true }); });
  return child;
}

/** How long ffmpeg may take for one thumbnail before it is killed, ms. */
const THUMB_TIMEOUT_MS = 10_000;

/**
 * The first picture of a segment (a keyframe) as a small JPEG, or why there is none (an audio
 * rendition, a file ffmpeg cannot read, a stalled storage). ffmpeg runs at a low priority: the
 * edge's serving comes first.
 */
export function thumbnail(dir: string, ext: SegmentExt, s: SegmentRecord, ffmpeg = 'ffmpeg'):
  Promise<{ jpeg?: Buffer; error?: string }> {
  const file = path.join(dir, segmentName(s, ext));
  const input = ext === 'm4s' ? `concat:${path.join(dir, initName(s.disc))}|${file}` : file;
  return new Promise((resolve) => {
    const child = spawn(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-protocol_whitelist', 'file,concat',
      '-skip_frame', 'nokey', '-i', input, '-map', '0:v:0', '-frames:v', '1', '-vf', `scale=${THUMBNAIL_WIDTH}:-2`, '-q:v', '5',
      '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) {
      try { os.setPriority(child.pid, 10); } catch { /* gone already */ }
    }
    const parts: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => parts.push(d));
    child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-500); });
    const timer = setTimeout(() => { stderr += ` (killed after ${THUMB_TIMEOUT_MS} ms)`; child.kill('SIGKILL'); }, THUMB_TIMEOUT_MS);
    child.once('error', (err) => { clearTimeout(timer); resolve({ error: err.message }); });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0 && parts.length > 0) resolve({ jpeg: Buffer.concat(parts) });
      else resolve({ error: stderr.trim() || `ffmpeg exited ${String(code)}` });
    });
  });
}
