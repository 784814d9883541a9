import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import { SignalingService } from "@peertobeer/protocol";
import * as grpc from "@grpc/grpc-js";
import { TokenSigner } from "./auth/tokens.js";
import type { Config } from "./config.js";
import { Hub } from "./hub/index.js";
import { createSignalingHandlers } from "./rpc/handlers.js";
import { createGrpcServer } from "./transport/grpc.js";
import { createWebServer, listen } from "./transport/web.js";

export interface RunningServer {
  hub: Hub;
  webPort: number;
  grpcPort: number;
  /** Stops accepting joins, tells clients to reconnect, closes streams, then both ports. */
  shutdown(): Promise<void>;
}

/** Replay window per session; a client that missed more starts a fresh session. */
const HISTORY_LIMIT = 512;

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
  const handlers = createSignalingHandlers({
    hub,
    tokens: new TokenSigner(config.tokenSecret, config.tokenTtlMs),
    config,
    isDraining: () => draining,
  });

  const web = createWebServer({
    handlers,
    webRoot: config.webRoot,
    shutdownSignal: shutdownController.signal,
    isReady: () => !draining,
  });
  const webPort = await listen(web, config.port, config.host);

  const native = createGrpcServer({
    service: SignalingService,
    handlers,
    shutdownSignal: shutdownController.signal,
    onInternalError: (error, method) => logger.error({ err: error, method }, "grpc handler failed"),
  });
  const grpcPort = await new Promise<number>((resolve, reject) => {
    const address = config.host.includes(":") ? `[${config.host}]:${config.grpcPort}` : `${config.host}:${config.grpcPort}`;
    native.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    );
  });

  async function shutdown(): Promise<void> {
    if (draining) return;
    draining = true;
    hub.drain(0);
    // Streams end now (clients were told to reconnect); unary RPCs in flight finish normally.
    shutdownController.abort();
    const drained = new AbortController();
    // Resolves at the drain deadline; never, once everything closed in time.
    const deadlinePassed = delay(config.drainTimeoutMs, undefined, { signal: drained.signal }).catch(
      () => new Promise<never>(() => undefined),
    );
    await Promise.all([
      new Promise<void>((resolve) => {
        native.tryShutdown(() => resolve());
        // At the deadline grpc-js may only half-close a session it already shut down
        // gracefully, and then never calls back: stop waiting once it is forced.
        void deadlinePassed.then(() => {
          native.forceShutdown();
          resolve();
        });
      }),
      new Promise<void>((resolve) => {
        // Ended streams leave keep-alive sockets behind; close each as soon as it goes idle.
        const sweep = setInterval(() => web.closeIdleConnections(), 25);
        void deadlinePassed.then(() => web.closeAllConnections());
        web.close(() => {
          clearInterval(sweep);
          resolve();
        });
        web.closeIdleConnections();
      }),
    ]);
    drained.abort();
    hub.stop();
  }

  return { hub, webPort, grpcPort, shutdown };
}
