import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ffmpegArgs } from '../../agent/encoder/args.js';
import { parseStreamSettings } from '../../packager/settings.js';
import { parsePlaylist } from '../support/m3u8.js';
import { tempDir, until } from '../support/run.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), '../support/packager-child.js');

function startPackager(root: string, settings: object): { proc: ChildProcess; lines: string[]; ready: Promise<void> } {
  const proc = spawn(process.execPath, [child, root, JSON.stringify(settings)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => {
      if (l === 'ready') resolve();
      else lines.push(l);
    });
    proc.once('exit', (code) => reject(new Error(`packager exited early (${String(code)})`)));
  });
  return { proc, lines, ready };
}

describe('crash recovery', function () {
  this.timeout(120_000);

  for (const format of ['ts', 'fmp4'] as const) {
    it(`after SIGKILL the agent rebuilds the index from the directory and continues (${format}): `
      + 'no segment lost or listed twice', async () => {
      const root = await tempDir('crash');
      const settings = parseStreamSettings({ app: 'live', stream: 'crash', renditions: ['src'], format, windowSeconds: 0,
        segmentSeconds: 1 });
      const streamDir = path.join(root, 'live', 'crash');
      const first = startPackager(root, settings);
      await first.ready;
      // A real-time encoder, so the packager is killed while segments keep coming.
      const encoder = spawn('ffmpeg', ffmpegArgs({
        input: { kind: 'test-pattern', width: 320, height: 180, fps: 25, durationSeconds: 12 }, mode: 'transcode',
        renditions: [{ name: 'src', height: 180 }], format, segmentSeconds: 1, session: 'scrash', streamDir, realtime: true,
      }), { stdio: 'ignore' });
      const encoderDone = new Promise((resolve) => encoder.once('exit', resolve));
      await until('four segments listed', () => (first.lines.length >= 4 ? true : undefined), 30_000);
      first.proc.kill('SIGKILL');
      await new Promise((resolve) => first.proc.once('exit', resolve));
      const listedBefore = first.lines.length;
      // Segments pile up in incoming/ while nobody packages.
      await until('a backlog in incoming/', async () => {
        const files = await fs.readdir(path.join(streamDir, 'src', 'incoming'));
        return files.filter((f) => f.endsWith(format === 'ts' ? '.ts' : '.m4s')).length >= 2 ? true : undefined;
      }, 30_000);
      const second = startPackager(root, settings);
      await second.ready;
      await encoderDone;
      await until('the backlog and the rest listed', async () => {
        const files = await fs.readdir(path.join(streamDir, 'src', 'incoming'));
        return files.some((f) => /\.(ts|m4s)$/.test(f)) ? undefined : true;
      }, 30_000);
      await until('every segment reported listed', () => (first.lines.length + second.lines.length >= 12 ? true : undefined), 10_000);
      second.proc.kill('SIGTERM');
      await new Promise((resolve) => second.proc.once('exit', resolve));

      const p = parsePlaylist(await fs.readFile(path.join(streamDir, 'src', 'index.m3u8'), 'utf8'));
      const seqs = p.segments.map((s) => s.seq);
      assert.deepEqual(seqs, seqs.map((_s, i) => i), 'contiguous sequence numbers, no duplicates');
      assert.equal(new Set(p.segments.map((s) => s.uri)).size, p.segments.length);
      assert.equal(p.segments.length, 12, 'every segment the encoder wrote is listed');
      assert.ok(listedBefore >= 4 && second.lines.length >= 2, `listed ${listedBefore} before the crash, ${second.lines.length} after`);
      assert.ok(p.segments.every((s) => !s.discontinuity), 'the same encoder session continues without a discontinuity');
      const total = p.segments.reduce((a, s) => a + s.duration, 0);
      assert.ok(Math.abs(total - 12) < 0.05, `${total}s listed`);
      await fs.rm(root, { recursive: true, force: true });
    });
  }
});
