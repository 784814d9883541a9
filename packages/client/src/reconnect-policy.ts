/** Decides how long to wait before reconnect attempt `attempt` (0-based); null gives up. */
export interface ReconnectPolicy {
  nextDelay(attempt: number): number | null;
}

const SCHEDULE_MS = [0, 300, 1200, 2700, 4800];
const CEILING_MS = 7000;

/**
 * 0, 300, 1200, 2700, 4800, then 7000 ms forever. Every delay after the first gets up to ±20%
 * jitter so a restarted server is not hit by every client in the same millisecond.
 */
export class DefaultReconnectPolicy implements ReconnectPolicy {
  constructor(private readonly random: () => number = Math.random) {}

  nextDelay(attempt: number): number | null {
    const base = SCHEDULE_MS[attempt] ?? CEILING_MS;
    if (base === 0) return 0;
    return Math.round(base * (0.8 + 0.4 * this.random()));
  }
}
