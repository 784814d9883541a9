/**
 * The workloads, each against a fresh server process: call setups (B1, B2, B5) and idle
 * sessions at growing counts (B3 and the scaling rows).
 */
import { setTimeout as delay } from "node:timers/promises";
import type { SetupRun, SystemId } from "../load/types.js";
import type { ProcessStats } from "../targets/introspect.js";
import { summarize } from "./stats.js";
import { pinned, pinning, type Pinning } from "./pin.js";
import { cpuUs, machineBusyUs, procCpuUs, startLoad, startTarget, type Load, type LoadOptions, type Target } from "./processes.js";

export interface Sizes {
  /** B1/B5: concurrent pairs, warm-up setups (not measured), measured setups. */
  cpuPairs: number;
  cpuWarmup: number;
  cpuSetups: number;
  /**
   * B2: concurrent pairs (spread over rushLoads load processes running the lean client), warm-up
   * and measured duration.
   */
  rushPairs: number;
  rushLoads: number;
  rushWarmupMs: number;
  rushMs: number;
  /** Idle session counts measured in turn (the last is B3). */
  levels: number[];
  /** Idle sessions per load-generator process. */
  sessionsPerLoad: number;
  joinConcurrency: number;
  /**
   * Setups at each level (with scalePairs pairs): scaleWarmup unmeasured, then as many as fit in
   * scaleWindowMs; and the idle CPU window. At full size both are whole periods of the 5 s heartbeat.
   */
  scalePairs: number;
  scaleWarmup: number;
  scaleWindowMs: number;
  idleWindowMs: number;
  stepTimeoutMs: number;
  /**
   * B3 after calls: pairs that each make one call, then go idle; the replay window their server
   * keeps events for is set by its grace period and heartbeat (PROTOCOL.md).
   */
  afterCallPairs: number;
  afterCallGraceMs: number;
  afterCallHeartbeatMs: number;
  /** B4: measured calls per system in real Chromium and per Accept timing (at once, after ringing), after b4Warmup unmeasured ones. */
  b4Calls: number;
  b4Warmup: number;
  /** B8: pairs and setups for the relay latency (3 relayed events per setup). */
  relayPairs: number;
  relaySetups: number;
  /** Faults (ours only): users cut at once × rounds; calls up while the node drains. */
  resumeUsers: number;
  resumeRounds: number;
  drainPairs: number;
}

export const FULL: Sizes = {
  cpuPairs: 8,
  cpuWarmup: 300,
  cpuSetups: 2_000,
  rushPairs: 64,
  rushLoads: 2,
  rushWarmupMs: 2_000,
  rushMs: 10_000,
  levels: [100, 1_000, 10_000],
  sessionsPerLoad: 5_000,
  joinConcurrency: 100,
  scalePairs: 8,
  scaleWarmup: 100,
  scaleWindowMs: 10_000,
  idleWindowMs: 5_000,
  stepTimeoutMs: 15_000,
  afterCallPairs: 1_000,
  afterCallGraceMs: 2_000,
  afterCallHeartbeatMs: 1_000,
  b4Calls: 20,
  b4Warmup: 1,
  relayPairs: 1,
  relaySetups: 300,
  resumeUsers: 50,
  resumeRounds: 10,
  drainPairs: 50,
};

export const SMOKE: Sizes = {
  cpuPairs: 4,
  cpuWarmup: 4,
  cpuSetups: 20,
  rushPairs: 8,
  rushLoads: 2,
  rushWarmupMs: 200,
  rushMs: 1_000,
  levels: [20, 50],
  sessionsPerLoad: 30,
  joinConcurrency: 10,
  scalePairs: 2,
  scaleWarmup: 2,
  scaleWindowMs: 600,
  idleWindowMs: 300,
  stepTimeoutMs: 10_000,
  afterCallPairs: 50,
  afterCallGraceMs: 300,
  afterCallHeartbeatMs: 200,
  b4Calls: 1,
  b4Warmup: 1,
  relayPairs: 1,
  relaySetups: 10,
  resumeUsers: 4,
  resumeRounds: 2,
  drainPairs: 3,
};

