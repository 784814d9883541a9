import { existsSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { LIMITS, SignalingService } from "@peertobeer/protocol";
import sirv from "sirv";

/** How long a refused request's connection may keep sending before it is closed. */
const LINGER_MS = 2_000;

export interface WebTransportOptions {
  handlers: ServiceImpl<typeof SignalingService>;
  /** Folder of the built React app; served with an SPA fallback to index.html. */
  webRoot: string;
  /** Aborts every open stream when the node shuts down. */
  shutdownSignal: AbortSignal;
  isReady: () => boolean;
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
    grpc: false, // native gRPC is served by grpc-js on GRPC_PORT
    grpcWeb: true,
    connect: true,
    readMaxBytes: LIMITS.messageMaxBytes,
    shutdownSignal: options.shutdownSignal,
  });
  const rpcPrefix = `/${SignalingService.typeName}/`;
  const server = http.createServer((req, res) => {
    const path = req.url?.split("?")[0] ?? "/";
    if (path.startsWith(rpcPrefix)) {
      const socket = req.socket;
      res.once("finish", () => lingerIfUnread(req, socket));
      return rpc(req, res);
    }
    if (path === "/healthz") return plain(res, 200, "ok\n");
    if (path === "/readyz") return options.isReady() ? plain(res, 200, "ready\n") : plain(res, 503, "draining\n");
    serveApp(req, res);
  });
  // Signaling streams are long-lived; Node's default request timeout would cut them.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  return server;
}

/**
 * connect-node answers a request it refuses (say, over the size limit) without reading the rest
 * of its body, and the socket stays paused: it would never notice the client leave and would
 * leak. Read and drop what the client still sends (a lingering close, so the client is not
 * reset before it reads the answer), and close once the client is done or after a while.
 */
function lingerIfUnread(req: http.IncomingMessage, socket: Socket): void {
  if (req.complete || socket.destroyed) return;
  const close = () => socket.destroy();
  socket.once("end", close);
  setTimeout(close, LINGER_MS).unref();
  socket.resume();
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
