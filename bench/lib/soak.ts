/**
 * The churn soak (issue #14): calls set up and torn down across the two nodes of a cluster at a
 * steady moderate rate for a long time, the simulated users replaced every round (so sessions
 * churn too), and regular readings of each node's heap and Redis's memory. At the end, once
 * every client hung up and left: what state is stuck in Redis, and whether any stream lost or
 * repeated an event.
 */
import type { Integrity, SetupRun } from "../load/types.js";
import { mergeRuns } from "./phases.js";
import type { LatencySummary } from "./stats.js";
import { readLeftovers, readRedis, startCluster, type Leftovers } from "./cluster.js";
import { startLoad, type Load } from "./processes.js";

export interface SoakSizes {
  durationMs: number;
  /**
   * 2: calls cross nodes (the soak). 1: both loads on one node of a one-node cluster, a control:
   * what grows with two nodes and not with one is the cluster's own.
   */
  nodes: 1 | 2;
  /** Pairs up at once, half calling from node 1 to node 2 and half the other way. */
  pairs: number;
  /** Each pair starts a setup every paceMs. */
  paceMs: number;
  /** A round: its users set up calls for this long, then all leave and the readings are taken. */
  roundMs: number;
  /** The nodes' SESSION_GRACE_MS; undefined keeps the production default. */
  sessionGraceMs: number | undefined;
  stepTimeoutMs: number;
}

export const SOAK_FULL: Omit<SoakSizes, "durationMs"> = {
  nodes: 2,
  pairs: 16,
  paceMs: 1_000,
  roundMs: 60_000,
  sessionGraceMs: undefined,
  stepTimeoutMs: 15_000,
};

export const SOAK_SMOKE: SoakSizes = {
  durationMs: 3_000,
  nodes: 2,
  pairs: 4,
  paceMs: 100,
  roundMs: 1_000,
  sessionGraceMs: 300,
  stepTimeoutMs: 10_000,
};

export interface SoakSample {
  /** Minutes since the load started. */
  atMin: number;
  setups: number;
  /** Per node, after two full GCs. */
  heapUsed: number[];
  rss: number[];
  redisUsedMemory: number;
  redisKeys: number;
}

export interface SoakResult {
  durationMs: number;
  nodes: number;
  pairs: number;
  paceMs: number;
  roundMs: number;
  rounds: number;
  setups: number;
  errors: number;
  errorSamples: string[];
  latency: LatencySummary;
  /** Before any load (readings as in a sample, at minute 0). */
  start: SoakSample;
  samples: SoakSample[];
  /** Least-squares slope of each node's heap over the samples after the first round, bytes/min. */
  heapSlopeBytesPerMin: number[];
  /** Right after the last user left: calls must be gone at once (no grace for a call). */
  atClose: Leftovers;
  /** Once the sessions' grace period passed (or the wait gave up). */
  settled: Leftovers;
  settledAfterMs: number;
  /** The nodes' own count of streams they hold, at the end. */
  nodeSessions: number[];
  integrity: Integrity;
}

/** Least-squares slope of y over x. */
export function slope(xs: number[], ys: number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return Number.NaN;
  const mx = xs.slice(0, n).reduce((a, b) => a + b, 0) / n;
  const my = ys.slice(0, n).reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] ?? 0) - mx;
    num += dx * ((ys[i] ?? 0) - my);
    den += dx * dx;
  }
  return num / den;
}

function sumIntegrity(list: Integrity[]): Integrity {
  return list.reduce(
    (t, i) => ({ events: t.events + i.events, lost: t.lost + i.lost, duplicated: t.duplicated + i.duplicated, unexpected: t.unexpected + i.unexpected }),
    { events: 0, lost: 0, duplicated: 0, unexpected: 0 },
  );
}

const settledState = (left: Leftovers) => left.calls + left.inCall + left.sessions + left.users + left.histories === 0;