export interface RunOptions {
  sizes: Sizes;
  cpuProfileDir: string | undefined;
  log: (line: string) => void;
}

export interface CpuResult {
  warmup: SetupRun;
  run: SetupRun;
  serverCpuUs: number;
  cpuPerSetupUs: number;
}

/** A process whose CPU time a workload reads: a server under test, Redis, a load generator. */
export interface CpuMeter {
  name: string;
  /** "machine": every core's busy time, whoever used it. */
  role: "server" | "redis" | "load" | "machine";
  /** CPU microseconds used so far. */
  read(): Promise<number>;
}

export interface CpuShare {
  name: string;
  role: CpuMeter["role"];
  cpuUs: number;
  /** CPU time ÷ wall time over the measured window: 1 is one core kept busy. */
  share: number;
}

export function targetMeter(target: Target, name = target.name): CpuMeter {
  return {
    name,
    role: "server",
    read: async () => {
      const stats = await target.call("stats", { gc: false });
      return stats.cpuUserUs + stats.cpuSystemUs;
    },
  };
}

export function loadMeters(loads: Load[]): CpuMeter[] {
  return loads.map((load) => ({ name: load.name, role: "load", read: async () => procCpuUs(load.pid) }));
}

/** The whole machine's busy time: what else ran shows as this less every process measured. */
export const machineMeter: CpuMeter = { name: "whole machine", role: "machine", read: async () => machineBusyUs() };

export interface RushResult {
  warmup: SetupRun;
  run: SetupRun;
  /** CPU of the server process(es) under test over the measured window (Redis apart). */
  serverCpuUs: number;
  setupsPerSecond: number;
  /** Server CPU time / wall time: near 1 (per server) means the servers were the bottleneck. */
  serverCpuShare: number;
  /** Every process measured: the servers, Redis in cluster mode, and the load generators. */
  shares: CpuShare[];
  loads: number;
  /** The cores the servers and everyone else were held to (bench/lib/pin.ts); null: not pinned. */
  pinned: Pinning | null;
}

export interface LevelResult {
  sessions: number;
  /** Sessions the server itself counted at this level (idle + pair users). */
  serverSessions: number;
  joinErrors: string[];
  joinCpuPerSessionUs: number;
  heapPerSessionBytes: number;
  externalPerSessionBytes: number;
  rssPerSessionBytes: number;
  idleCpuUsPerSecond: number;
  idleCpuPerSessionUsPerSecond: number;
  setups: SetupRun;
  cpuPerSetupUs: number;
  /** cpuPerSetupUs less the idle CPU rate over the same time: what the calls themselves cost. */
  netCpuPerSetupUs: number;
}

/** Heap per session of pairs that each made one call, at three moments. */
export interface AfterCallsResult {
  sessions: number;
  setups: SetupRun;
  /** Joined, before any call. */
  joinedHeapPerSessionBytes: number;
  /** Just after each pair's call ended: its events are still kept for a resume. */
  afterCallHeapPerSessionBytes: number;
  /** Once the server keeps no event for a resume any more (ours: the replay window passed). */
  laterHeapPerSessionBytes: number;
  /** How long after the calls that was. */
  laterAfterMs: number;
}

export interface SystemResult {
  system: SystemId;
  cpu: CpuResult;
  /** Ours only: B8's relay latency on one node (the in-memory hub). */
  relay?: SetupRun;
  /** Ours only: B1 against our transports around a relay that does nothing else. */
  relayFloor?: CpuResult;
  rush: RushResult;
  baseline: ProcessStats;
  levels: LevelResult[];
  afterCalls: AfterCallsResult;
}

