import { existsSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import type { Interceptor, ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { LIMITS, SignalingService } from "@peertobeer/protocol";
import sirv from "sirv";
import { isBinaryGrpcWeb } from "./grpc-web.js";
import { ICE_SERVERS_PATH } from "./ice-servers.js";
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
  /** GET /ice-servers: STUN/TURN servers for the pre-call check (transport/ice-servers.ts). */
  iceServers: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** Served at GET /metrics (a prom-client Registry). */
  metrics: { readonly contentType: string; metrics(): Promise<string> };
  /** Around every RPC connect-node serves (metrics). */
  interceptors?: Interceptor[];
  /** PEM certificate chain and key: the port serves HTTPS, HTTP/2 and HTTP/1.1. */
  tls?: { cert: Buffer; key: Buffer };
}

/** The web port: plain HTTP/1.1, or HTTPS with HTTP/2 and HTTP/1.1 (TLS_CERT, TLS_KEY). */
export type WebServer = http.Server | SecureWebServer;

/**
 * The browser-facing port: gRPC-Web and Connect on the same origin as the app, so a browser
 * needs no proxy and no CORS. Plus /healthz (process alive), /readyz (accepting joins),
 * /metrics (Prometheus) and /ice-servers (for the pre-call check).
 */
export function createWebServer(options: WebTransportOptions): WebServer {
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
    // Draining: answer what still arrives, and let each connection go after its answer (an
    // HTTP/2 connection is sent a GOAWAY instead; it has no Connection header).
    if (!options.isReady() && req.httpVersionMajor === 1) res.setHeader("connection", "close");
    if (path.startsWith(rpcPrefix)) {
      if (isBinaryGrpcWeb(req)) return options.grpcWeb(req, res);
      lingerAfterRefusal(req, res);
      return rpc(req, res);
    }
    if (path === "/healthz") return plain(res, 200, "ok\n");
    if (path === "/readyz") return options.isReady() ? plain(res, 200, "ready\n") : plain(res, 503, "draining\n");
    if (path === "/metrics") return void scrape(res, options.metrics);
    if (path === ICE_SERVERS_PATH) return options.iceServers(req, res);
    serveApp(req, res);
  };
  if (options.tls) return createSecureWebServer(options.tls, handle);
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

/**
 * HTTPS on node:http2 with HTTP/1.1 allowed, so browsers get HTTP/2 (no six-connection limit
 * per origin) and HTTP/1.1-only clients still work, all on one port. What closeGracefully needs
 * of it that http.Server has built in is tracked here: HTTP/2 sessions and raw sockets.
 */
interface SecureWebServer extends http2.Http2SecureServer {
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

function createSecureWebServer(
  tls: { cert: Buffer; key: Buffer },
  handle: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): SecureWebServer {
  // The compatibility API's request and response stand in for node:http's in what the
  // handlers use (lingerAfterRefusal skips HTTP/2, whose socket must not be touched).
  const secure = http2.createSecureServer({ cert: tls.cert, key: tls.key, allowHTTP1: true }, handle as unknown as (
    req: http2.Http2ServerRequest,
    res: http2.Http2ServerResponse,
  ) => void);
  // HTTP/1.1 requests go through node:http's machinery, whose limits allowHTTP1 turns on:
  // they would cut a JoinCall stream after five minutes.
  Object.assign(secure, { requestTimeout: 0, keepAliveTimeout: 65_000 });
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<Socket>();
  secure.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    session.on("error", () => undefined); // a reset connection; "close" follows
  });
  secure.on("secureConnection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  // Node's Http2SecureServer has it for allowHTTP1 (its typings do not say so).
  const closeIdleHttp1 = (secure as unknown as { closeIdleConnections(): void }).closeIdleConnections.bind(secure);
  return Object.assign(secure, {
    closeIdleConnections() {
      closeIdleHttp1();
      // GOAWAY: the session closes once its open streams have ended.
      for (const session of sessions) if (!session.closed) session.close();
    },
    closeAllConnections() {
      for (const socket of sockets) socket.destroy();
    },
  });
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
export async function closeGracefully(server: WebServer, deadline: Promise<void>): Promise<void> {
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

export function listen(server: NetServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
