/**
 * A load-generator process: simulated users of one system, driven by bench/run.ts over IPC.
 * It runs apart from the server under test, so the server's CPU time is its own.
 * argv[2] is a JSON LoadConfig.
 */
import { setTimeout as delay } from "node:timers/promises";
import { loadFixture } from "../lib/fixture.js";
import { describe, serve } from "../lib/ipc.js";
import { summarize } from "../lib/stats.js";
import { OursDriver } from "./ours.js";
import { PeerJsDriver } from "./peerjs.js";
import type { CallPair, Driver, LoadConfig, LoadMethods, SetupRun, SideMeter, SideTally } from "./types.js";

const config = JSON.parse(process.argv[2] ?? "{}") as LoadConfig;
const fixture = loadFixture();
const driver: Driver = config.system === "peerjs" ? new PeerJsDriver(config, fixture) : new OursDriver(config, fixture);
let pairs: CallPair[] = [];

/** Error texts kept per run; the count is exact, the samples are for the report. */
const ERROR_SAMPLES = 5;

function tally(sides: SideMeter[]): SideTally {
  return sides.reduce<SideTally>(
    (sum, side) => ({
      sent: sum.sent + side.sent,
      received: sum.received + side.received,
      heartbeats: sum.heartbeats + side.heartbeats,
      bytesSent: sum.bytesSent + side.wire.sent,
      bytesReceived: sum.bytesReceived + side.wire.received,
    }),
    { sent: 0, received: 0, heartbeats: 0, bytesSent: 0, bytesReceived: 0 },
  );
}

function minus(after: SideTally, before: SideTally): SideTally {
  return {
    sent: after.sent - before.sent,
    received: after.received - before.received,
    heartbeats: after.heartbeats - before.heartbeats,
    bytesSent: after.bytesSent - before.bytesSent,
    bytesReceived: after.bytesReceived - before.bytesReceived,
  };
}

/**
 * Every pair sets up calls back to back (so concurrency = number of pairs) until `total` have
 * been started or `durationMs` has passed. A pair whose setup fails stops: its state is unknown.
 */
async function runSetups(total: number | undefined, durationMs: number | undefined, paceMs = 0, keepSamples = false): Promise<SetupRun> {
  if (pairs.length === 0) throw new Error("open pairs first");
  if (total === undefined && durationMs === undefined) throw new Error("give total or durationMs");
  const callers = pairs.map((pair) => pair.caller);
  const callees = pairs.map((pair) => pair.callee);
  const callerBefore = tally(callers);
  const calleeBefore = tally(callees);
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let started = 0;
  const began = performance.now();
  const deadline = durationMs === undefined ? Number.POSITIVE_INFINITY : began + durationMs;
  const more = () => (total === undefined || started < total) && performance.now() < deadline;
  for (const pair of pairs) pair.takeRelays?.();
  await Promise.all(
    pairs.map(async (pair, i) => {
      // Paced: the pairs' slots are spread over one period, so the rate is steady, not bursty.
      let slot = began + (paceMs * i) / pairs.length;
      while (more()) {
        if (paceMs > 0) {
          // A timer that paces the load, not a wait for a condition.
          if (slot > performance.now()) await delay(slot - performance.now());
          slot += paceMs;
          if (!more()) break;
        }
        started += 1;
        try {
          latencies.push(await pair.setup());
        } catch (error) {
          errors += 1;
          if (errorSamples.length < ERROR_SAMPLES) errorSamples.push(describe(error));
          return;
        }
      }
    }),
  );
  const wallMs = performance.now() - began;
  const relays = pairs.flatMap((pair) => pair.takeRelays?.() ?? []);
  return {
    ...(relays.length > 0 ? { relay: summarize(relays) } : {}),
    ...(keepSamples ? { samples: { latencies, relays } } : {}),
    completed: latencies.length,
    errors,
    errorSamples,
    wallMs,
    latency: summarize(latencies),
    caller: minus(tally(callers), callerBefore),
    callee: minus(tally(callees), calleeBefore),
  };
}

serve<LoadMethods>(
  {
    openIdle: async ({ count, prefix, concurrency }) => {
      const errors = await driver.openIdle(count, prefix, concurrency);
      return { opened: count - errors.length, errors: errors.slice(0, ERROR_SAMPLES) };
    },
    openPairs: async ({ count, prefix }) => {
      pairs = await driver.openPairs(count, prefix);
      return { pairs: pairs.length };
    },
    runSetups: ({ total, durationMs, paceMs, keepSamples }) => runSetups(total, durationMs, paceMs, keepSamples),
    integrity: () => {
      if (!driver.integrity) throw new Error(`${config.system} does not check its streams' integrity`);
      return driver.integrity();
    },
    closePairs: async () => {
      await driver.closePairs();
      pairs = [];
      return null;
    },
    closeAll: async () => {
      await driver.closeAll();
      pairs = [];
      return null;
    },
  },
  { system: config.system },
);