/** Runs `body` with a fresh server and load generator(s), always stopping them afterwards. */
async function withTarget<T>(
  system: SystemId,
  options: RunOptions,
  loads: number,
  body: (target: Target, loads: Load[]) => Promise<T>,
  server: { relayFloor?: boolean; env?: Record<string, string>; loadOptions?: (i: number) => LoadOptions } = {},
): Promise<T> {
  const { sizes } = options;
  const maxSessions = Math.max(...sizes.levels, 2 * sizes.afterCallPairs) + 4 * Math.max(sizes.rushPairs, sizes.scalePairs);
  const profiles = options.cpuProfileDir;
  const relayFloor = server.relayFloor ?? false;
  const serverProfile = profiles && `${profiles}/${system}${relayFloor ? "-floor" : ""}-server`;
  const target = await startTarget(system, { maxSessions, cpuProfileDir: serverProfile, relayFloor, ...(server.env ? { env: server.env } : {}) });
  const started: Load[] = [];
  try {
    // Started at once (a start is mostly tsx compiling), kept in order; every one that started is
    // stopped below even if another failed.
    const results = await Promise.allSettled(
      Array.from({ length: loads }, (_, i) => {
        const name = `${system} load #${i + 1}`;
        const profile = profiles && `${profiles}/${system}-load-${i + 1}`;
        return startLoad(system, target, name, options.sizes.stepTimeoutMs, profile, server.loadOptions?.(i));
      }),
    );
    for (const result of results) if (result.status === "fulfilled") started.push(result.value);
    const failed = results.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
    return await body(target, started);
  } finally {
    await Promise.all(started.map((load) => load.stop()));
    await target.stop();
  }
}

function first(loads: Load[]): Load {
  const load = loads[0];
  if (!load) throw new Error("no load generator");
  return load;
}

async function measureSetups(target: Target, load: Load, params: { total?: number; durationMs?: number }) {
  const before = await target.call("stats", { gc: false });
  const run = await load.call("runSetups", params, 600_000);
  const after = await target.call("stats", { gc: false });
  return { run, serverCpuUs: cpuUs(before, after) };
}

/** B1's setups, measured on a fresh target; `prefix` names the pairs. */
async function cpuPerSetup(target: Target, load: Load, sizes: Sizes, prefix: string) {
  await load.call("openPairs", { count: sizes.cpuPairs, prefix });
  const warmup = await load.call("runSetups", { total: sizes.cpuWarmup });
  const measured = await measureSetups(target, load, { total: sizes.cpuSetups });
  await load.call("closePairs", {});
  return { warmup, run: measured.run, serverCpuUs: measured.serverCpuUs, cpuPerSetupUs: measured.serverCpuUs / measured.run.completed };
}

/**
 * B1's workload against our transports around a relay that does nothing else
 * (bench/relay-floor-under-test.ts): what the HTTP stacks alone cost for the same requests.
 */
export function relayFloorSetups(system: SystemId, options: RunOptions): Promise<CpuResult> {
  return withTarget(
    system,
    options,
    1,
    async (target, loads) => {
      const cpu = await cpuPerSetup(target, first(loads), options.sizes, "floor-");
      options.log(`  ${system} relay floor: ${cpu.cpuPerSetupUs.toFixed(0)} µs server CPU per setup`);
      return cpu;
    },
    { relayFloor: true },
  );
}

/** Runs of several load processes over the same window as one: counts add, latencies merge. */
export function mergeRuns(runs: SetupRun[]): SetupRun {
  const sum = (side: "caller" | "callee") =>
    runs.reduce(
      (t, r) => ({
        sent: t.sent + r[side].sent,
        received: t.received + r[side].received,
        heartbeats: t.heartbeats + r[side].heartbeats,
        bytesSent: t.bytesSent + r[side].bytesSent,
        bytesReceived: t.bytesReceived + r[side].bytesReceived,
      }),
      { sent: 0, received: 0, heartbeats: 0, bytesSent: 0, bytesReceived: 0 },
    );
  const latencies = runs.flatMap((r) => r.samples?.latencies ?? []);
  const relays = runs.flatMap((r) => r.samples?.relays ?? []);
  return {
    completed: runs.reduce((t, r) => t + r.completed, 0),
    errors: runs.reduce((t, r) => t + r.errors, 0),
    errorSamples: runs.flatMap((r) => r.errorSamples).slice(0, 5),
    // The loads run at once: the window is the longest of theirs.
    wallMs: Math.max(...runs.map((r) => r.wallMs)),
    latency: summarize(latencies),
    caller: sum("caller"),
    callee: sum("callee"),
    ...(relays.length > 0 ? { relay: summarize(relays) } : {}),
  };
}

