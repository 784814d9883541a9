import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { EndReason } from "@peertobeer/protocol";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ClusterObserver } from "./bus/backend.js";

/*
 * Every Prometheus metric of a node, served at GET /metrics on the web port (docs/OPERATIONS.md
 * lists them). The rest of the server only sees ServerMetrics; cluster metrics (cross-node
 * delivery latency, Redis health) belong here too.
 */

/** What the scrape reads from the hub (gauges are computed at scrape time, not per event). */
export interface HubGauges {
  readonly sessionCount: number;
  readonly callCount: number;
  readonly ringingCallCount: number;
}

/** An open stream: how many messages wait unsent behind a client that reads slowly. */
export interface StreamBacklog {
  readonly backlog: number;
}

/** Counts one finished RPC by its gRPC status code. */
export type RpcCount = (code: Code) => void;

/** What the transports report: finished RPCs and open streams. */
export interface RpcMetrics {
  /** The counter of one method: made once per method, called once per RPC. */
  rpcCounter(method: string): RpcCount;
  /** `stream`'s backlog counts at every scrape until untrackStream. */
  trackStream(stream: StreamBacklog): void;
  untrackStream(stream: StreamBacklog): void;
}

/** What the scrape reads from a cluster node's backend. */
export interface ClusterGauges {
  ready(): boolean;
  readonly usersOnline: number;
}

export interface ServerMetrics extends RpcMetrics {
  readonly registry: Registry;
  /** Passed to the backend as its observer (HubOptions.observer, or the Redis backend's). */
  readonly hubObserver: ClusterObserver;
  /** The hub (or cluster backend) whose sessions and calls the gauges show. */
  watchHub(hub: HubGauges): void;
  /** Cluster mode: Redis health and the deployment's users. */
  watchCluster(cluster: ClusterGauges): void;
  /** Counts what connect-node serves (the Connect protocol, gRPC-Web text). */
  readonly connectInterceptor: Interceptor;
}

/** For servers and benchmarks run without metrics. */
export const NO_RPC_METRICS: RpcMetrics = {
  rpcCounter: () => ignore,
  trackStream: ignore,
  untrackStream: ignore,
};

/** gRPC's canonical code names, indexed by code (Connect's Code has no OK). */
const CODE_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

const OK = 0 as Code;

/**
 * Offer to accepted answer, so mostly how long the callee took to click Accept: up to the ring
 * timeout (30 s by default).
 */
const SETUP_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60];

