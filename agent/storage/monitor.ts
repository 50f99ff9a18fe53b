// Watches the shared storage mount without ever blocking the event loop on it: each probe runs
// in a child process with a deadline (a hung NFS mount hangs the prober, not the agent). A probe
// checks the mount marker (an unmounted mountpoint is an empty directory), writes, reads back
// and removes a file, and reads the free space. A prober stuck on a hung mount may not even die
// when killed (it waits in the kernel); no second one is started until it is gone, and its exit
// (the mount answered) triggers the next probe at once.
import { execFile, type ChildProcess } from 'node:child_process';
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

// Runs in the child: argv[1] = root, argv[2] = marker name. Prints "free total" or exits non-zero with the reason.
const PROBE = `
const fs = require('fs'), path = require('path');
const root = process.argv[1], marker = process.argv[2];
try {
  fs.statSync(path.join(root, marker));
} catch (e) { console.error('mount marker ' + marker + ' missing (not mounted?): ' + e.code); process.exit(3); }
const probe = path.join(root, '.probe-' + process.pid);
try {
  fs.writeFileSync(probe, 'dvr');
  if (fs.readFileSync(probe, 'utf8') !== 'dvr') throw Object.assign(new Error('read back differs'), { code: 'EIO' });
  fs.unlinkSync(probe);
} catch (e) { try { fs.unlinkSync(probe); } catch {} console.error('write probe failed: ' + (e.code || e.message)); process.exit(4); }
const s = fs.statfsSync(root);
console.log(String(s.bavail * s.bsize) + ' ' + String(s.blocks * s.bsize));
`;

export class StorageMonitor extends EventEmitter<StorageEvents> {
  private state: StorageState = { available: true, reason: undefined, freeBytes: undefined, totalBytes: undefined, lastProbeMs: undefined };
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;
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

  private runProbe(): Promise<{ ok: true; free: number; total: number } | { ok: false; reason: string }> {
    return new Promise((resolve) => {
      let done = false;
      const child = execFile(process.execPath, ['-e', PROBE, this.o.root, MOUNT_MARKER], (err, stdout, stderr) => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        if (err) {
          resolve({ ok: false, reason: `${this.o.root}: ${stderr.trim() || err.message}` });
          return;
        }
        const [free, total] = stdout.trim().split(' ').map(Number);
        resolve({ ok: true, free: free ?? 0, total: total ?? 0 });
      });
      // Our own deadline: the callback above waits for the child's exit, which a hung mount can withhold.
      const deadline = setTimeout(() => {
        if (done) return;
        done = true;
        child.kill('SIGKILL');
        if (child.exitCode === null && child.signalCode === null) {
          this.stuck = child;
          child.once('exit', () => {
            this.stuck = undefined;
            if (!this.closed) void this.probeOnce();
          });
        }
        resolve({ ok: false, reason: `probe of ${this.o.root} timed out after ${this.o.timeoutMs} ms (stalled mount)` });
      }, this.o.timeoutMs);
    });
  }

  private apply(r: { ok: true; free: number; total: number } | { ok: false; reason: string }): void {
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
      this.o.log.error({ root: this.o.root, reason: this.state.reason }, 'shared storage unavailable: spooling segments locally');
      this.emit('down', { reason: this.state.reason ?? 'unknown' });
    } else if (!was && this.state.available) {
      this.o.log.info({ root: this.o.root }, 'shared storage back: listing the spooled segments');
      this.emit('up');
    }
  }
}
