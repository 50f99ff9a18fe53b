// Watches the shared storage mount without ever blocking the event loop on it: probes run in a
// child process with a deadline (a hung NFS mount hangs the prober, not the agent). A probe checks
// the mount marker (an unmounted mountpoint is an empty directory), writes, reads back and removes
// a file, and reads the free space. The prober lives as long as the storage answers (one process,
// not one per probe). One stuck on a hung mount may not even die when killed (it waits in the
// kernel); no second one is started until it is gone, and its exit (the mount answered) brings a
// fresh prober and a probe at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { EventEmitter } from 'node:events';
import type { Logger } from '../../common/log.js';

export const MOUNT_MARKER = '.dvr-storage';

export interface StorageMonitorOptions {
  root: string;
  log: Logger;
  /** How often to probe. */
  intervalMs: number;
  /** A probe slower than this counts as a failure (stalled mount). */
  timeoutMs: number;
  /** Free bytes below which the disk counts as full. */
  minFreeBytes: number;
  /** A reader's mount (an edge's): the probe reads the marker instead of writing a file. */
  readOnly?: boolean;
  /** What the log says when the storage goes and comes back (the writer's spooling, by default). */
  messages?: { down: string; up: string };
}

export interface StorageState {
  available: boolean;
  reason: string | undefined;
  freeBytes: number | undefined;
  totalBytes: number | undefined;
  lastProbeMs: number | undefined;
}

export interface StorageEvents {
  down: [{ reason: string }];
  up: [];
  full: [{ freeBytes: number }];
}

// Runs in the child: argv[1] = root, argv[2] = marker name, argv[3] = 'ro' for a read-only probe.
// For each line on stdin it probes and prints one line: "ok <free> <total>" or "fail <reason>".
const PROBER = `
const fs = require('fs'), path = require('path');
const root = process.argv[1], marker = process.argv[2], readOnly = process.argv[3] === 'ro';
const probe = path.join(root, '.probe-' + process.pid);
function once() {
  try { fs.statSync(path.join(root, marker)); } catch (e) { return 'fail mount marker ' + marker + ' missing (not mounted?): ' + e.code; }
  if (readOnly) {
    try { fs.readFileSync(path.join(root, marker)); } catch (e) { return 'fail read probe failed: ' + (e.code || e.message); }
  } else try {
    fs.writeFileSync(probe, 'dvr');
    if (fs.readFileSync(probe, 'utf8') !== 'dvr') throw Object.assign(new Error('read back differs'), { code: 'EIO' });
    fs.unlinkSync(probe);
  } catch (e) { try { fs.unlinkSync(probe); } catch {} return 'fail write probe failed: ' + (e.code || e.message); }
  try { const s = fs.statfsSync(root); return 'ok ' + String(s.bavail * s.bsize) + ' ' + String(s.blocks * s.bsize); }
  catch (e) { return 'fail statfs failed: ' + (e.code || e.message); }
}
require('readline').createInterface({ input: process.stdin }).on('line', () => process.stdout.write(once() + '\\n'));
`;

type ProbeResult = { ok: true; free: number; total: number } | { ok: false; reason: string };

export class StorageMonitor extends EventEmitter<StorageEvents> {
  private state: StorageState = { available: true, reason: undefined, freeBytes: undefined, totalBytes: undefined, lastProbeMs: undefined };
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;
  private prober: { child: ChildProcess; answer: ((line: string) => void) | undefined } | undefined;
  /** A prober past its deadline that has not exited yet. */
  private stuck: ChildProcess | undefined;

  constructor(private readonly o: StorageMonitorOptions) {
    super();
  }

  get available(): boolean { return this.state.available; }
  snapshot(): StorageState { return { ...this.state }; }

  /** Probes once (so the first answer is known), then on every interval. */
  async start(): Promise<void> {
    await this.probeOnce();
    this.timer = setInterval(() => { void this.probeOnce(); }, this.o.intervalMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.prober?.child.kill('SIGKILL');
    this.prober = undefined;
  }

  async probeOnce(): Promise<StorageState> {
    if (this.running || this.stuck) return this.snapshot();
    this.running = true;
    try {
      const result = await this.runProbe();
      this.apply(result);
    } finally {
      this.running = false;
    }
    return this.snapshot();
  }

  private startProber(): NonNullable<StorageMonitor['prober']> {
    const child = spawn(process.execPath, ['-e', PROBER, this.o.root, MOUNT_MARKER, this.o.readOnly ? 'ro' : 'rw'],
      { stdio: ['pipe', 'pipe', 'ignore'] });
    const p: NonNullable<StorageMonitor['prober']> = { child, answer: undefined };
    // The prober never keeps the agent alive on its own.
    child.unref();
    for (const pipe of [child.stdin, child.stdout]) (pipe as { unref?: () => void } | null)?.unref?.();
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const a = p.answer; p.answer = undefined; a?.(line);
    });
    child.stdin?.on('error', () => undefined);
    child.once('exit', () => {
      if (this.prober === p) this.prober = undefined;
      const a = p.answer; p.answer = undefined;
      a?.('fail the prober exited');
    });
    return p;
  }

  private runProbe(): Promise<ProbeResult> {
    return new Promise((resolve) => {
      const p = this.prober ??= this.startProber();
      let done = false;
      const deadline = setTimeout(() => {
        if (done) return;
        done = true;
        p.answer = undefined;
        this.prober = undefined;
        p.child.kill('SIGKILL');
        if (p.child.exitCode === null && p.child.signalCode === null) {
          this.stuck = p.child;
          p.child.once('exit', () => {
            this.stuck = undefined;
            if (!this.closed) void this.probeOnce();
          });
        }
        resolve({ ok: false, reason: `probe of ${this.o.root} timed out after ${this.o.timeoutMs} ms (stalled mount)` });
      }, this.o.timeoutMs);
      p.answer = (line) => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        const [word, ...rest] = line.split(' ');
        if (word === 'ok') resolve({ ok: true, free: Number(rest[0] ?? 0), total: Number(rest[1] ?? 0) });
        else resolve({ ok: false, reason: `${this.o.root}: ${rest.join(' ') || 'probe failed'}` });
      };
      p.child.stdin?.write('probe\n');
    });
  }

  private apply(r: ProbeResult): void {
    if (this.closed) return;
    const was = this.state.available;
    this.state.lastProbeMs = Date.now();
    if (!r.ok) {
      this.state.available = false;
      this.state.reason = r.reason;
    } else {
      this.state.freeBytes = r.free;
      this.state.totalBytes = r.total;
      const full = r.free < this.o.minFreeBytes;
      this.state.available = !full;
      this.state.reason = full ? `${this.o.root}: disk full (${r.free} bytes free)` : undefined;
      if (full) this.emit('full', { freeBytes: r.free });
    }
    if (was && !this.state.available) {
      this.o.log.error({ root: this.o.root, reason: this.state.reason },
        this.o.messages?.down ?? 'shared storage unavailable: spooling segments locally');
      this.emit('down', { reason: this.state.reason ?? 'unknown' });
    } else if (!was && this.state.available) {
      this.o.log.info({ root: this.o.root }, this.o.messages?.up ?? 'shared storage back: listing the spooled segments');
      this.emit('up');
    }
  }
}