export function createServerMetrics(): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let hub: HubGauges | undefined;
  let cluster: ClusterGauges | undefined;

  new Gauge({
    name: "peertobeer_sessions",
    help: "Sessions on this node, with or without a live stream (a session outlives its stream for SESSION_GRACE_MS); in cluster mode, the streams this node holds.",
    registers: [registry],
    collect() {
      this.set(hub?.sessionCount ?? 0);
    },
  });
  new Gauge({
    name: "peertobeer_calls",
    help: "Calls on this node by state; in cluster mode, the deployment's calls (the same on every node, as of its latest tick).",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      const ringing = hub?.ringingCallCount ?? 0;
      this.set({ state: "ringing" }, ringing);
      this.set({ state: "active" }, (hub?.callCount ?? 0) - ringing);
    },
  });

  const ended = new Counter({
    name: "peertobeer_calls_ended_total",
    help: "Calls ended, by end reason.",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  // One child per reason up front: every series exists from the start, and counting is a lookup.
  const endedBy = new Map<EndReason, { inc(): void }>();
  for (const reason of Object.values(EndReason)) {
    if (typeof reason === "number" && reason !== EndReason.UNSPECIFIED) {
      endedBy.set(reason, ended.labels({ reason: EndReason[reason].toLowerCase() }));
    }
  }
  const setup = new Histogram({
    name: "peertobeer_call_setup_seconds",
    help: "From a call's first offer to its accepted answer.",
    buckets: SETUP_BUCKETS_S,
    registers: [registry],
  });

  // RPC counts live in plain arrays (one slot per status code) and reach prom-client at scrape
  // time: a prom-client child still hashes its labels on every inc, which the RPC path should
  // not pay.
  const rpcCounts = new Map<string, Float64Array>();
  new Counter({
    name: "peertobeer_rpcs_total",
    help: "Finished RPCs by method and gRPC status code (a JoinCall stream counts when it ends).",
    labelNames: ["method", "code"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [method, counts] of rpcCounts) {
        counts.forEach((count, code) => {
          if (count > 0 || code === OK) this.inc({ method, code: CODE_NAMES[code] ?? String(code) }, count);
        });
      }
    },
  });
  const rpcCounter = (method: string): RpcCount => {
    let counts = rpcCounts.get(method);
    if (!counts) {
      counts = new Float64Array(CODE_NAMES.length);
      rpcCounts.set(method, counts);
    }
    const slots = counts;
    return (code) => {
      slots[code] = (slots[code] ?? 0) + 1;
    };
  };

  const streams = new Set<StreamBacklog>();
  new Gauge({
    name: "peertobeer_streams_open",
    help: "JoinCall streams open on this node.",
    registers: [registry],
    collect() {
      this.set(streams.size);
    },
  });
  new Gauge({
    name: "peertobeer_stream_backlog_messages",
    help: "Messages waiting unsent behind slow readers, over all open streams (a stream is cut past STREAM_QUEUE_LIMIT).",
    registers: [registry],
    collect() {
      let total = 0;
      for (const stream of streams) total += stream.backlog;
      this.set(total);
    },
  });
  new Gauge({
    name: "peertobeer_stream_backlog_max_messages",
    help: "The longest backlog of any one open stream.",
    registers: [registry],
    collect() {
      let max = 0;
      for (const stream of streams) max = Math.max(max, stream.backlog);
      this.set(max);
    },
  });

  const delivery = new Histogram({
    name: "peertobeer_cluster_delivery_seconds",
    help: "Cluster mode: from Redis publishing an event to this node receiving it (Redis's clock against this node's: skew between machines shows here).",
    buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
    registers: [registry],
  });
  new Gauge({
    name: "peertobeer_redis_up",
    help: "Cluster mode: 1 while this node reaches Redis (both its connections ready), else 0; absent in one-node mode.",
    registers: [registry],
    collect() {
      if (cluster) this.set(cluster.ready() ? 1 : 0);
    },
  });
  new Gauge({
    name: "peertobeer_cluster_users_online",
    help: "Cluster mode: users online in the whole deployment (the same on every node).",
    registers: [registry],
    collect() {
      if (cluster) this.set(cluster.usersOnline);
    },
  });

  const connectCounters = new Map<string, RpcCount>();
  const connectCount = (method: string): RpcCount => {
    let count = connectCounters.get(method);
    if (!count) connectCounters.set(method, (count = rpcCounter(method)));
    return count;
  };

  return {
    registry,
    hubObserver: {
      callAnswered: (setupMs) => setup.observe(setupMs / 1000),
      callEnded: (reason) => endedBy.get(reason)?.inc(),
      delivered: (ms) => delivery.observe(Math.max(0, ms) / 1000),
    },
    watchHub: (watched) => {
      hub = watched;
    },
    watchCluster: (watched) => {
      cluster = watched;
    },
    rpcCounter,
    trackStream: (stream) => streams.add(stream),
    untrackStream: (stream) => streams.delete(stream),
    connectInterceptor: (next) => async (request) => {
      const count = connectCount(request.method.name);
      let response;
      try {
        response = await next(request);
      } catch (error) {
        count(ConnectError.from(error).code);
        throw error;
      }
      if (!response.stream) {
        count(OK);
        return response;
      }
      return { ...response, message: countedStream(response.message, request.signal, count) };
    },
  };
}

/**
 * Passes a server stream through, counting it once it ends: OK, its error, or CANCELLED when the
 * client went away (the handler then ends the stream normally; so does a drain, counted alike).
 */
async function* countedStream<T>(messages: AsyncIterable<T>, signal: AbortSignal, count: RpcCount): AsyncGenerator<T> {
  let code: Code = Code.Canceled;
  try {
    yield* messages;
    if (!signal.aborted) code = OK;
  } catch (error) {
    code = ConnectError.from(error).code;
    throw error;
  } finally {
    count(code);
  }
}

function ignore(): void {}
