/**
 * Messages a simulated user received, handed out in order. A workload states what it expects
 * next; anything else, a closed stream or a timeout is an error of that call setup.
 */
export class Inbox<T> {
  private readonly queue: T[] = [];
  private waiter: { resolve: (item: T) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  push(item: T): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter.resolve(item);
    } else {
      this.queue.push(item);
    }
  }

  /** The stream or socket behind this inbox is gone: every later `next()` fails with `error`. */
  fail(error: Error): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }

  get pending(): number {
    return this.queue.length;
  }

  next(timeoutMs: number, what: string): Promise<T> {
    const item = this.queue.shift();
    if (item !== undefined) return Promise.resolve(item);
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new Error("two readers on one inbox"));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }
}
