/**
 * A lean client for the load generators that must not be the bottleneck (B2, the cluster's
 * setups per second): gRPC and gRPC-Web framed by hand over node:http2 and node:http keep-alive,
 * messages encoded with @bufbuild/protobuf, and none of connect-node's interceptors, header
 * objects, abort plumbing or async-iterable streams of its own. It speaks exactly the wire the
 * server's transports parse (server/src/transport/grpc.ts, grpc-web.ts); it sends no more than
 * the headers those need. Shape: what OursUser calls (SignalingCalls in ours.ts).
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import {
  AnswerRequestSchema,
  EndCallRequestSchema,
  IceCandidateRequestSchema,
  OfferRequestSchema,
  SignalingMessageSchema,
  SuccessResponseSchema,
  UserRequestSchema,
  type SignalingMessage,
  type SuccessResponse,
} from "@peertobeer/protocol";
import type { LoadConfig } from "./types.js";
import { CountingAgent, type WireCounter } from "./wire.js";

const SERVICE = "/peertobeer.signaling.v1.SignalingService/";
const TRAILER_FLAG = 0x80;

export interface UnaryOptions {
  headers: Record<string, string>;
  signal: AbortSignal;
}

/** Length-prefixed message frame: flag 0, big-endian length, the bytes. */
function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + bytes.length);
  out[0] = 0;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

/** Splits a byte stream into frames as chunks arrive. */
class Deframer {
  private buffered: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (flag: number, body: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 5) {
      const length = this.buffered.readUInt32BE(1);
      if (this.buffered.length < 5 + length) return;
      const flag = this.buffered[0] ?? 0;
      const body = this.buffered.subarray(5, 5 + length);
      this.buffered = this.buffered.subarray(5 + length);
      this.onFrame(flag, body);
    }
  }
}

/** "grpc-status: 3\r\ngrpc-message: …" (a gRPC-Web trailer frame) → its status and message. */
function trailerStatus(text: string): { status: string; message: string } {
  const fields = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: fields.get("grpc-status") ?? "", message: decodeURIComponent(fields.get("grpc-message") ?? "") };
}

function statusError(method: string, status: string, message: string): Error {
  return new Error(`${method}: grpc-status ${status || "missing"}${message ? ` (${message})` : ""}`);
}

/**
 * A server stream as an async iterator over a queue the transport fills: what OursUser's pump
 * reads, one `next()` at a time.
 */
class StreamQueue implements AsyncIterableIterator<SignalingMessage> {
  private readonly items: SignalingMessage[] = [];
  private waiter: { resolve: (r: IteratorResult<SignalingMessage>) => void; reject: (e: Error) => void } | undefined;
  private ended = false;
  private failure: Error | undefined;

  push(message: SignalingMessage): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter.resolve({ value: message, done: false });
    else this.items.push(message);
  }

  end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (!waiter) return;
    if (error) waiter.reject(error);
    else waiter.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<SignalingMessage>> {
    const item = this.items.shift();
    if (item) return Promise.resolve({ value: item, done: false });
    if (this.ended) return this.failure ? Promise.reject(this.failure) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<SignalingMessage> {
    return this;
  }
}

/** The transport-specific part: one request carrying `body`, its data frames and final status. */
interface Exchange {
  /** Starts a request; every data frame goes to `onMessage`, then `onEnd` once (with an error unless status 0). */
  request(method: string, body: Buffer, headers: Record<string, string>, signal: AbortSignal, onMessage: (bytes: Buffer) => void, onEnd: (error?: Error) => void): void;
  close(): void;
}

/** Native gRPC on one HTTP/2 connection. */
class Http2Exchange implements Exchange {
  private readonly session: http2.ClientHttp2Session;

  constructor(config: LoadConfig, port: number, wire: WireCounter | undefined) {
    const authority = `http://${config.host}:${port}`;
    this.session = http2.connect(authority, wire ? { createConnection: () => wire.connect(port, config.host) } : {});
    // A failed connection fails its streams; the session's own error needs no other handling.
    this.session.on("error", () => {});
  }

  request(method: string, body: Buffer, headers: Record<string, string>, signal: AbortSignal, onMessage: (bytes: Buffer) => void, onEnd: (error?: Error) => void): void {
    const stream = this.session.request({
      ":method": "POST",
      ":path": `${SERVICE}${method}`,
      "content-type": "application/grpc+proto",
      te: "trailers",
      ...headers,
    });
    let status = "";
    let message = "";
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      signal.removeEventListener("abort", onAbort);
      onEnd(error);
    };
    const onAbort = () => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      finish(new Error(`${method}: aborted`));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const readStatus = (fields: http2.IncomingHttpHeaders) => {
      if (fields["grpc-status"] !== undefined) status = String(fields["grpc-status"]);
      if (fields["grpc-message"] !== undefined) message = decodeURIComponent(String(fields["grpc-message"]));
    };
    // Trailers-only answers (errors) carry the status in the headers.
    stream.on("response", readStatus);
    stream.on("trailers", readStatus);
    const deframer = new Deframer((_, bytes) => onMessage(bytes));
    stream.on("data", (chunk: Buffer) => deframer.push(chunk));
    stream.on("end", () => finish(status === "0" ? undefined : statusError(method, status, message)));
    stream.on("error", (error) => finish(error));
    stream.on("close", () => finish(status === "0" ? undefined : statusError(method, status, message || "stream closed")));
    stream.end(body);
  }

  close(): void {
    this.session.destroy();
  }
}

