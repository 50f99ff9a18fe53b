// A read of the store shared by every caller that asks while it is fresh: one query for all the
// heartbeats that wait on it, not one each. It is fresh while its version is the one asked for
// (the store's count of changes) and it is younger than its age limit (a clock that went back makes
// it stale); a failed read is not kept, so the next caller asks again. Pure, but for the promise.
export class SharedRead<T> {
  private held: { version: number; at: number; value: Promise<T> } | undefined;

  /** `maxAgeMs`: for what changes without a version (nodes' figures); none by default. */
  constructor(private readonly maxAgeMs = Infinity) {}

  /** The value for `version` at time `at` (ms), read with `read` when the one held is stale. */
  get(version: number, at: number, read: () => Promise<T>): Promise<T> {
    const h = this.held;
    if (h && h.version === version && at >= h.at && at - h.at < this.maxAgeMs) return h.value;
    const held = { version, at, value: read() };
    this.held = held;
    held.value.catch(() => { if (this.held === held) this.held = undefined; });
    return held.value;
  }
}