/** Which processes B2 pins: `servers` to a core of their own, the loads and `with` to the rest. */
export interface RushPins {
  servers: Target[];
  with?: number[];
}

function pidOf(child: { name: string; pid: number | undefined }): number {
  if (child.pid === undefined) throw new Error(`${child.name} has no pid`);
  return child.pid;
}

/**
 * B2's workload: `pairs` spread over `loads`, all setting up calls back to back at once; a
 * warm-up, then a measured window with the CPU time of every process in `meters`. With `pins`
 * (and two cores or more), the servers run alone on core 0 throughout, the loads, `pins.with`
 * and this orchestrator on the other cores, so the server's share is of a core of its own.
 */
export async function rushOver(loads: Load[], meters: CpuMeter[], sizes: Sizes, prefix: string, pins?: RushPins): Promise<RushResult> {
  const pin = pins ? pinning() : undefined;
  const servers = pins?.servers.map(pidOf) ?? [];
  const others = [...loads.map(pidOf), ...(pins?.with ?? []), process.pid];
  return pinned(pin, servers, others, () => rushPinned(loads, meters, sizes, prefix, pin));
}

async function rushPinned(loads: Load[], meters: CpuMeter[], sizes: Sizes, prefix: string, pin: Pinning | undefined): Promise<RushResult> {
  const perLoad = Math.max(1, Math.round(sizes.rushPairs / loads.length));
  await Promise.all(loads.map((load, i) => load.call("openPairs", { count: perLoad, prefix: `${prefix}${i}-` })));
  const warmups = await Promise.all(loads.map((load) => load.call("runSetups", { durationMs: sizes.rushWarmupMs, keepSamples: true })));
  meters = [...meters, machineMeter];
  const before = await Promise.all(meters.map((meter) => meter.read()));
  const began = performance.now();
  const runs = await Promise.all(
    loads.map((load) => load.call("runSetups", { durationMs: sizes.rushMs, keepSamples: true }, 600_000)),
  );
  const wallUs = (performance.now() - began) * 1000;
  const after = await Promise.all(meters.map((meter) => meter.read()));
  await Promise.all(loads.map((load) => load.call("closePairs", {})));
  const shares = meters.map((meter, i) => {
    const used = (after[i] ?? Number.NaN) - (before[i] ?? Number.NaN);
    return { name: meter.name, role: meter.role, cpuUs: used, share: used / wallUs };
  });
  const run = mergeRuns(runs);
  const servers = shares.filter((share) => share.role === "server");
  const serverCpuUs = servers.reduce((t, share) => t + share.cpuUs, 0);
  return {
    warmup: mergeRuns(warmups),
    run,
    serverCpuUs,
    setupsPerSecond: run.completed / (run.wallMs / 1000),
    serverCpuShare: serverCpuUs / wallUs,
    shares,
    loads: loads.length,
    pinned: pin ?? null,
  };
}

/** Percent CPU shares of a B2 run's processes, for the log. */
export function describeShares(shares: CpuShare[]): string {
  return [...shares.map((share) => `${share.name} ${(share.share * 100).toFixed(0)} %`), `others ${(otherShare(shares) * 100).toFixed(0)} %`].join(", ");
}

/** The machine's busy share less every process measured: other processes on the machine. */
export function otherShare(shares: CpuShare[]): number {
  const machine = shares.find((share) => share.role === "machine")?.share ?? Number.NaN;
  return Math.max(0, machine - shares.filter((share) => share.role !== "machine").reduce((t, share) => t + share.share, 0));
}

/** B8's setups on `load`'s pairs: few at once, so the relay latency is not queueing. */
export async function relayRun(load: Load, sizes: Sizes, prefix: string): Promise<SetupRun> {
  await load.call("openPairs", { count: sizes.relayPairs, prefix });
  // The first setups of new connections are not what a relay costs.
  await load.call("runSetups", { total: Math.min(10, sizes.relaySetups) });
  const run = await load.call("runSetups", { total: sizes.relaySetups }, 600_000);
  await load.call("closePairs", {});
  return run;
}

