// Keeps one ffmpeg encoder running for a stream. Every (re)start is a new session, which the
// packager turns into a discontinuity. Detects exit, crash and stall (no segment for 3 segment
// durations); restarts with exponential backoff; reports when the reconnect grace runs out.
// ffmpeg's stderr goes to a log file and its pid to a pid file, not to pipes: if the agent is
// SIGKILLed the encoder keeps running and the restarted agent adopts it, so the DVR continues
// without a discontinuity (unless the policy leashes encoders to the agent: the appliance's).
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { promises as fs, openSync, closeSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../../common/errors.js';
import { leashed } from '../../common/leash.js';
import type { Logger } from '../../common/log.js';
import { ffmpegArgs, newSession, type EncoderJob } from './args.js';

export interface SupervisorPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** No segment for this long while running: the encoder is stalled and is killed. */
  stallAfterMs: number;
  /** Allowance for the first segment of a run (connect, first GOP). */
  firstSegmentMs: number;
  /** No segment for this long: the event ends (ENDLIST); a later segment starts the next one. */
  reconnectGraceMs: number;
  /** How long stop() waits for ffmpeg to finish its segment before killing it. */
  stopTimeoutMs: number;
  /**
   * Whether an encoder keeps running when the agent dies, to be adopted by the restarted agent (a
   * node's agent, restarted by pm2 or systemd); otherwise it stops with the agent (the appliance,
   * which nothing restarts by itself).
   */
  outliveAgent: boolean;
}

export interface SupervisorEvents {
  started: [{ session: string; pid: number; adopted: boolean }];
  exited: [{ session: string; code: number | null; signal: string | null; reason: 'exit' | 'stall' }];
  graceExpired: [];
}

interface PidFile { pid: number; session: string; startedAt: number }

export class EncoderSupervisor extends EventEmitter<SupervisorEvents> {
  private child: ChildProcess | undefined;
  private pid: number | undefined;
  private session: string | undefined;
  private stopped = false;
  private delay: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private runStartedAt = 0;
  private lastSegmentAt = 0;
  private graceReported = false;
  private exitWaiters: Array<() => void> = [];
  restarts = 0;
  stalls = 0;

  constructor(private readonly job: Omit<EncoderJob, 'session'>, private readonly policy: SupervisorPolicy,
    private readonly log: Logger, private readonly stateDir: string, private readonly name: string,
    private readonly binary = 'ffmpeg') {
    super();
    this.delay = policy.initialDelayMs;
  }

  get running(): boolean { return this.pid !== undefined; }
  get currentSession(): string | undefined { return this.session; }
  get currentPid(): number | undefined { return this.pid; }
  private get pidFile(): string { return path.join(this.stateDir, `${this.name}.pid`); }
  private get logFile(): string { return path.join(this.stateDir, `${this.name}.ffmpeg.log`); }

  /** Adopts an encoder left running by a previous agent process, or starts a new one. */
  async start(): Promise<void> {
    await fs.mkdir(this.stateDir, { recursive: true });
    const adopted = await this.adopt();
    if (!adopted) this.spawnEncoder();
    this.watchdog = setInterval(() => this.check(), 250);
    this.watchdog.unref();
  }

  /** The longest of the last segments listed, ms: a copy of a publisher's 10 s keyframe interval makes 10 s segments. */
  private recentDurationsMs: number[] = [];

  noteDuration(seconds: number): void {
    this.recentDurationsMs.push(seconds * 1000);
    if (this.recentDurationsMs.length > 10) this.recentDurationsMs.shift();
  }

  /** How long the encoder may go without a segment: the policy's, or three of the longest segments it made lately. */
  private get stallAllowanceMs(): number {
    return Math.max(this.policy.stallAfterMs, 3 * Math.max(0, ...this.recentDurationsMs));
  }

  /** A segment from this encoder arrived: it is alive, and the event goes on. */
  noteSegment(): void {
    const now = Date.now();
    this.lastSegmentAt = now;
    this.graceReported = false;
    if (now - this.runStartedAt > this.stallAllowanceMs) this.delay = this.policy.initialDelayMs;
  }

