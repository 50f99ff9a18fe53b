// A range of a rendition as one MP4, without re-encoding: ffmpeg's concat demuxer reads the
// segments (an fMP4 segment behind its init, each as a concat: URL) and writes a fragmented MP4 whose
// moov comes first, so the file plays while it is still being sent.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initName, segmentName, type SegmentExt, type SegmentRecord } from '../packager/layout.js';

/** The concat demuxer's script for the segments of one rendition directory. Pure. */
export function concatScript(dir: string, ext: SegmentExt, segments: readonly SegmentRecord[]): string {
  const quote = (p: string): string => `'${p.replace(/'/g, `'\\''`)}'`;
  const lines = ['ffconcat version 1.0'];
  for (const s of segments) {
    const file = path.join(dir, segmentName(s, ext));
    lines.push(`file ${quote(ext === 'm4s' ? `concat:${path.join(dir, initName(s.disc))}|${file}` : file)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** ffmpeg writing the clip to its stdout; the script file is removed when it exits. */
export async function startClip(
  dir: string, ext: SegmentExt, segments: readonly SegmentRecord[], ffmpeg = 'ffmpeg',
): Promise<ChildProcess> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'dvr-clip-'));
  const script = path.join(tmp, 'list.ffconcat');
  await fs.writeFile(script, concatScript(dir, ext, segments), { mode: 0o600 });
  const child = spawn(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 'concat', '-safe', '0',
    '-protocol_whitelist', 'file,concat', '-i', script, '-map', '0', '-c', 'copy',
    ...(ext === 'ts' ? ['-bsf:a', 'aac_adtstoasc'] : []),
    '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', 'pipe:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.once('close', () => { void fs.rm(tmp, { recursive: true, force: true }); });
  return child;
}
