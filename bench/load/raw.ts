/**
 * A lean client for the load generators that must not be the bottleneck (B2, the cluster's
 * setups per second; issue #17): native gRPC framed by hand on HTTP/2 over a plain socket
 * (h2.ts) and gRPC-Web on HTTP/1.1 sockets written and read by hand (h1.ts), messages encoded
 * with @bufbuild/protobuf, request bodies that repeat but for the call id encoded once, no
 * timer or AbortSignal per call (a sweep fails late calls). It speaks exactly the wire the
 * server's transports parse (server/src/transport/grpc.ts, grpc-web.ts) with the headers
 * those need. Shape: what OursUser calls (SignalingCalls in ours.ts).
 */
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
import { frame, type GrpcCall } from "./grpc-frame.js";
import { Http1GrpcWebConnection } from "./h1.js";
import { Http2GrpcConnection } from "./h2.js";
import type { LoadConfig } from "./types.js";
import type { WireCounter } from "./wire.js";

const SERVICE = "/peertobeer.signaling.v1.SignalingService/";

export interface UnaryOptions {
  headers: Record<string, string>;
  /** connect-node's; the lean client fails a call after the load's step timeout instead. */
  signal?: AbortSignal;
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

/** Either lean connection, seen the same way: a call is a method, a token, a body and its answer. */
interface Exchange {
  request(method: string, authorization: string | undefined, body: Buffer, call: GrpcCall, timeoutMs: number, stream: boolean): () => void;
  close(): void;
}

function exchangeFor(config: LoadConfig, port: number, wire: WireCounter | undefined): Exchange {
  if (config.system === "ours-grpc") {
    const connection = new Http2GrpcConnection(config.host, port, wire);
    return {
      request: (method, authorization, body, call, timeoutMs) => connection.request(method, `${SERVICE}${method}`, authorization, body, call, timeoutMs),
      close: () => connection.close(),
    };
  }
  const connection = new Http1GrpcWebConnection(config.host, port, wire);
  return {
    request: (method, authorization, body, call, timeoutMs, stream) =>
      connection.request(method, `${SERVICE}${method}`, authorization, body, call, timeoutMs, stream),
    close: () => connection.close(),
  };
}

/** Request fields that stay the same from call to call, whose encoding is kept. */
interface Repeating {
  callId?: string;
  toUserId?: string;
  sdp?: string;
  candidates?: readonly unknown[];
  endOfCandidates?: boolean;
}

/**
 * A request's encoding but for its call id, kept per schema and candidates array: a pair sends
 * the same description and candidates on every call, and encoding a 3.5 KB offer is most of
 * what sending one costs the client.
 */
const kept = new Map<DescMessage, WeakMap<object, { toUserId?: string; sdp?: string; end?: boolean; bytes: Uint8Array }>>();

function repeatingBytes<I extends DescMessage>(schema: I, request: MessageInitShape<I> & Repeating): Uint8Array {
  const key = request.candidates;
  let bySchema = kept.get(schema);
  if (!bySchema) kept.set(schema, (bySchema = new WeakMap()));
  const hit = key && bySchema.get(key);
  if (hit && hit.sdp === request.sdp && hit.toUserId === request.toUserId && hit.end === request.endOfCandidates) return hit.bytes;
  const bytes = toBinary(schema, create(schema, { ...request, callId: "" } as MessageInitShape<I>) as MessageShape<I>);
  if (key) bySchema.set(key, { ...(request.toUserId !== undefined ? { toUserId: request.toUserId } : {}), ...(request.sdp !== undefined ? { sdp: request.sdp } : {}), ...(request.endOfCandidates !== undefined ? { end: request.endOfCandidates } : {}), bytes });
  return bytes;
}

/**
 * The framed body: `call_id` (field 1 of AnswerRequest, IceCandidateRequest and EndCallRequest;
 * OfferRequest has none set) written ahead of the kept bytes; protobuf takes fields in any order.
 */
export function encodeRequest<I extends DescMessage>(schema: I, request: MessageInitShape<I> & Repeating): Buffer {
  const rest = repeatingBytes(schema, request);
  const callId = request.callId ? Buffer.from(request.callId, "utf8") : undefined;
  if (!callId) return frame(rest);
  if (callId.length > 127) throw new Error(`a call id of ${callId.length} bytes; this encoder writes lengths of one byte`);
  const length = 2 + callId.length + rest.length;
  const out = Buffer.allocUnsafe(5 + length);
  out[0] = 0;
  out.writeUInt32BE(length, 1);
  out[5] = 0x0a; // field 1, length-delimited
  out[6] = callId.length;
  callId.copy(out, 7);
  out.set(rest, 7 + callId.length);
  return out;
}

/** The SignalingService calls OursUser makes, over one simulated user's own connection(s). */
export class RawClient {
  private readonly exchange: Exchange;

  constructor(
    config: LoadConfig,
    port: number,
    wire: WireCounter | undefined,
    private readonly timeoutMs = config.stepTimeoutMs,
  ) {
    this.exchange = exchangeFor(config, port, wire);
  }

  joinCall(request: MessageInitShape<typeof UserRequestSchema>, options: { signal: AbortSignal }): AsyncIterable<SignalingMessage> {
    const queue = new StreamQueue();
    const cancel = this.exchange.request(
      "JoinCall",
      undefined,
      frame(toBinary(UserRequestSchema, create(UserRequestSchema, request))),
      { onMessage: (bytes) => queue.push(fromBinary(SignalingMessageSchema, bytes)), onEnd: (error) => queue.end(error) },
      Number.POSITIVE_INFINITY,
      true,
    );
    options.signal.addEventListener("abort", cancel, { once: true });
    return queue;
  }

  private unary<I extends DescMessage>(method: string, schema: I, request: MessageInitShape<I> & Repeating, options: UnaryOptions): Promise<SuccessResponse> {
    return new Promise((resolve, reject) => {
      let response: SuccessResponse | undefined;
      this.exchange.request(
        method,
        options.headers.authorization,
        encodeRequest(schema, request),
        {
          onMessage: (bytes) => (response = fromBinary(SuccessResponseSchema, bytes)),
          onEnd: (error) => {
            if (error) reject(error);
            else if (!response) reject(new Error(`${method}: no response message`));
            else resolve(response);
          },
        },
        this.timeoutMs,
        false,
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