/**
 * B1 and B5 (sequential-ish setups, connect-node clients), B8's relay latency, then B2 (many
 * concurrent callers, over rushLoads processes of the lean client), on one server.
 */
export function callSetups(system: SystemId, options: RunOptions): Promise<{ cpu: CpuResult; rush: RushResult; relay?: SetupRun }> {
  const { sizes, log } = options;
  const ours = system !== "peerjs";
  return withTarget(
    system,
    options,
    1 + sizes.rushLoads,
    async (target, loads) => {
      const [load, ...rushLoads] = loads;
      if (!load) throw new Error("no load generator");
      const cpu = await cpuPerSetup(target, load, sizes, "cpu-");
      log(`  ${system}: ${cpu.run.completed} setups, ${cpu.cpuPerSetupUs.toFixed(0)} µs server CPU each`);
      const relay = ours ? await relayRun(first(rushLoads), sizes, "relay-") : undefined;
      if (relay?.relay) log(`  ${system}: relay p50 ${relay.relay.p50Ms.toFixed(2)} ms, p95 ${relay.relay.p95Ms.toFixed(2)} ms`);

      const rush = await rushPhase(system, target, rushLoads, options);
      return { cpu, rush, ...(relay ? { relay } : {}) };
    },
    // Load #1 runs connect-node clients (B1, B5); the others the lean client (B2, B8).
    { loadOptions: (i) => (i === 0 || !ours ? {} : { client: "raw" }) },
  );
}

/** B2 on `target` over `loads`, the server pinned to a core of its own; logged. */
async function rushPhase(system: SystemId, target: Target, loads: Load[], options: RunOptions): Promise<RushResult> {
  const { sizes, log } = options;
  const rush = await rushOver(loads, [targetMeter(target, "server"), ...loadMeters(loads)], sizes, "rush-", { servers: [target] });
  log(
    `  ${system}: ${rush.setupsPerSecond.toFixed(0)} setups/s with ${sizes.rushPairs} callers over ${loads.length} load processes, ` +
      `p99 ${rush.run.latency.p99Ms.toFixed(1)} ms; CPU: ${describeShares(rush.shares)}`,
  );
  return rush;
}

/** B2 alone (`npm run bench -- --b2`), on a fresh server with rushLoads lean load processes. */
export function rushSetups(system: SystemId, options: RunOptions): Promise<RushResult> {
  return withTarget(system, options, options.sizes.rushLoads, (target, loads) => rushPhase(system, target, loads, options), {
    loadOptions: () => (system === "peerjs" ? {} : { client: "raw" }),
  });
}