  /** Asks ffmpeg to finish its segment (SIGINT), kills it after stopTimeoutMs. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.watchdog);
    const pid = this.pid;
    if (pid === undefined) return;
    const exited = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    signal(pid, 'SIGINT');
    const kill = setTimeout(() => signal(pid, 'SIGKILL'), this.policy.stopTimeoutMs);
    await exited;
    clearTimeout(kill);
    await fs.rm(this.pidFile, { force: true });
  }

  private async adopt(): Promise<boolean> {
    let saved: PidFile;
    try {
      saved = JSON.parse(await fs.readFile(this.pidFile, 'utf8')) as PidFile;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') this.log.warn({ err: String(err) }, 'unreadable encoder pid file; starting afresh');
      return false;
    }
    const cmdline = await fs.readFile(`/proc/${saved.pid}/cmdline`, 'utf8').catch(() => '');
    // Only our own encoder: the pid may have been reused by anything since.
    if (!cmdline.includes(`${saved.session}-`) || !cmdline.includes(this.job.streamDir)) return false;
    this.pid = saved.pid;
    this.session = saved.session;
    this.runStartedAt = Date.now();
    this.pollAdopted(saved.pid);
    this.log.info({ pid: saved.pid, session: saved.session }, 'adopted the running encoder');
    this.emit('started', { session: saved.session, pid: saved.pid, adopted: true });
    return true;
  }

  private spawnEncoder(): void {
    if (this.stopped) return;
    const session = newSession();
    const args = ffmpegArgs({ ...this.job, session });
    const logFd = openSync(this.logFile, 'a', 0o640);
    // Its own process group: a terminal's Ctrl-C reaches the agent, which stops it after its segment.
    const cmd = this.policy.outliveAgent ? { binary: this.binary, args } : leashed(this.binary, args);
    const child = spawn(cmd.binary, cmd.args, { stdio: ['ignore', 'ignore', logFd], detached: true });
    closeSync(logFd);
    this.child = child;
    this.session = session;
    this.runStartedAt = Date.now();
    child.once('error', (err) => this.log.error({ err: err.message }, 'encoder could not start'));
    child.once('exit', (code, sig) => this.onExit(code, sig));
    if (child.pid === undefined) return;
    this.pid = child.pid;
    const pidFile: PidFile = { pid: child.pid, session, startedAt: this.runStartedAt };
    fs.writeFile(this.pidFile, JSON.stringify(pidFile), { mode: 0o640 }).catch((err: unknown) =>
      this.log.warn({ err: String(err) }, 'could not write the encoder pid file'));
    this.log.info({ session, pid: child.pid }, 'encoder started');
    this.emit('started', { session, pid: child.pid, adopted: false });
  }

  private pollAdopted(pid: number): void {
    const timer = setInterval(() => {
      if (!alive(pid)) {
        clearInterval(timer);
        this.onExit(null, null);
      }
    }, 250);
    timer.unref();
  }

  private stallReason: 'exit' | 'stall' = 'exit';
  private stallMark = 0;

  private onExit(code: number | null, sig: string | null): void {
    if (this.pid === undefined) return;
    const session = this.session ?? '';
    this.pid = undefined;
    this.child = undefined;
    const waiters = this.exitWaiters.splice(0);
    for (const w of waiters) w();
    const reason = this.stallReason;
    this.stallReason = 'exit';
    this.emit('exited', { session, code, signal: sig, reason });
    if (this.stopped) return;
    this.restarts++;
    this.log.warn({ session, code, signal: sig, reason, retryInMs: this.delay, log: this.logFile }, 'encoder exited; restarting');
    this.restartTimer = setTimeout(() => this.spawnEncoder(), this.delay);
    this.delay = Math.min(this.policy.maxDelayMs, this.delay * 2);
  }

  private check(): void {
    const now = Date.now();
    const pid = this.pid;
    if (pid !== undefined) {
      const since = Math.max(this.lastSegmentAt, this.runStartedAt, this.stallMark);
      const allowance = this.lastSegmentAt > this.runStartedAt ? this.stallAllowanceMs : this.policy.firstSegmentMs;
      if (now - since > allowance) {
        this.stalls++;
        this.log.warn({ session: this.session, silentMs: now - since }, 'encoder stalled: no segment; killing it');
        this.stallReason = 'stall';
        this.stallMark = now; // one kill per stall
        signal(pid, 'SIGKILL');
      }
    }
    if (!this.graceReported && this.lastSegmentAt > 0 && now - this.lastSegmentAt > this.policy.reconnectGraceMs) {
      this.graceReported = true;
      this.log.warn({ graceMs: this.policy.reconnectGraceMs }, 'no media within the reconnect grace: the event ends');
      this.emit('graceExpired');
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An exited process whose parent died lingers as a zombie until reaped: it is not running.
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if (errnoCode(err) !== 'ESRCH') throw err;
  }
}
