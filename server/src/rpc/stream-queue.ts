/**
 * A bounded hand-off between the hub (which pushes synchronously) and a streaming response
 * (which pulls at the client's pace). When a reader falls `limit` messages behind, the stream
 * fails instead of growing the heap.
 */
export class StreamQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private head = 0;
  private wake: (() => void) | undefined;
  private finished = false;
  private failure: unknown;
  /** Extra room granted for a replay, used up as the reader catches up. */
  private allowance = 0;

  constructor(private readonly limit: number) {}

  /** Messages queued and not yet read (metrics). */
  get backlog(): number {
    return this.items.length - this.head;
  }

  /** Returns false (and fails the stream with `overflow()`) when the reader is too far behind. */
  push(item: T, overflow: () => unknown): boolean {
    if (this.finished) return false;
    if (this.items.length - this.head >= this.limit + this.allowance) {
      this.fail(overflow());
      return false;
    }
    this.items.push(item);
    this.wakeReader();
    return true;
  }

  /**
   * Queues `items` beyond the limit (a resume's replay, already bounded by the history), so a
   * reader is judged slow only by what arrives after it.
   */
  pushAll(items: readonly T[]): void {
    if (this.finished) return;
    this.items.push(...items);
    this.allowance += items.length;
    this.wakeReader();
  }

  /** Ends the stream after the queued items are read. */
  end(): void {
    this.finished = true;
    this.wakeReader();
  }

  /** Ends the stream now with `error`, dropping what is queued. */
  fail(error: unknown): void {
    this.finished = true;
    this.failure = error;
    this.items.length = 0;
    this.head = 0;
    this.allowance = 0;
    this.wakeReader();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      if (this.head < this.items.length) {
        const item = this.items[this.head] as T;
        this.head += 1;
        if (this.allowance > 0) this.allowance -= 1;
        if (this.head === this.items.length) {
          this.items.length = 0;
          this.head = 0;
        }
        yield item;
        continue;
      }
      if (this.finished) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private wakeReader(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
