import { readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import { TokenSigner } from "./auth/tokens.js";
import type { Config } from "./config.js";
import type { SignalingBackend } from "./bus/backend.js";
import { MemoryBackend } from "./bus/memory.js";
import { RedisBackend } from "./bus/redis.js";
import type { Hub } from "./hub/index.js";
import { createServerMetrics, type ServerMetrics } from "./metrics.js";
import { createSignalingHandlers } from "./rpc/handlers.js";
import { createSignaling } from "./rpc/signaling.js";
import { createGrpcServer } from "./transport/grpc.js";
import { createGrpcWebHandler } from "./transport/grpc-web.js";
import { createIceServersEndpoint } from "./transport/ice-servers.js";
import { createRoutes } from "./transport/routes.js";
import { closeGracefully, createWebServer, listen } from "./transport/web.js";

export interface RunningServer {
  backend: SignalingBackend;
  /** The in-memory hub (one-node mode), for tests and the bench; undefined in cluster mode. */
  hub: Hub | undefined;
  /** This node's id in cluster mode (Redis knows which node holds each stream by it). */
  nodeId: string | undefined;
  metrics: ServerMetrics;
  webPort: number;
  grpcPort: number;
  /** Stops accepting joins, tells clients to reconnect, closes streams, then both ports. */
  shutdown(): Promise<void>;
}

/**
 * Replay window per session (the hub also drops what is older than a resume can need); a client
 * that missed more starts a fresh session. 256 KiB is some twenty call setups of SDPs and
 * candidates.
 */
export const HISTORY_LIMIT = { events: 512, bytes: 256 * 1024 };

export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const tls = config.tls && readTls(config.tls);
  const metrics = createServerMetrics();
  const hubOptions = {
    ringTimeoutMs: config.ringTimeoutMs,
    maxCallParticipants: config.maxCallParticipants,
    sessionGraceMs: config.sessionGraceMs,
    heartbeatMs: config.heartbeatMs,
    historyLimit: HISTORY_LIMIT,
    observer: metrics.hubObserver,
  };
  const backend: MemoryBackend | RedisBackend = config.redisUrl
    ? await RedisBackend.connect({
        ...hubOptions,
        url: config.redisUrl,
        prefix: config.redisPrefix,
        onError: (error, what) => logger.warn({ err: error }, `redis: ${what} failed`),
      })
    : new MemoryBackend(hubOptions);
  if (backend instanceof MemoryBackend) metrics.watchHub(backend.hub);
  else {
    metrics.watchHub(backend);
    metrics.watchCluster(backend);
  }
  let draining = false;
  const shutdownController = new AbortController();
  const deps = {
    backend,
    tokens: new TokenSigner(config.tokenSecret, config.tokenTtlMs),
    config,
    isDraining: () => draining,
    logger,
  };
  const signaling = createSignaling(deps);
  const routes = createRoutes(signaling, metrics);
  const onInternalError = (error: unknown, path: string) => logger.error({ err: error, path }, "request failed");

  const web = createWebServer({
    grpcWeb: createGrpcWebHandler({ routes, streamQueueLimit: config.streamQueueLimit, onInternalError }),
    handlers: createSignalingHandlers(deps, signaling, metrics),
    webRoot: config.webRoot,
    shutdownSignal: shutdownController.signal,
    isReady: () => !draining && backend.ready(),
    iceServers: createIceServersEndpoint({ iceServers: config.iceServers, turn: config.turn }),
    metrics: metrics.registry,
    interceptors: [metrics.connectInterceptor],
    tls,
  });
  const webPort = await listen(web, config.port, config.host);
  const native = createGrpcServer({ routes, streamQueueLimit: config.streamQueueLimit, onInternalError });
  const grpcPort = await native.listen(config.grpcPort, config.host);

  async function shutdown(): Promise<void> {
    if (draining) return;
    draining = true;
    // Every stream is told to reconnect and ended; unary RPCs in flight finish normally.
    backend.drain(0);
    shutdownController.abort();
    const drained = new AbortController();
    // Resolves at the drain deadline; never, once everything closed in time.
    const deadlinePassed = delay(config.drainTimeoutMs, undefined, { signal: drained.signal }).catch(
      () => new Promise<never>(() => undefined),
    );
    await Promise.all([native.close(deadlinePassed), closeGracefully(web, deadlinePassed)]);
    drained.abort();
    await backend.close();
  }

  return {
    backend,
    hub: backend instanceof MemoryBackend ? backend.hub : undefined,
    nodeId: backend instanceof RedisBackend ? backend.nodeId : undefined,
    metrics,
    webPort,
    grpcPort,
    shutdown,
  };
}

function readTls(paths: { certPath: string; keyPath: string }): { cert: Buffer; key: Buffer } {
  const read = (name: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`${name} ${path} cannot be read: ${(error as Error).message}`);
    }
  };
  return { cert: read("TLS_CERT", paths.certPath), key: read("TLS_KEY", paths.keyPath) };
}
