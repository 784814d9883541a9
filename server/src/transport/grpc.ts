import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { cutIfStuck, OK_TRAILERS, serveRoute, unknownMethod, WireResponder, type Route } from "./routes.js";

export interface GrpcTransportOptions {
  routes: Map<string, Route>;
  /** Messages a stream may hold unsent before its reader counts as stalled. */
  streamQueueLimit: number;
  onInternalError: (error: unknown, path: string) => void;
}

export interface GrpcServer {
  listen(port: number, host: string): Promise<number>;
  /**
   * Stops taking connections and asks every client to go away once its calls finish; at
   * `deadline` whatever is left is cut.
   */
  close(deadline: Promise<void>): Promise<void>;
}

const RESPONSE_HEADERS = {
  ":status": 200,
  "content-type": "application/grpc+proto",
  "grpc-accept-encoding": "identity",
} as const;

/** Idle connections are pinged this often; one unanswered until the next ping is dead. */
const KEEPALIVE_MS = 30_000;

/**
 * Native gRPC (HTTP/2) for Envoy, bots and stock gRPC clients, on node:http2. It calls the same
 * handlers as the web port through `routes`; only framing and HTTP/2 live here.
 */
export function createGrpcServer(options: GrpcTransportOptions): GrpcServer {
  const sessions = new Set<http2.ServerHttp2Session>();
  const unanswered = new WeakSet<http2.ServerHttp2Session>();
  const server = http2.createServer();

  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    session.on("error", () => undefined); // a reset connection; "close" follows
  });
  server.on("stream", (stream, headers) => serve(stream, headers, options));

  // One timer for every connection: notices dead peers behind NATs and proxies.
  const keepalive = setInterval(() => {
    for (const session of sessions) {
      if (unanswered.has(session)) {
        session.destroy();
        continue;
      }
      unanswered.add(session);
      session.ping(() => unanswered.delete(session));
    }
  }, KEEPALIVE_MS);
  keepalive.unref();

  return {
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    async close(deadline) {
      clearInterval(keepalive);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      await Promise.race([
        closed,
        deadline.then(() => {
          for (const session of sessions) session.destroy();
        }),
      ]);
    },
  };
}

function serve(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, options: GrpcTransportOptions): void {
  const path = headers[":path"] ?? "";
  stream.on("error", () => undefined); // the client reset the stream; "close" follows
  if (headers[":method"] !== "POST" || !headers["content-type"]?.startsWith("application/grpc")) {
    stream.respond({ ":status": 415 }, { endStream: true });
    return;
  }
  const responder = new Http2Responder(stream, path, options.onInternalError);
  const route = options.routes.get(path);
  if (!route) responder.fail(unknownMethod(path));
  else serveRoute(route, stream, headers.authorization, responder, options.streamQueueLimit);
}

/** One RPC's answer over HTTP/2: the status rides in HTTP trailers. */
class Http2Responder extends WireResponder<http2.ServerHttp2Stream> {
  answer(encoded: Uint8Array): void {
    const stream = this.response;
    if (stream.destroyed) return;
    this.respond();
    stream.once("wantTrailers", () => stream.sendTrailers(OK_TRAILERS));
    stream.end(encoded);
  }

  end(trailers: Readonly<Record<string, string>>): void {
    const stream = this.response;
    if (stream.destroyed) return;
    this.respond();
    this.endWith(trailers);
    cutIfStuck(stream, () => stream.close(http2.constants.NGHTTP2_CANCEL));
  }

  fail(error: unknown): void {
    const stream = this.response;
    if (stream.destroyed || stream.closed) return;
    const { trailers } = this.statusOf(error);
    // Trailers-only when nothing was sent yet: the status rides on the response headers.
    if (stream.headersSent) this.endWith(trailers);
    else stream.respond({ ...RESPONSE_HEADERS, ...trailers }, { endStream: true });
    // Refused before the client finished sending (too large, say): ask it to stop, without
    // error, instead of reading the rest (RFC 9113 §8.1).
    if (!stream.readableEnded) stream.close(http2.constants.NGHTTP2_NO_ERROR);
  }

  protected respond(): void {
    if (!this.response.headersSent) this.response.respond(RESPONSE_HEADERS, { waitForTrailers: true });
  }

  private endWith(trailers: Readonly<Record<string, string>>): void {
    const stream = this.response;
    stream.once("wantTrailers", () => stream.sendTrailers(trailers));
    stream.end();
  }
}
