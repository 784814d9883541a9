/**
 * Cluster mode under test: a real redis-server (test/support/redis.ts) and N server processes
 * (bench/server-under-test.ts, the production startServer) sharing it, each on its own ports.
 * The orchestrator reads Redis itself: its CPU time, memory and keys, and what state is left.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { startRedis, type RedisServer } from "../../test/support/redis.js";
import type { SetupRun, SystemId } from "../load/types.js";
import { describeShares, loadMeters, relayRun, rushOver, targetMeter, type CpuMeter, type RunOptions, type RushResult } from "./phases.js";
import { startLoad, startTarget, type Load, type LoadOptions, type Target } from "./processes.js";

/** REDIS_PREFIX of every node: keys are "{bench}:…". */
export const CLUSTER_PREFIX = "bench";
const KEY = `{${CLUSTER_PREFIX}}:`;

export interface Cluster {
  redis: RedisServer;
  /** The orchestrator's own connection, for readings; the nodes have theirs. */
  client: Redis;
  nodes: Target[];
  stop(): Promise<void>;
}

export interface ClusterOptions {
  nodes: number;
  /** Settings over startTarget's defaults (a shorter grace period, say). */
  env?: Record<string, string>;
  /** Directory for V8 CPU profiles of the nodes, or undefined. */
  cpuProfileDir: string | undefined;
}

/** Starts Redis and `nodes` servers in cluster mode on it; resolves once all listen. */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const redis = await startRedis();
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const nodes: Target[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    client.disconnect();
    await redis.stop();
  };
  try {
    await client.connect();
    // Every node must verify the tokens the others issue: one secret, fresh for each cluster.
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: CLUSTER_PREFIX, TOKEN_SECRET: randomBytes(32).toString("hex"), ...options.env };
    // Started at once (each start is mostly tsx compiling); kept in order, node 1 first.
    const started = await Promise.allSettled(
      Array.from({ length: options.nodes }, (_, i) => {
        const profile = options.cpuProfileDir && `${options.cpuProfileDir}/cluster-node-${i + 1}`;
        // maxSessions is PeerJS's setting; ours keeps its production MAX_SESSIONS.
        return startTarget("ours-grpc", { maxSessions: 0, cpuProfileDir: profile, env });
      }),
    );
    for (const result of started) if (result.status === "fulfilled") nodes.push(result.value);
    const failed = started.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  } catch (error) {
    await stop();
    throw error;
  }
  return { redis, client, nodes, stop };
}

export interface RedisReading {
  /** used_cpu_user + used_cpu_sys of the redis-server process, microseconds. */
  cpuUs: number;
  /** used_memory: what Redis's allocator holds for data and overhead, bytes. */
  usedMemory: number;
  /** DBSIZE. */
  keys: number;
}

function infoField(info: string, name: string): number {
  const match = new RegExp(`^${name}:([0-9.]+)`, "m").exec(info);
  if (!match?.[1]) throw new Error(`INFO has no ${name}`);
  return Number(match[1]);
}

export async function readRedis(client: Redis): Promise<RedisReading> {
  const [cpu, memory, keys] = await Promise.all([client.info("cpu"), client.info("memory"), client.dbsize()]);
  return {
    cpuUs: (infoField(cpu, "used_cpu_user") + infoField(cpu, "used_cpu_sys")) * 1e6,
    usedMemory: infoField(memory, "used_memory"),
    keys,
  };
}

/** Cluster state left in Redis (server/src/bus/redis-script.ts names the keys). */
export interface Leftovers {
  /** `c:<callId>` hashes: calls Redis still holds. */
  calls: number;
  /** Entries of the `incall` hash: users Redis still sees in a call. */
  inCall: number;
  /** `s:<sessionId>` hashes. */
  sessions: number;
  /** Entries of the `users` hash (who is online). */
  users: number;
  /** `h:<sessionId>` event histories. */
  histories: number;
  /** Every key, whatever it is (the nodes' liveness zset stays while they run). */
  keys: number;
}

async function countKeys(client: Redis, pattern: string): Promise<number> {
  let count = 0;
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    count += keys.length;
  } while (cursor !== "0");
  return count;
}

