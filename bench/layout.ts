// The storage layout's cost on the lab's network mount: a rendition's segments in one directory
// (today's layout: a week of 2 s segments is 302,400 names) against folders of 1000 (the layout the
// segment folders would bring), for what the packager and the edges do to them: write a segment and
// rename it into place, look one up by name, the recovery scan (list the names and stat each, as
// packager/rendition.ts recover() did), the packager's own recovery (sizes from the chunks' size
// files) and the purge of the oldest hour. The names are the
// packager's own; the files are made on the storage host's side (its export, local disk) and every
// measured operation goes through a transcoder host's mount (in that host's mount namespace, where
// its agent sees it). Builds its own lab and removes it.
// Usage: node dist/bench/layout.js [--days 1,7]
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, sshdPid } from '../lab/hosts.js';
import { host } from '../lab/lab.js';
import { readState } from '../lab/state.js';
import { labPaths } from '../lab/topology.js';
import { chunkName, chunkPieceName, chunkSizesName, CHUNK_DIR, segmentName } from '../packager/layout.js';
import { CHUNK_SIZE } from '../packager/render/hls.js';
import { Rendition } from '../packager/rendition.js';
import { percentile, runBench, type Started } from './util.js';

const dvr = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'dvr.cjs');
const daysArg = process.argv[process.argv.indexOf('--days') + 1];
const DAYS = process.argv.includes('--days') && daysArg ? daysArg.split(',').map(Number) : [1, 7];
const SEGMENT_S = 2;
const PER_FOLDER = 1000;
const HOUR = 3600 / SEGMENT_S;
const T0 = 1_800_000_000_000;

type Layout = 'flat' | 'folders';

const nameOf = (seq: number): string => segmentName({ seq, startMs: T0 + seq * SEGMENT_S * 1000, durationUs: SEGMENT_S * 1e6,
  disc: 0, mediaStartUs: seq * SEGMENT_S * 1e6 }, 'ts');
const folderOf = (seq: number): string => String(Math.floor(seq / PER_FOLDER)).padStart(6, '0');
const relPath = (layout: Layout, seq: number): string => (layout === 'flat' ? nameOf(seq) : path.join(folderOf(seq), nameOf(seq)));