/**
 * gRPC-Web over HTTP/1.1 keep-alive, as a browser: a socket held by the JoinCall stream and one
 * reused for unary calls; the status arrives in a trailer frame at the end of the body.
 */
class Http1Exchange implements Exchange {
  private readonly agent: http.Agent;

  constructor(
    private readonly config: LoadConfig,
    private readonly port: number,
    wire: WireCounter | undefined,
  ) {
    this.agent = wire ? new CountingAgent(wire, { keepAlive: true }) : new http.Agent({ keepAlive: true });
  }

  request(method: string, body: Buffer, headers: Record<string, string>, signal: AbortSignal, onMessage: (bytes: Buffer) => void, onEnd: (error?: Error) => void): void {
    let done = false;
    let status: { status: string; message: string } | undefined;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      signal.removeEventListener("abort", onAbort);
      onEnd(error);
    };
    const req = http.request({
      agent: this.agent,
      host: this.config.host,
      port: this.port,
      method: "POST",
      path: `${SERVICE}${method}`,
      headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", "content-length": body.length, ...headers },
    });
    const onAbort = () => {
      req.destroy();
      finish(new Error(`${method}: aborted`));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    req.on("response", (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        finish(new Error(`${method}: HTTP ${res.statusCode}`));
        return;
      }
      const deframer = new Deframer((flag, bytes) => {
        if (flag & TRAILER_FLAG) status = trailerStatus(bytes.toString("latin1"));
        else onMessage(bytes);
      });
      res.on("data", (chunk: Buffer) => deframer.push(chunk));
      res.on("end", () => finish(status?.status === "0" ? undefined : statusError(method, status?.status ?? "", status?.message ?? "")));
      res.on("error", (error) => finish(error));
      res.on("close", () => finish(status?.status === "0" ? undefined : statusError(method, status?.status ?? "", "response closed")));
    });
    req.on("error", (error) => finish(error));
    req.end(body);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The SignalingService calls OursUser makes, over one simulated user's own connection(s). */
export class RawClient {
  private readonly exchange: Exchange;

  constructor(config: LoadConfig, port: number, wire: WireCounter | undefined) {
    this.exchange = config.system === "ours-grpc" ? new Http2Exchange(config, port, wire) : new Http1Exchange(config, port, wire);
  }

  joinCall(request: MessageInitShape<typeof UserRequestSchema>, options: { signal: AbortSignal }): AsyncIterable<SignalingMessage> {
    const queue = new StreamQueue();
    this.exchange.request(
      "JoinCall",
      frame(toBinary(UserRequestSchema, create(UserRequestSchema, request))),
      {},
      options.signal,
      (bytes) => queue.push(fromBinary(SignalingMessageSchema, bytes)),
      (error) => queue.end(error),
    );
    return queue;
  }

  private unary<I extends DescMessage>(method: string, schema: I, request: MessageInitShape<I>, options: UnaryOptions): Promise<SuccessResponse> {
    return new Promise((resolve, reject) => {
      let response: SuccessResponse | undefined;
      this.exchange.request(
        method,
        frame(toBinary(schema, create(schema, request) as MessageShape<I>)),
        options.headers,
        options.signal,
        (bytes) => (response = fromBinary(SuccessResponseSchema, bytes)),
        (error) => {
          if (error) reject(error);
          else if (!response) reject(new Error(`${method}: no response message`));
          else resolve(response);
        },
      );
    });
  }

  sendOffer(request: MessageInitShape<typeof OfferRequestSchema>, options: UnaryOptions): Promise<SuccessResponse> {
    return this.unary("SendOffer", OfferRequestSchema, request, options);
  }

  sendAnswer(request: MessageInitShape<typeof AnswerRequestSchema>, options: UnaryOptions): Promise<SuccessResponse> {
    return this.unary("SendAnswer", AnswerRequestSchema, request, options);
  }

  sendIceCandidate(request: MessageInitShape<typeof IceCandidateRequestSchema>, options: UnaryOptions): Promise<SuccessResponse> {
    return this.unary("SendIceCandidate", IceCandidateRequestSchema, request, options);
  }

  endCall(request: MessageInitShape<typeof EndCallRequestSchema>, options: UnaryOptions): Promise<SuccessResponse> {
    return this.unary("EndCall", EndCallRequestSchema, request, options);
  }

  close(): void {
    this.exchange.close();
  }
}