export async function readLeftovers(client: Redis): Promise<Leftovers> {
  const [calls, inCall, sessions, users, histories, keys] = await Promise.all([
    countKeys(client, `${KEY}c:*`),
    client.hlen(`${KEY}incall`),
    countKeys(client, `${KEY}s:*`),
    client.hlen(`${KEY}users`),
    countKeys(client, `${KEY}h:*`),
    client.dbsize(),
  ]);
  return { calls, inCall, sessions, users, histories, keys };
}

/** The redis-server's pid (INFO server), to pin it beside the load processes. */
export async function redisPid(client: Redis): Promise<number> {
  return infoField(await client.info("server"), "process_id");
}

/** Redis's CPU time, as a meter beside the nodes' and the load generators'. */
export function redisMeter(client: Redis): CpuMeter {
  return { name: "redis-server", role: "redis", read: async () => (await readRedis(client)).cpuUs };
}

/** B1 in cluster mode: CPU per setup summed over the nodes and Redis, and each part. */
export interface ClusterCpuResult {
  warmup: SetupRun;
  run: SetupRun;
  /** Per node, then Redis, over the measured setups. */
  nodeCpuUs: number[];
  redisCpuUs: number;
  /** (nodes + Redis) ÷ setups. */
  cpuPerSetupUs: number;
}

/** B2 against one node of the cluster (Redis behind it), and against both. */
export interface ClusterRushResult {
  system: SystemId;
  rushOneNode: RushResult;
  rushTwoNodes: RushResult;
}

export interface ClusterResult extends ClusterRushResult {
  nodes: number;
  cpu: ClusterCpuResult;
  /** B8: relay latency with caller and callee on one node, and on different nodes. */
  relaySameNode: SetupRun;
  relayCrossNode: SetupRun;
}

/** B2's load processes for one node (callers and callees on node 1) and for two (calls across, both ways). */
function startRushLoads(nodes: [Target, Target], sizes: RunOptions["sizes"], start: (name: string, target: Target, options: LoadOptions) => Promise<Load>) {
  const [a, b] = nodes;
  const oneNode: Promise<Load>[] = [];
  const twoNodes: Promise<Load>[] = [];
  for (let i = 0; i < sizes.rushLoads; i++) {
    oneNode.push(start(`load 1→1 #${i + 1}`, a, { calleeTarget: a, client: "raw" }));
    const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
    twoNodes.push(start(`load ${i % 2 === 0 ? "1→2" : "2→1"} #${i + 1}`, from, { calleeTarget: to, client: "raw" }));
  }
  return { oneNode, twoNodes };
}

/**
 * B2 against one node (pinned alone to core 0; Redis and the loads on the rest) and against both
 * (not pinned: two nodes, Redis and the loads cannot each have a core on a small machine).
 */
async function clusterRushes(system: SystemId, cluster: Cluster, oneNode: Load[], twoNodes: Load[], options: RunOptions): Promise<ClusterRushResult> {
  const { sizes, log } = options;
  const [a, b] = cluster.nodes;
  if (!a || !b) throw new Error("the cluster has no two nodes");
  const redis = redisMeter(cluster.client);
  const node1 = targetMeter(a, "node 1");
  const pins = { servers: [a], with: [await redisPid(cluster.client)] };
  const rushOneNode = await rushOver(oneNode, [node1, redis, ...loadMeters(oneNode)], sizes, "rush-one-", pins);
  log(`  ${system} cluster, one node: ${rushOneNode.setupsPerSecond.toFixed(0)} setups/s; CPU: ${describeShares(rushOneNode.shares)}`);
  const rushTwoNodes = await rushOver(twoNodes, [node1, targetMeter(b, "node 2"), redis, ...loadMeters(twoNodes)], sizes, "rush-two-");
  log(`  ${system} cluster, two nodes: ${rushTwoNodes.setupsPerSecond.toFixed(0)} setups/s; CPU: ${describeShares(rushTwoNodes.shares)}`);
  return { system, rushOneNode, rushTwoNodes };
}

/** Runs `body` on a fresh Redis and two nodes with a load starter whose loads are all stopped after. */
async function withCluster<T>(
  system: SystemId,
  options: RunOptions,
  body: (cluster: Cluster, start: (name: string, target: Target, options: LoadOptions) => Promise<Load>) => Promise<T>,
): Promise<T> {
  const cluster = await startCluster({ nodes: 2, cpuProfileDir: options.cpuProfileDir && `${options.cpuProfileDir}/${system}` });
  const loads: Load[] = [];
  const start = async (name: string, target: Target, loadOptions: LoadOptions) => {
    const load = await startLoad(system, target, `${system} ${name}`, options.sizes.stepTimeoutMs, undefined, loadOptions);
    loads.push(load);
    return load;
  };
  try {
    return await body(cluster, start);
  } finally {
    await Promise.all(loads.map((load) => load.stop()));
    await cluster.stop();
  }
}

