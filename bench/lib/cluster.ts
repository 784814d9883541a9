/**
 * Cluster mode under test: a real redis-server (test/support/redis.ts) and N server processes
 * (bench/server-under-test.ts, the production startServer) sharing it, each on its own ports.
 * The orchestrator reads Redis itself: its CPU time, memory and keys, and what state is left.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { startRedis, type RedisServer } from "../../test/support/redis.js";
import { startTarget, type Target } from "./processes.js";

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
    for (let i = 0; i < options.nodes; i++) {
      const profile = options.cpuProfileDir && `${options.cpuProfileDir}/cluster-node-${i + 1}`;
      // maxSessions is PeerJS's setting; ours keeps its production MAX_SESSIONS.
      nodes.push(await startTarget("ours-grpc", { maxSessions: 0, cpuProfileDir: profile, env }));
    }
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
