import { existsSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import type { Interceptor, ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { LIMITS, SignalingService } from "@peertobeer/protocol";
import sirv from "sirv";
import { isBinaryGrpcWeb } from "./grpc-web.js";
import { lingerAfterRefusal } from "./linger.js";

export interface WebTransportOptions {
  /** Binary gRPC-Web, what browsers send: the lean path of transport/grpc-web.ts. */
  grpcWeb: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** The Connect protocol and gRPC-Web text, through connect-node. */
  handlers: ServiceImpl<typeof SignalingService>;
  /** Folder of the built React app; served with an SPA fallback to index.html. */
  webRoot: string;
  /** Aborts every open stream when the node shuts down. */
  shutdownSignal: AbortSignal;
  isReady: () => boolean;
  /** Served at GET /metrics (a prom-client Registry). */
  metrics: { readonly contentType: string; metrics(): Promise<string> };
  /** Around every RPC connect-node serves (metrics). */
  interceptors?: Interceptor[];
}

/**
 * The browser-facing port: gRPC-Web and Connect on the same origin as the app, so a browser
 * needs no proxy and no CORS. Plus /healthz (process alive) and /readyz (accepting joins).
 */
export function createWebServer(options: WebTransportOptions): http.Server {
  const serveApp = existsSync(options.webRoot)
    ? sirv(options.webRoot, { single: true, etag: true })
    : (_req: http.IncomingMessage, res: http.ServerResponse) => {
        res.writeHead(503, { "content-type": "text/plain; charset=utf-8" });
        res.end(`The web app is not built (no ${options.webRoot}). Run: npm run build\n`);
      };

  const rpc = connectNodeAdapter({
    routes: (router) => router.service(SignalingService, options.handlers),
    grpc: false, // native gRPC is served on GRPC_PORT (transport/grpc.ts)
    grpcWeb: true,
    connect: true,
    readMaxBytes: LIMITS.messageMaxBytes,
    shutdownSignal: options.shutdownSignal,
    interceptors: options.interceptors ?? [],
  });
  const rpcPrefix = `/${SignalingService.typeName}/`;
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = req.url?.split("?")[0] ?? "/";
    // Draining: answer what still arrives, and let each connection go after its answer.
    if (!options.isReady()) res.setHeader("connection", "close");
    if (path.startsWith(rpcPrefix)) {
      if (isBinaryGrpcWeb(req)) return options.grpcWeb(req, res);
      lingerAfterRefusal(req, res);
      return rpc(req, res);
    }
    if (path === "/healthz") return plain(res, 200, "ok\n");
    if (path === "/readyz") return options.isReady() ? plain(res, 200, "ready\n") : plain(res, 503, "draining\n");
    if (path === "/metrics") return void scrape(res, options.metrics);
    serveApp(req, res);
  };
  const server = http.createServer(handle);
  // Signaling streams are long-lived; Node's default request timeout would cut them.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  return server;
}

async function scrape(res: http.ServerResponse, metrics: WebTransportOptions["metrics"]): Promise<void> {
  try {
    const body = await metrics.metrics();
    res.writeHead(200, { "content-type": metrics.contentType, "cache-control": "no-store" });
    res.end(body);
  } catch (error) {
    plain(res, 500, `metrics failed: ${(error as Error).message}\n`);
  }
}

/** How long the port keeps serving after a drain began, for requests already on their way. */
const DRAIN_GRACE_MS = 1_000;

/**
 * Closes the web port without racing clients. For a short grace it keeps answering (joins are
 * refused as DRAINING by then; a request sent before its client heard of the drain still
 * succeeds, and each connection is closed after its answer); then it stops listening and
 * closes connections as they go idle. Closing idle keep-alive connections at once, as
 * http.Server.close does, resets requests already on the wire. At `deadline` every connection
 * is cut.
 */
export async function closeGracefully(server: http.Server, deadline: Promise<void>): Promise<void> {
  await Promise.race([delay(DRAIN_GRACE_MS), deadline]);
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const sweep = setInterval(() => server.closeIdleConnections(), 25);
  void deadline.then(() => server.closeAllConnections());
  await closed;
  clearInterval(sweep);
}

function plain(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
  res.end(body);
}

export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