function twoNodes(cluster: Cluster): [Target, Target] {
  const [a, b] = cluster.nodes;
  if (!a || !b) throw new Error("the cluster has no two nodes");
  return [a, b];
}

/** Every start settled; the first failure thrown (the started ones are stopped by withCluster). */
async function settled(starts: Promise<Load>[]): Promise<void> {
  const failed = (await Promise.allSettled(starts)).find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
}

/** `npm run bench -- --b2`: the cluster's B2 rows alone, on a fresh Redis and two nodes. */
export function clusterRush(system: SystemId, options: RunOptions): Promise<ClusterRushResult> {
  return withCluster(system, options, async (cluster, start) => {
    const starts = startRushLoads(twoNodes(cluster), options.sizes, start);
    await settled([...starts.oneNode, ...starts.twoNodes]);
    return clusterRushes(system, cluster, await Promise.all(starts.oneNode), await Promise.all(starts.twoNodes), options);
  });
}

/**
 * The cluster figures of issue #14 for one of our transports, on a fresh Redis and two nodes:
 * B1 with every call across nodes (connect-node clients, as the one-node B1), B8's relay
 * latency on one node and across, then B2 against one node and against both (the lean client
 * over rushLoads processes, as the one-node B2).
 */
export function clusterSetups(system: SystemId, options: RunOptions): Promise<ClusterResult> {
  const { sizes, log } = options;
  return withCluster(system, options, async (cluster, start) => {
    const [a, b] = twoNodes(cluster);
    const meters = [targetMeter(a, "node 1"), targetMeter(b, "node 2"), redisMeter(cluster.client)];
    // Every load process is started up front and at once: a start is mostly tsx compiling.
    const starts = startRushLoads([a, b], sizes, start);
    const cpuStart = start("B1 load 1→2", a, { calleeTarget: b });
    await settled([cpuStart, ...starts.oneNode, ...starts.twoNodes]);
    const cpuLoad = await cpuStart;
    const oneNode = await Promise.all(starts.oneNode);
    const twoNodeLoads = await Promise.all(starts.twoNodes);
    await cpuLoad.call("openPairs", { count: sizes.cpuPairs, prefix: "cpu-" });
    const warmup = await cpuLoad.call("runSetups", { total: sizes.cpuWarmup });
    const before = await Promise.all(meters.map((meter) => meter.read()));
    const run = await cpuLoad.call("runSetups", { total: sizes.cpuSetups }, 600_000);
    const after = await Promise.all(meters.map((meter) => meter.read()));
    await cpuLoad.call("closePairs", {});
    const used = meters.map((_, i) => (after[i] ?? Number.NaN) - (before[i] ?? Number.NaN));
    const total = used.reduce((t, u) => t + u, 0);
    const cpu: ClusterCpuResult = {
      warmup,
      run,
      nodeCpuUs: used.slice(0, 2),
      redisCpuUs: used[2] ?? Number.NaN,
      cpuPerSetupUs: total / run.completed,
    };
    log(
      `  ${system} cluster: ${run.completed} setups across nodes, ${cpu.cpuPerSetupUs.toFixed(0)} µs CPU each ` +
        `(${used.map((u) => (u / run.completed).toFixed(0)).join(" + ")}: nodes 1, 2, Redis)`,
    );

    const [sameLoad] = oneNode;
    const [crossLoad] = twoNodeLoads;
    if (!sameLoad || !crossLoad) throw new Error("no load generator");
    const relaySameNode = await relayRun(sameLoad, sizes, "relay-same-");
    const relayCrossNode = await relayRun(crossLoad, sizes, "relay-cross-");
    const p = (r: SetupRun) => `p50 ${r.relay?.p50Ms.toFixed(2)} ms, p95 ${r.relay?.p95Ms.toFixed(2)} ms`;
    log(`  ${system} cluster relay: one node ${p(relaySameNode)}; across nodes ${p(relayCrossNode)}`);

    const rushes = await clusterRushes(system, cluster, oneNode, twoNodeLoads, options);
    return { ...rushes, nodes: 2, cpu, relaySameNode, relayCrossNode };
  });
}
