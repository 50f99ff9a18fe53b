// A counting gate: at most `slots` tasks run at once, the others wait their turn (first come, first
// served). The packager runs each stream's work through one shared gate, so however many streams
// write to a storage mount that hangs, at most `slots` of libuv's threads can be stuck on it.
export class Gate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly slots: number) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`a gate needs at least one slot, not ${slots}`);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.slots) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter, or is freed.
      const next = this.waiting.shift();
      if (next) next(); else this.running--;
    }
  }
}