/** Opens idle sessions level by level; at each: join cost, heap, idle CPU, and call-setup CPU. */
export function idleSessions(
  system: SystemId,
  options: RunOptions,
): Promise<{ baseline: ProcessStats; levels: LevelResult[] }> {
  const { sizes, log } = options;
  const top = Math.max(...sizes.levels);
  const idleLoads = Math.ceil(top / sizes.sessionsPerLoad);
  return withTarget(
    system,
    options,
    1 + idleLoads,
    async (target, loads) => {
      const [callLoad, ...sessionLoads] = loads;
      if (!callLoad) throw new Error("no load generator");
      // The calling pairs come for each level's setups and go before the next reading: their
      // sessions' call history must not count as what idle sessions hold.
      await callLoad.call("openPairs", { count: sizes.scalePairs, prefix: "scale-warmup-" });
      await callLoad.call("runSetups", { total: sizes.scaleWarmup });
      await callLoad.call("closePairs", {});
      await untilSessions(target, 0, sizes.stepTimeoutMs);
      const baseline = await target.call("stats", { gc: true });
      const perLoad = sessionLoads.map(() => 0);
      const levels: LevelResult[] = [];
      let opened = 0;
      for (const level of sizes.levels) {
        const beforeJoin = await target.call("stats", { gc: false });
        // Spread the new sessions over the load generators, each up to sessionsPerLoad.
        const batches: Promise<{ opened: number; errors: string[] }>[] = [];
        let toOpen = level - opened;
        for (const [i, load] of sessionLoads.entries()) {
          const room = sizes.sessionsPerLoad - (perLoad[i] ?? 0);
          const count = Math.min(room, toOpen);
          if (count <= 0) continue;
          batches.push(
            load.call(
              "openIdle",
              { count, prefix: `idle-${i}-${perLoad[i] ?? 0}-`, concurrency: Math.ceil(sizes.joinConcurrency / sessionLoads.length) },
              600_000,
            ),
          );
          perLoad[i] = (perLoad[i] ?? 0) + count;
          toOpen -= count;
        }
        const joined = await Promise.all(batches);
        const afterJoin = await target.call("stats", { gc: false });
        const added = level - opened;
        opened = level;
        const joinErrors = joined.flatMap((batch) => batch.errors);

        const memory = await target.call("stats", { gc: true });
        const idleStart = await target.call("stats", { gc: false });
        // A measurement window, not a wait for a condition: what the server spends doing nothing.
        await delay(sizes.idleWindowMs);
        const idleEnd = await target.call("stats", { gc: false });
        const idleCpuUsPerSecond = cpuUs(idleStart, idleEnd) / (sizes.idleWindowMs / 1000);

        await callLoad.call("openPairs", { count: sizes.scalePairs, prefix: `scale-${level}-` });
        // New connections: let their first setups (HPACK tables, buffers) go unmeasured.
        await callLoad.call("runSetups", { total: sizes.scaleWarmup });
        // Two heartbeat periods: our heartbeats go to every session at once, every period, so a
        // window of any other length holds a burst or not by chance, and the idle rate
        // subtracted below would not match it (at 10,000 gRPC sessions, ±400 µs per setup).
        const calls = await measureSetups(target, callLoad, { durationMs: sizes.scaleWindowMs });
        await callLoad.call("closePairs", {});
        await untilSessions(target, level, sizes.stepTimeoutMs);
        const cpuPerSetupUs = calls.serverCpuUs / calls.run.completed;
        const netCpuPerSetupUs =
          (calls.serverCpuUs - idleCpuUsPerSecond * (calls.run.wallMs / 1000)) / calls.run.completed;
        const result: LevelResult = {
          sessions: level,
          serverSessions: memory.sessions,
          joinErrors,
          joinCpuPerSessionUs: cpuUs(beforeJoin, afterJoin) / added,
          heapPerSessionBytes: (memory.heapUsed - baseline.heapUsed) / level,
          externalPerSessionBytes: (memory.external - baseline.external) / level,
          rssPerSessionBytes: (memory.rss - baseline.rss) / level,
          idleCpuUsPerSecond,
          idleCpuPerSessionUsPerSecond: idleCpuUsPerSecond / level,
          setups: calls.run,
          cpuPerSetupUs,
          netCpuPerSetupUs,
        };
        levels.push(result);
        log(
          `  ${system} @ ${level} sessions: ${(result.heapPerSessionBytes / 1024).toFixed(2)} KiB heap each, ` +
            `${cpuPerSetupUs.toFixed(0)} µs CPU per setup, ${joinErrors.length} join errors`,
        );
      }
      await Promise.all(loads.map((load) => load.call("closeAll", {}, 120_000)));
      return { baseline, levels };
    },
    // Closed pairs' sessions go once this grace is over (ours; PeerJS forgets a closed socket at once).
    { env: { SESSION_GRACE_MS: String(CLOSED_PAIR_GRACE_MS) } },
  );
}

/** How long the idle-sessions server keeps a closed pair's session for a resume. */
const CLOSED_PAIR_GRACE_MS = 500;

/** Waits until the server's own counts say `done`, polling its stats. */
async function untilStats(target: Target, done: (stats: ProcessStats) => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const stats = await target.call("stats", { gc: false });
    if (done(stats)) return;
    if (performance.now() > deadline) {
      throw new Error(`${target.name}: not ${what} after ${timeoutMs} ms (${stats.sessions} sessions, ${stats.keptEvents} kept events)`);
    }
    await delay(50);
  }
}

