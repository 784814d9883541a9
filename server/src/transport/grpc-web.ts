import type * as http from "node:http";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { trailerFlag } from "@connectrpc/connect/protocol-grpc-web";
import { Code } from "@connectrpc/connect";
import { ErrorReason, LIMITS } from "@peertobeer/protocol";
import { rpcError } from "../rpc/errors.js";
import { lingerAfterRefusal } from "./linger.js";
import { cutIfStuck, OK_TRAILERS, serveRoute, unknownMethod, WireResponder, type Route } from "./routes.js";

export interface GrpcWebOptions {
  routes: Map<string, Route>;
  streamQueueLimit: number;
  onInternalError: (error: unknown, path: string) => void;
}

const CONTENT_TYPE = "application/grpc-web+proto";

/** Binary gRPC-Web, what browsers send (connect-web); gRPC-Web text goes to connect-node. */
export function isBinaryGrpcWeb(req: http.IncomingMessage): boolean {
  const type = req.headers["content-type"];
  return req.method === "POST" && (type === "application/grpc-web" || type?.startsWith(CONTENT_TYPE) === true);
}

function trailerFrame(trailers: Readonly<Record<string, string>>): Uint8Array {
  const text = Object.entries(trailers)
    .map(([key, value]) => `${key}: ${value}\r\n`)
    .join("");
  return encodeEnvelope(trailerFlag, Buffer.from(text, "latin1"));
}

const OK_TRAILER_FRAME = trailerFrame(OK_TRAILERS);

/**
 * gRPC-Web over HTTP/1.1 for browsers, on the web port: one request per RPC, the JoinCall
 * stream as a chunked response, the status in a trailer frame at the end of the body.
 */
export function createGrpcWebHandler(options: GrpcWebOptions): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const path = req.url ?? "";
    const responder = new Http1Responder(res, path, options.onInternalError);
    const route = options.routes.get(path);
    if (!route) {
      req.resume();
      responder.fail(unknownMethod(path));
      return;
    }
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > LIMITS.messageMaxBytes + 5) {
      lingerAfterRefusal(req, res);
      route.count(Code.ResourceExhausted);
      responder.fail(
        rpcError(Code.ResourceExhausted, ErrorReason.MESSAGE_TOO_LARGE, `The request is ${declared} bytes; the limit is ${LIMITS.messageMaxBytes}.`),
      );
      return;
    }
    serveRoute(route, req, req.headers.authorization, responder, options.streamQueueLimit);
  };
}

/** One request's answer over HTTP/1.1: the status rides in a trailer frame at the end of the body. */
class Http1Responder extends WireResponder<http.ServerResponse> {
  answer(encoded: Uint8Array): void {
    const res = this.response;
    if (res.destroyed) return;
    const body = Buffer.concat([encoded, OK_TRAILER_FRAME]);
    res.writeHead(200, { "content-type": CONTENT_TYPE, "content-length": body.length });
    res.end(body);
  }

  end(trailers: Readonly<Record<string, string>>): void {
    const res = this.response;
    if (res.destroyed) return;
    this.respond();
    res.end(trailerFrame(trailers));
    cutIfStuck(res, () => res.destroy());
  }

  fail(error: unknown): void {
    const res = this.response;
    if (res.writableEnded || res.destroyed) return;
    const frame = trailerFrame(this.statusOf(error).trailers);
    if (!res.headersSent) res.writeHead(200, { "content-type": CONTENT_TYPE, "content-length": frame.length });
    res.end(frame);
  }

  protected respond(): void {
    if (!this.response.headersSent) this.response.writeHead(200, { "content-type": CONTENT_TYPE });
  }
}