export async function runSoak(sizes: SoakSizes, options: { cpuProfileDir: string | undefined; log: (line: string) => void }): Promise<SoakResult> {
  const { log } = options;
  const env: Record<string, string> = sizes.sessionGraceMs === undefined ? {} : { SESSION_GRACE_MS: String(sizes.sessionGraceMs) };
  const cluster = await startCluster({ nodes: sizes.nodes, env, cpuProfileDir: options.cpuProfileDir });
  const loads: Load[] = [];
  try {
    const [a, b = a] = cluster.nodes;
    if (!a || !b) throw new Error("the cluster has no node");
    // Callers on one node and callees on the other, both ways: every event crosses nodes.
    // Both started at once (a start is mostly tsx compiling); kept for cleanup either way.
    const started = await Promise.allSettled([
      startLoad("ours-grpc", a, `soak load 1→${sizes.nodes}`, sizes.stepTimeoutMs, undefined, { calleeTarget: b }),
      startLoad("ours-web", b, `soak load ${sizes.nodes}→1`, sizes.stepTimeoutMs, undefined, { calleeTarget: a }),
    ]);
    for (const result of started) if (result.status === "fulfilled") loads.push(result.value);
    const failed = started.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;

    const read = async (atMin: number, setups: number): Promise<SoakSample> => {
      const stats = await Promise.all(cluster.nodes.map((node) => node.call("stats", { gc: true })));
      const redis = await readRedis(cluster.client);
      return {
        atMin,
        setups,
        heapUsed: stats.map((s) => s.heapUsed),
        rss: stats.map((s) => s.rss),
        redisUsedMemory: redis.usedMemory,
        redisKeys: redis.keys,
      };
    };

    const start = await read(0, 0);
    const samples: SoakSample[] = [];
    const runs: SetupRun[] = [];
    const began = performance.now();
    let round = 0;
    let setups = 0;
    let errors = 0;
    const errorSamples: string[] = [];
    const perLoad = Math.max(1, Math.floor(sizes.pairs / loads.length));
    // Whole rounds, so every sample follows the same amount of load.
    const rounds = Math.max(1, Math.round(sizes.durationMs / sizes.roundMs));
    while (round < rounds && errors === 0) {
      round += 1;
      const roundMs = sizes.roundMs;
      // New users every round: sessions are opened and closed all along, not only calls.
      await Promise.all(loads.map((load, i) => load.call("openPairs", { count: perLoad, prefix: `soak-${round}-${i}-` })));
      const results = await Promise.all(
        loads.map((load) =>
          load.call("runSetups", { durationMs: roundMs, paceMs: sizes.paceMs, keepSamples: true }, roundMs + 10 * sizes.stepTimeoutMs),
        ),
      );
      await Promise.all(loads.map((load) => load.call("closePairs", {})));
      for (const run of results) {
        runs.push(run);
        setups += run.completed;
        errors += run.errors;
        errorSamples.push(...run.errorSamples.slice(0, 3 - errorSamples.length));
      }
      const sample = await read((performance.now() - began) / 60_000, setups);
      samples.push(sample);
      log(
        `  soak ${sample.atMin.toFixed(1)} min: ${setups} setups, ${errors} errors, heap ` +
          `${sample.heapUsed.map((h) => (h / 2 ** 20).toFixed(1)).join(" / ")} MiB, Redis ${(sample.redisUsedMemory / 2 ** 20).toFixed(2)} MiB, ${sample.redisKeys} keys`,
      );
    }

    const atClose = await readLeftovers(cluster.client);
    const closedAt = performance.now();
    // The sessions end once their grace period passes (the nodes' timers in Redis fire it):
    // poll until nothing is left, giving up well after the grace period.
    const graceMs = sizes.sessionGraceMs ?? 20_000;
    let settled = atClose;
    while (!settledState(settled) && performance.now() - closedAt < graceMs + 15_000) {
      // The interval of a poll for the condition above, not a wait standing in for it.
      await new Promise((resolve) => setTimeout(resolve, 100));
      settled = await readLeftovers(cluster.client);
    }
    const settledAfterMs = performance.now() - closedAt;
    const nodeStats = await Promise.all(cluster.nodes.map((node) => node.call("stats", { gc: false })));
    const integrity = sumIntegrity(await Promise.all(loads.map((load) => load.call("integrity", {}))));

    // The first round carries the JIT's warm-up and the first connections: not a trend.
    const trend = samples.length > 2 ? samples.slice(1) : samples;
    const heapSlopeBytesPerMin = cluster.nodes.map((_, n) =>
      slope(
        trend.map((s) => s.atMin),
        trend.map((s) => s.heapUsed[n] ?? Number.NaN),
      ),
    );
    return {
      durationMs: performance.now() - began,
      nodes: cluster.nodes.length,
      pairs: perLoad * loads.length,
      paceMs: sizes.paceMs,
      roundMs: sizes.roundMs,
      rounds: round,
      setups,
      errors,
      errorSamples,
      // Every setup's latency, from every round and load process.
      latency: mergeRuns(runs).latency,
      start,
      samples,
      heapSlopeBytesPerMin,
      atClose,
      settled,
      settledAfterMs,
      nodeSessions: nodeStats.map((s) => s.sessions),
      integrity,
    };
  } finally {
    await Promise.all(loads.map((load) => load.stop()));
    await cluster.stop();
  }
}
