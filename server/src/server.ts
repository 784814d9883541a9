import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import { TokenSigner } from "./auth/tokens.js";
import type { Config } from "./config.js";
import { Hub } from "./hub/index.js";
import { createSignalingHandlers } from "./rpc/handlers.js";
import { createSignaling } from "./rpc/signaling.js";
import { createGrpcServer } from "./transport/grpc.js";
import { createGrpcWebHandler } from "./transport/grpc-web.js";
import { createRoutes } from "./transport/routes.js";
import { closeGracefully, createWebServer, listen } from "./transport/web.js";

export interface RunningServer {
  hub: Hub;
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
  const hub = new Hub({
    ringTimeoutMs: config.ringTimeoutMs,
    sessionGraceMs: config.sessionGraceMs,
    heartbeatMs: config.heartbeatMs,
    historyLimit: HISTORY_LIMIT,
  });
  hub.start();
  let draining = false;
  const shutdownController = new AbortController();
  const deps = {
    hub,
    tokens: new TokenSigner(config.tokenSecret, config.tokenTtlMs),
    config,
    isDraining: () => draining,
    logger,
  };
  const signaling = createSignaling(deps);
  const routes = createRoutes(signaling);
  const onInternalError = (error: unknown, path: string) => logger.error({ err: error, path }, "request failed");

  const web = createWebServer({
    grpcWeb: createGrpcWebHandler({ routes, streamQueueLimit: config.streamQueueLimit, onInternalError }),
    handlers: createSignalingHandlers(deps, signaling),
    webRoot: config.webRoot,
    shutdownSignal: shutdownController.signal,
    isReady: () => !draining,
  });
  const webPort = await listen(web, config.port, config.host);
  const native = createGrpcServer({ routes, streamQueueLimit: config.streamQueueLimit, onInternalError });
  const grpcPort = await native.listen(config.grpcPort, config.host);

  async function shutdown(): Promise<void> {
    if (draining) return;
    draining = true;
    // Every stream is told to reconnect and ended; unary RPCs in flight finish normally.
    hub.drain(0);
    shutdownController.abort();
    const drained = new AbortController();
    // Resolves at the drain deadline; never, once everything closed in time.
    const deadlinePassed = delay(config.drainTimeoutMs, undefined, { signal: drained.signal }).catch(
      () => new Promise<never>(() => undefined),
    );
    await Promise.all([native.close(deadlinePassed), closeGracefully(web, deadlinePassed)]);
    drained.abort();
    hub.stop();
  }

  return { hub, webPort, grpcPort, shutdown };
}
