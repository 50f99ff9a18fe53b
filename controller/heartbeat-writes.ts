// Heartbeats' rows written together: the heartbeats read in one turn of the event loop go out in
// one write, and those that come while it is under way go together in the next. At a trickle each
// heartbeat is its own write (no added wait beyond the turn); at thousands a second, one statement
// carries many (PostgreSQL's round trips, SQLite's transactions, counted per batch, not per node).
import type { NodeRow, NodeState, StateStore } from './store.js';

interface Pending {
  row: NodeRow;
  was: NodeState | undefined;
  done: Array<(written: boolean) => void>;
  failed: Array<(err: unknown) => void>;
}

/** Most rows in one statement. */
const BATCH = 500;

export class HeartbeatWrites {
  private queue = new Map<string, Pending>();
  private flushing: Promise<void> | undefined;

  constructor(private readonly store: Pick<StateStore, 'writeHeartbeats'>) {}

  /**
   * Writes `row` if its node is still in state `was`: true once written, false when it changed
   * meanwhile. A node's second heartbeat in the same batch replaces its first (both learn the result).
   */
  write(row: NodeRow, was: NodeState | undefined): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const earlier = this.queue.get(row.id);
      this.queue.set(row.id, { row, was, done: [...earlier?.done ?? [], resolve],
        failed: [...earlier?.failed ?? [], reject] });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    await new Promise<void>((resolve) => { setImmediate(resolve); });
    while (this.queue.size > 0) {
      const batch = [...this.queue.values()].slice(0, BATCH);
      for (const p of batch) this.queue.delete(p.row.id);
      try {
        const written = new Set(await this.store.writeHeartbeats(batch.map(({ row, was }) => ({ row, was }))));
        for (const p of batch) for (const done of p.done) done(written.has(p.row.id));
      } catch (err) {
        for (const p of batch) for (const failed of p.failed) failed(err);
      }
    }
    this.flushing = undefined;
  }
}