/** Waits until the server counts `count` sessions (closed ones gone). */
function untilSessions(target: Target, count: number, timeoutMs: number): Promise<void> {
  return untilStats(target, (stats) => stats.sessions === count, `${count} sessions`, timeoutMs);
}

/**
 * B3 for sessions that have called: what a session holds once its call is over, right after and
 * once no resume can need the call's events any more (ours keeps them for that long).
 */
export function sessionsAfterCalls(system: SystemId, options: RunOptions): Promise<AfterCallsResult> {
  const { sizes, log } = options;
  const env = { SESSION_GRACE_MS: String(sizes.afterCallGraceMs), HEARTBEAT_MS: String(sizes.afterCallHeartbeatMs) };
  return withTarget(
    system,
    options,
    1,
    async (target, loads) => {
      const load = first(loads);
      const sessions = 2 * sizes.afterCallPairs;
      const baseline = await target.call("stats", { gc: true });
      const perSession = (stats: ProcessStats) => (stats.heapUsed - baseline.heapUsed) / sessions;
      await load.call("openPairs", { count: sizes.afterCallPairs, prefix: "after-" }, 600_000);
      const joined = await target.call("stats", { gc: true });
      // One call per pair: runSetups starts one on every pair before any finishes.
      const setups = await load.call("runSetups", { total: sizes.afterCallPairs }, 600_000);
      const called = await target.call("stats", { gc: true });
      const calledAt = performance.now();
      await untilStats(target, (stats) => stats.keptEvents === 0, "rid of the calls' events", sizes.stepTimeoutMs);
      const laterAfterMs = performance.now() - calledAt;
      const later = await target.call("stats", { gc: true });
      await load.call("closePairs", {});
      const result: AfterCallsResult = {
        sessions,
        setups,
        joinedHeapPerSessionBytes: perSession(joined),
        afterCallHeapPerSessionBytes: perSession(called),
        laterHeapPerSessionBytes: perSession(later),
        laterAfterMs,
      };
      log(
        `  ${system} after one call each (${sessions} sessions): ${(result.joinedHeapPerSessionBytes / 1024).toFixed(2)} KiB heap joined, ` +
          `${(result.afterCallHeapPerSessionBytes / 1024).toFixed(2)} just after, ${(result.laterHeapPerSessionBytes / 1024).toFixed(2)} ` +
          `${(laterAfterMs / 1000).toFixed(1)} s later`,
      );
      return result;
    },
    { env },
  );
}

/** Runs `phase` for each system in turn, one at a time. */
async function each<T>(systems: readonly SystemId[], phase: (system: SystemId) => Promise<T>): Promise<Map<SystemId, T>> {
  const results = new Map<SystemId, T>();
  for (const system of systems) results.set(system, await phase(system));
  return results;
}

/**
 * Every workload for every system, a workload for all systems before the next workload: a
 * figure of ours and PeerJS's then come a minute or two apart rather than several, and the
 * VM's slower and faster stretches weigh less on their ratio.
 */
export async function runSystems(systems: readonly SystemId[], options: RunOptions): Promise<Map<SystemId, SystemResult>> {
  const calls = await each(systems, (system) => callSetups(system, options));
  const floors = await each(systems.filter((system) => system !== "peerjs"), (system) => relayFloorSetups(system, options));
  const idle = await each(systems, (system) => idleSessions(system, options));
  const afterCalls = await each(systems, (system) => sessionsAfterCalls(system, options));
  const results = new Map<SystemId, SystemResult>();
  for (const system of systems) {
    const call = calls.get(system);
    const sessions = idle.get(system);
    const after = afterCalls.get(system);
    if (!call || !sessions || !after) throw new Error(`${system}: a workload did not run`);
    const relayFloor = floors.get(system);
    results.set(system, { system, ...call, ...sessions, afterCalls: after, ...(relayFloor ? { relayFloor } : {}) });
  }
  return results;
}
