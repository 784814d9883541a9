/** A simulated user that can join and be closed. */
export interface Joinable {
  join(): Promise<void>;
  close(): void;
}

/**
 * Joins `count` users made by `make(i)`, at most `concurrency` at once. Users that joined are
 * handed to `joined`; the others are closed and their errors returned.
 */
export async function joinAll<U extends Joinable>(
  count: number,
  concurrency: number,
  make: (i: number) => U,
  joined: (user: U) => void,
): Promise<string[]> {
  const errors: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const user = make(next++);
      try {
        await user.join();
        joined(user);
      } catch (error) {
        user.close();
        errors.push(String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return errors;
}