async function lab(...args: string[]): Promise<void> {
  const r = await run(process.execPath, [dvr, 'lab', ...args], 900_000);
  if (r.code !== 0) throw new Error(`dvr lab ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
}

async function inBatches<T>(items: T[], width: number, each: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(each));
}

const seqs = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

/** `count` segments on the storage host's side of the export (empty: names are what is measured; the lab's export is a 1 GiB tmpfs). */
async function populate(dir: string, layout: Layout, count: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  if (layout === 'folders') {
    for (let f = 0; f * PER_FOLDER < count; f++) await fs.mkdir(path.join(dir, folderOf(f * PER_FOLDER)), { recursive: true });
  }
  await inBatches(seqs(0, count), 256, (s) => fs.writeFile(path.join(dir, relPath(layout, s)), ''));
  if (layout === 'folders') return;
  // The chunks the packager writes beside them (text, compressed piece, sizes), which recovery reads.
  await fs.mkdir(path.join(dir, CHUNK_DIR));
  const sizes = '0\n'.repeat(CHUNK_SIZE);
  await inBatches(seqs(0, Math.floor(count / CHUNK_SIZE)).map((k) => k * CHUNK_SIZE), 64, async (first) => {
    for (const [name, text] of [[chunkName(first), ''], [chunkPieceName(first, 0, 0), ''], [chunkSizesName(first), sizes]] as const) {
      await fs.writeFile(path.join(dir, CHUNK_DIR, name), text);
    }
  });
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

interface Figures { writeMs: number; lookupMs: number; listS: number; scanS: number; recoverS: number; purgeS: number }

/** The operations through the mount on a directory of `count` segments. */
async function measure(dir: string, layout: Layout, count: number): Promise<Figures> {
  const segment = Buffer.alloc(1 << 20, 7);
  const writes: number[] = [];
  for (let i = 0; i < 20; i++) {
    const seq = count + i;
    writes.push(await timed(async () => {
      const final = path.join(dir, relPath(layout, seq));
      if (layout === 'folders' && seq % PER_FOLDER === 0) await fs.mkdir(path.dirname(final), { recursive: true });
      const temp = path.join(path.dirname(final), `.${path.basename(final)}.tmp`);
      await fs.writeFile(temp, segment);
      await fs.rename(temp, final);
    }));
  }
  const lookups: number[] = [];
  for (let i = 0; i < 200; i++) {
    const seq = Math.floor(((i * 7919) % 1000) / 1000 * count);
    lookups.push(await timed(() => fs.stat(path.join(dir, relPath(layout, seq)))));
  }
  let names: string[] = [];
  const listMs = await timed(async () => {
    if (layout === 'flat') names = await fs.readdir(dir);
    else for (const f of (await fs.readdir(dir)).sort()) for (const n of await fs.readdir(path.join(dir, f))) names.push(path.join(f, n));
  });
  const scanMs = listMs + await timed(() => inBatches(names, 64, (n) => fs.stat(path.join(dir, n))));
  // The packager's recovery of the rendition (the flat layout is the one it reads).
  const recoverMs = layout === 'flat'
    ? await timed(() => new Rendition('source', dir, path.join(dir, '..', 'spool'), 'ts', SEGMENT_S).recover()) : NaN;
  const purgeMs = await timed(async () => {
    await inBatches(seqs(0, HOUR), 16, (s) => fs.unlink(path.join(dir, relPath(layout, s))));
    if (layout === 'folders') for (let f = 0; (f + 1) * PER_FOLDER <= HOUR; f++) await fs.rmdir(path.join(dir, folderOf(f * PER_FOLDER)));
  });
  return { writeMs: percentile(writes, 50), lookupMs: percentile(lookups, 50), listS: listMs / 1000, scanS: scanMs / 1000,
    recoverS: recoverMs / 1000, purgeS: purgeMs / 1000 };
}

async function main(started: Started): Promise<void> {
  process.env['DVR_LAB_DIR'] ??= '/var/lib/dvr-lab-bench';
  process.env['DVR_LAB_NAME'] ??= 'dvrbench';
  process.env['DVR_LAB_SUBNET'] ??= '10.209.78.0/24';
  console.log('building the lab (dvr lab up)');
  started.add('the lab', () => lab('down'));
  await lab('up');
  const state = await readState(process.env['DVR_LAB_DIR']);
  if (!state) throw new Error('dvr lab up left no state');
  const p = labPaths(state.options.dir);
  // In tc-1's mount namespace (its sshd's), where its agent sees the mount.
  const pid = await sshdPid(host(state, 'tc-1'));
  const inHost = (...args: string[]): ReturnType<typeof run> =>
    run('nsenter', ['-t', String(pid), '-m', '-n', '--', ...args], 1_800_000);
  const fsType = (await inHost('findmnt', '-n', '-o', 'FSTYPE', p.storageRoot)).stdout.trim();
  if (!/sshfs|nfs/.test(fsType)) throw new Error(`${p.storageRoot} is not tc-1's network mount (${fsType || 'not a mount'})`);
  const rows: Array<[string, ...string[]]> = [['', ...DAYS.flatMap((d) => [`flat ${d} d`, `folders ${d} d`])]];
  const results: Figures[] = [];
  for (const days of DAYS) {
    const count = Math.round((days * 86_400) / SEGMENT_S);
    for (const layout of ['flat', 'folders'] as const) {
      const rel = path.join('bench-layout', `${layout}-${days}d`);
      console.log(`${layout}, ${days} d: ${count} segments`);
      await populate(path.join(p.export, rel), layout, count);
      // The mount logs in as the service account: the files are its own, as the packager's are.
      const chown = await run('chown', ['-R', 'dvr:dvr', path.join(p.export, 'bench-layout')], 600_000);
      if (chown.code !== 0) throw new Error(`chown: ${chown.stderr.trim()}`);
      const r = await inHost(process.execPath, fileURLToPath(import.meta.url), '--measure', path.join(p.storageRoot, rel), layout,
        String(count));
      if (r.code !== 0) throw new Error(`measuring on tc-1 failed: ${r.stderr.trim()}`);
      results.push(JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Figures);
      await fs.rm(path.join(p.export, rel), { recursive: true, force: true });
    }
  }
  const row = (label: string, f: (x: Figures) => string): void => { rows.push([label, ...results.map(f)]); };
  row('write 1 MiB + rename, p50 ms', (x) => x.writeMs.toFixed(1));
  row('lookup by name (stat), p50 ms', (x) => x.lookupMs.toFixed(2));
  row('list every name, s', (x) => x.listS.toFixed(2));
  row('recovery scan (list + stat each), s', (x) => x.scanS.toFixed(1));
  row('the packager\'s recovery (chunk sizes), s', (x) => (Number.isFinite(x.recoverS) ? x.recoverS.toFixed(1) : '-'));
  row(`purge the oldest hour (${HOUR} files), s`, (x) => x.purgeS.toFixed(2));
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(`\nstorage layout on the lab's ${fsType} mount (${SEGMENT_S} s segments, folders of ${PER_FOLDER})\n`);
  console.log([line(rows[0] ?? []), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n'));
}

// In the host's namespaces: measure one directory and print the figures as JSON.
if (process.argv[2] === '--measure') {
  const [dir = '', layout = 'flat', count = '0'] = process.argv.slice(3);
  console.log(JSON.stringify(await measure(dir, layout as Layout, Number(count))));
} else {
  await runBench('bench:layout', main);
}
