// Keeps one ffmpeg encoder running: every restart is a new session (a discontinuity in the
// DVR), with exponential backoff between attempts.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../common/log.js';
import { ffmpegArgs, newSession, type EncoderJob } from './args.js';

export interface RestartPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** A run longer than this resets the backoff. */
  healthyAfterMs: number;
}

export class EncoderSupervisor {
  private child: ChildProcess | undefined;
  private stopped = false;
  private delay: number;
  private timer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();
  restarts = 0;

  constructor(private readonly job: Omit<EncoderJob, 'session'>, private readonly policy: RestartPolicy,
    private readonly log: Logger, private readonly binary = 'ffmpeg') {
    this.delay = policy.initialDelayMs;
  }

  start(): void {
    if (this.stopped || this.child) return;
    const session = newSession();
    const args = ffmpegArgs({ ...this.job, session });
    const startedAt = Date.now();
    const child = spawn(this.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
    this.log.info({ session, pid: child.pid }, 'encoder started');
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.child = undefined;
        resolve();
        if (this.stopped) return;
        if (Date.now() - startedAt > this.policy.healthyAfterMs) this.delay = this.policy.initialDelayMs;
        this.log.warn({ session, code, signal, stderr: stderr.trim().slice(-500), retryInMs: this.delay }, 'encoder exited; restarting');
        this.restarts++;
        this.timer = setTimeout(() => this.start(), this.delay);
        this.delay = Math.min(this.policy.maxDelayMs, this.delay * 2);
      });
    });
  }

  /** Asks ffmpeg to finish its segment (SIGINT), kills it after `timeoutMs`. Idempotent. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (!child) return;
    child.kill('SIGINT');
    const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(kill);
  }
}
