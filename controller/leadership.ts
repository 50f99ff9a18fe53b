// Which controller runs what must run once (the failover sweep, the scaler): the one that holds
// the leader lease in the shared store. Every controller tries for it each round; the holder renews
// it. What the leader does to the state it does in a transaction that checks its term first, and the
// lease cannot change hands while that transaction runs: a leader that was paused (SIGSTOP, a long
// GC, a network cut) and comes back after another took over finds its term gone and does nothing.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../common/log.js';
import type { ControllerMetrics } from './metrics.js';
import { isDvrError } from '../common/errors.js';
import type { Lease, StateStore, StoreOps } from './store.js';

export interface LeadershipOptions {
  /** The controller's name (DVR_CONTROLLER_ID; default: the host's name). */
  name: string;
  /** Where its API is (listed by GET /api/v1/controllers). */
  url: () => string;
  /** How long a lease lasts without renewal: another controller takes over after this. */
  ttlMs: number;
  log: Logger;
  metrics: ControllerMetrics;
}

/** The controller's name unless DVR_CONTROLLER_ID gives one. */
export const defaultControllerName = (): string => hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64) || 'controller';

export class Leadership {
  /** This run of the controller (a restarted controller is another holder: its old lease is not its own). */
  readonly holder: string;
  private term: number | undefined;
  /** When this controller took the lease (ms); undefined while it does not lead. */
  leadingSince: number | undefined;
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  /** The store did not answer the last round (said once, until it answers). */
  private unreachable = false;
  /** The database's clock was found this far from this machine's (said once). */
  private skewSaid = false;

  constructor(private readonly store: StateStore, private readonly o: LeadershipOptions) {
    this.holder = `${o.name}#${randomBytes(4).toString('hex')}`;
  }

  get leads(): boolean { return this.term !== undefined; }

  /** The first round, then one every quarter of the lease. */
  async start(): Promise<void> {
    await this.tryLead();
    this.timer = setInterval(() => { this.round ??= this.tryLead().finally(() => { this.round = undefined; }); },
      Math.max(100, Math.floor(this.o.ttlMs / 4)));
    this.timer.unref();
  }

  /** Takes or renews the lease, and says this controller is alive. A store that does not answer: not leading. */
  async tryLead(): Promise<void> {
    try {
      const asked = Date.now();
      const lease = await this.store.lead(this.holder, this.o.ttlMs);
      this.checkClock(lease, asked);
      await this.store.seeController({ id: this.o.name, url: this.o.url(), startedAt: this.startedAt, lastSeen: Date.now() });
      this.become(lease.holder === this.holder ? lease.term : undefined, lease.holder);
    } catch (err) {
      const reason = isDvrError(err) ? err.details?.['reason'] : undefined;
      const why = typeof reason === 'string' ? reason : err instanceof Error ? err.message : String(err);
      if (this.term !== undefined) this.o.log.error({ err: why }, 'the store does not answer: this controller stops leading');
      else if (!this.unreachable) this.o.log.error({ err: why }, 'the store does not answer');
      this.unreachable = true;
      this.become(undefined, undefined);
      return;
    }
    if (this.unreachable) this.o.log.info('the store answers again');
    this.unreachable = false;
  }

  /**
   * Heartbeats and the reconnect grace are stamped with each controller's clock and compared by the
   * leader's: clocks that differ by seconds fail healthy nodes. The database's clock (the lease's)
   * is the common reference; a controller that is a second or more off says so.
   */
  private checkClock(lease: Lease, asked: number): void {
    if (lease.holder !== this.holder || this.skewSaid) return;
    const skew = lease.expiresAt - this.o.ttlMs - asked;
    if (Math.abs(skew) < 1000 + (Date.now() - asked)) return;
    this.skewSaid = true;
    this.o.log.warn({ skewMs: skew }, 'this machine\'s clock differs from the database\'s by a second or more: keep the controllers\' '
      + 'clocks in sync (NTP), or healthy nodes may be failed');
  }

  private become(term: number | undefined, holder: string | undefined): void {
    if (term !== this.term) {
      if (term !== undefined) this.o.log.info({ term, holder: this.holder }, 'this controller leads: it runs the sweep and the scaler');
      else if (this.term !== undefined) this.o.log.warn({ term: this.term, leader: holder ?? null }, 'this controller no longer leads');
      this.leadingSince = term !== undefined ? Date.now() : undefined;
    }
    this.term = term;
    this.o.metrics.leader.set(term !== undefined ? 1 : 0);
  }

  /**
   * Runs `fn` in a transaction fenced by this controller's term: not at all unless it leads, and
   * not when the store says its term is over (another controller took over meanwhile).
   */
  async fenced<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T | undefined> {
    const term = this.term;
    if (term === undefined) return undefined;
    return this.store.transaction(async (tx) => {
      if (!await tx.holdsLease(this.holder, term)) {
        this.become(undefined, undefined);
        return undefined;
      }
      return fn(tx);
    });
  }

  /** Whether this controller still leads, as the store says now (before an action outside the store: a machine made). */
  async confirm(): Promise<boolean> {
    return await this.fenced(() => Promise.resolve(true)) === true;
  }

  /** Stops trying; a leader gives the lease up, so another takes over at once. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.round;
    if (this.term !== undefined) await this.store.resign(this.holder).catch(() => undefined);
    this.become(undefined, undefined);
  }
}
