/**
 * CPU affinity for B2 (issue #17): the server under test alone on core 0, its load processes
 * (and Redis, in the cluster rows) on the other cores. A setups-per-second figure means
 * something only when the server saturates; on a small machine the loads would otherwise take
 * turns on the server's core and its CPU share would say more about the scheduler than about
 * the server. Pinned with util-linux `taskset` on every thread (`-a`), restored afterwards.
 */
import { execFileSync } from "node:child_process";
import * as os from "node:os";

export interface Pinning {
  /** taskset CPU lists: the server's core, and everyone else's. */
  server: string;
  others: string;
}

/** Core 0 for the server, the rest for the others; none on a single core (nothing to split). */
export function pinning(): Pinning | undefined {
  const cores = os.cpus().length;
  if (cores < 2) return undefined;
  return { server: "0", others: cores === 2 ? "1" : `1-${cores - 1}` };
}

function affinity(pid: number): string {
  const out = execFileSync("taskset", ["-p", String(pid)], { encoding: "utf8" });
  const mask = /:\s*([0-9a-f,]+)\s*$/i.exec(out)?.[1];
  if (!mask) throw new Error(`taskset -p ${pid}: cannot read the affinity from "${out.trim()}"`);
  return mask;
}

/**
 * Runs `body` with `servers` on `pin.server` and `others` on `pin.others` (every thread of each),
 * then gives each process back the affinity it had. Without `pin`, runs `body` as it is.
 */
export async function pinned<T>(pin: Pinning | undefined, servers: number[], others: number[], body: () => Promise<T>): Promise<T> {
  if (!pin) return body();
  const saved: [number, string][] = [];
  try {
    for (const [cpus, pids] of [
      [pin.server, servers],
      [pin.others, others],
    ] as const) {
      for (const pid of pids) {
        saved.push([pid, affinity(pid)]);
        execFileSync("taskset", ["-a", "-c", "-p", cpus, String(pid)], { stdio: "ignore" });
      }
    }
    return await body();
  } finally {
    for (const [pid, mask] of saved) {
      try {
        execFileSync("taskset", ["-a", "-p", mask, String(pid)], { stdio: "ignore" });
      } catch {
        // The process is gone (a failed run stopped it): nothing to restore.
      }
    }
  }
}
