import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import {
  AnswerRequestSchema,
  EndCallRequestSchema,
  ErrorReason,
  IceCandidateRequestSchema,
  LIMITS,
  OfferRequestSchema,
  SignalingMessageSchema,
  SignalingService,
  SuccessResponseSchema,
  UserRequestSchema,
  type SignalingMessage,
} from "@peertobeer/protocol";
import type { SessionHandle } from "../bus/backend.js";
import type { Sink } from "../hub/index.js";
import { NO_RPC_METRICS, type RpcCount, type RpcMetrics } from "../metrics.js";
import { rpcError } from "../rpc/errors.js";
import type { Signaling, UnaryHandler } from "../rpc/signaling.js";

/*
 * What the two lean transports (native gRPC over node:http2, gRPC-Web over node:http) share:
 * the method table, length-prefixed framing, and the mapping of errors to a gRPC status. They
 * exist because grpc-js and connect-node cost several times more CPU and heap per call than
 * this path (see docs/BENCHMARKS.md); the Connect protocol still goes through connect-node.
 */

export type Route = { count: RpcCount } & (
  | { kind: "unary"; call(body: Uint8Array, authorization: string | undefined): Promise<Uint8Array> }
  | { kind: "stream"; metrics: RpcMetrics; open(body: Uint8Array, sink: Sink): Promise<SessionHandle>; ended(session: SessionHandle, sink: Sink): void }
);

/** Routes by request path, e.g. `/peertobeer.signaling.v1.SignalingService/SendOffer`. */
export function createRoutes(signaling: Signaling, metrics: RpcMetrics = NO_RPC_METRICS): Map<string, Route> {
  const path = (name: string) => `/${SignalingService.typeName}/${name}`;
  const unary = <S extends DescMessage>(method: string, schema: S, handler: UnaryHandler<MessageShape<S>>): [string, Route] => [
    path(method),
    {
      kind: "unary",
      count: metrics.rpcCounter(method),
      call: async (body, authorization) =>
        encodeEnvelope(0, toBinary(SuccessResponseSchema, create(SuccessResponseSchema, await handler(decode(schema, body), authorization)))),
    },
  ];
  const { method } = SignalingService;
  return new Map<string, Route>([
    [
      path(method.joinCall.name),
      {
        kind: "stream",
        count: metrics.rpcCounter(method.joinCall.name),
        metrics,
        open: async (body, sink) => signaling.joinCall(decode(UserRequestSchema, body), sink),
        ended: (session, sink) => signaling.streamEnded(session, sink),
      },
    ],
    unary(method.sendOffer.name, OfferRequestSchema, signaling.sendOffer),
    unary(method.sendAnswer.name, AnswerRequestSchema, signaling.sendAnswer),
    unary(method.sendIceCandidate.name, IceCandidateRequestSchema, signaling.sendIceCandidate),
    unary(method.endCall.name, EndCallRequestSchema, signaling.endCall),
  ]);
}

function decode<S extends DescMessage>(schema: S, body: Uint8Array): MessageShape<S> {
  try {
    return fromBinary(schema, body);
  } catch (error) {
    throw rpcError(Code.InvalidArgument, ErrorReason.INVALID_REQUEST, `Malformed ${schema.name}: ${(error as Error).message}`);
  }
}

function encodeMessage(message: SignalingMessage): Uint8Array {
  return encodeEnvelope(0, toBinary(SignalingMessageSchema, message));
}

/**
 * Collects the one length-prefixed message of a request body, refusing it as soon as its
 * declared size is over the limit (before buffering it).
 */
class RequestBody {
  private readonly chunks: Buffer[] = [];
  private received = 0;
  private declared = -1;

  /** Adds a chunk; returns the message once it is complete. Throws a ConnectError when it is invalid. */
  push(chunk: Buffer): Uint8Array | undefined {
    this.chunks.push(chunk);
    this.received += chunk.length;
    if (this.declared < 0 && this.received >= 5) {
      const head = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
      if ((head[0] ?? 0) !== 0) {
        throw rpcError(Code.Unimplemented, ErrorReason.COMPRESSION_UNSUPPORTED, "Compressed requests are not supported; send uncompressed messages.");
      }
      this.declared = head.readUInt32BE(1);
      if (this.declared > LIMITS.messageMaxBytes) {
        throw rpcError(
          Code.ResourceExhausted,
          ErrorReason.MESSAGE_TOO_LARGE,
          `The request is ${this.declared} bytes; the limit is ${LIMITS.messageMaxBytes}.`,
        );
      }
    }
    if (this.declared < 0 || this.received < this.declared + 5) return undefined;
    const all = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
    return all.subarray(5, 5 + this.declared);
  }

  /** The error for a body that ended before its message was whole. */
  incomplete(): ConnectError {
    return rpcError(
      Code.InvalidArgument,
      ErrorReason.INVALID_REQUEST,
      this.received === 0 ? "The request has no message." : "The request body ended before its message did.",
    );
  }
}

/** The answer to a path no route serves. */
export function unknownMethod(path: string) {
  return rpcError(Code.Unimplemented, ErrorReason.UNKNOWN_METHOD, `There is no method ${path}.`);
}

/** How a transport answers: its own framing of a unary answer and of a stream. */
export interface Responder {
  /** The response that carries the request body (its "drain" and "close" events matter for streams). */
  response: NodeJS.EventEmitter;
  /** Sends a unary call's encoded answer with an OK status. */
  answer(encoded: Uint8Array): void;
  /** The output of a JoinCall stream. */
  streamOutput(): FrameOutput;
  /** Ends the exchange with an error status. */
  fail(error: unknown): void;
}

/**
 * Serves one request: reads the one message of `body` (an HTTP/2 stream or an HTTP/1.1
 * request; a body that is too large, compressed or incomplete fails), then runs `route` and
 * answers through `responder`.
 */
export function serveRoute(
  route: Route,
  body: NodeJS.ReadableStream,
  authorization: string | undefined,
  responder: Responder,
  streamQueueLimit: number,
): void {
  const collector = new RequestBody();
  let started = false;
  body.on("data", (chunk: Buffer) => {
    if (started) return; // anything after the one request message is ignored
    let message: Uint8Array | undefined;
    try {
      message = collector.push(chunk);
    } catch (error) {
      started = true;
      route.count(codeOf(error));
      responder.fail(error);
      return;
    }
    if (!message) return;
    started = true;
    if (route.kind === "unary") answerUnary(route, message, authorization, responder);
    else startStream(route, message, responder, streamQueueLimit);
  });
  body.once("end", () => {
    if (started) return;
    route.count(Code.InvalidArgument);
    responder.fail(collector.incomplete());
  });
}

function answerUnary(route: Extract<Route, { kind: "unary" }>, message: Uint8Array, authorization: string | undefined, responder: Responder): void {
  route.call(message, authorization).then(
    (encoded) => {
      route.count(OK_CODE);
      responder.answer(encoded);
    },
    (error: unknown) => {
      route.count(codeOf(error));
      responder.fail(error);
    },
  );
}

/** Opens the session's stream, which lives until the transport's response closes. */
function startStream(route: Extract<Route, { kind: "stream" }>, message: Uint8Array, responder: Responder, limit: number): void {
  const sink = new WireSink(responder.streamOutput(), limit);
  let session: SessionHandle | undefined;
  let closed = false;
  const finish = (opened: SessionHandle) => {
    route.metrics.untrackStream(sink);
    route.count(sink.code);
    route.ended(opened, sink);
  };
  responder.response.on("drain", () => sink.drained());
  responder.response.once("close", () => {
    closed = true;
    sink.closed();
    if (session) finish(session);
  });
  route.open(message, sink).then(
    (opened) => {
      session = opened;
      route.metrics.trackStream(sink);
      // The client left while the session was being opened: it waits for a resume as usual.
      if (closed) finish(opened);
    },
    (error: unknown) => {
      sink.closed();
      route.count(codeOf(error));
      responder.fail(error);
    },
  );
}

export interface Status {
  code: Code;
  /** grpc-status, grpc-message and the error's metadata (reason, call id), as trailers. */
  trailers: Record<string, string>;
}

export const OK_TRAILERS: Readonly<Record<string, string>> = { "grpc-status": "0" };

const OK_CODE = 0 as Code;

/** The gRPC code a failure is answered with (see statusOf). */
export function codeOf(error: unknown): Code {
  return error instanceof ConnectError ? error.code : Code.Internal;
}

/** A failure as a gRPC status; anything but a ConnectError is INTERNAL and reported. */
function statusOf(error: unknown, onInternalError: (error: unknown) => void): Status {
  let connectError: ConnectError;
  if (error instanceof ConnectError) {
    connectError = error;
  } else {
    onInternalError(error);
    connectError = new ConnectError("Internal server error.", Code.Internal);
  }
  const trailers: Record<string, string> = {};
  setTrailerStatus(new Headers(), connectError).forEach((value, key) => (trailers[key] = value));
  return { code: connectError.code, trailers };
}

/** How long an ended stream may take to flush to a client that stopped reading. */
const END_FLUSH_MS = 5_000;

/** After a stream's end is written: `cut` it if it has not closed within END_FLUSH_MS. */
export function cutIfStuck(response: NodeJS.EventEmitter, cut: () => void): void {
  const timer = setTimeout(cut, END_FLUSH_MS);
  timer.unref();
  response.once("close", () => clearTimeout(timer));
}

/**
 * What both transports' responders share: a stream's output is the responder itself, each
 * frame goes after the response headers, and an unexpected failure is reported with the
 * request's path. Classes rather than closures, because one is made per RPC (and under tsx
 * every named closure also costs an Object.defineProperty).
 */
export abstract class WireResponder<R extends NodeJS.EventEmitter & { write(frame: Uint8Array): boolean }>
  implements Responder, FrameOutput
{
  constructor(
    readonly response: R,
    private readonly path: string,
    private readonly onInternalError: (error: unknown, path: string) => void,
  ) {}

  abstract answer(encoded: Uint8Array): void;
  abstract end(trailers: Readonly<Record<string, string>>): void;
  abstract fail(error: unknown): void;
  /** Sends the response headers unless they went already. */
  protected abstract respond(): void;

  streamOutput(): FrameOutput {
    return this;
  }

  write(frame: Uint8Array): boolean {
    this.respond();
    return this.response.write(frame);
  }

  /** The gRPC status for `error`; anything unexpected is reported with this request's path. */
  protected statusOf(error: unknown): Status {
    return statusOf(error, (internal) => this.onInternalError(internal, this.path));
  }
}

/** Stream output a transport gives a WireSink. */
export interface FrameOutput {
  /** Writes one frame; false once the transport is buffering rather than sending. */
  write(frame: Uint8Array): boolean;
  /** Ends the stream with `trailers` after what was written. */
  end(trailers: Readonly<Record<string, string>>): void;
}

/**
 * A session's stream on the wire. Messages are framed and written at once; when the client
 * stops reading, at most `limit` messages wait in the transport's buffer before the stream is
 * ended with RESOURCE_EXHAUSTED, so a stalled reader never grows the heap.
 */
class WireSink implements Sink {
  /** Messages written since the transport began buffering (read by metrics). */
  backlog = 0;
  /** The status the stream ended with, for metrics; CANCELLED until the server ends it. */
  code: Code = Code.Canceled;
  private blocked = false;
  private finished = false;

  constructor(
    private readonly output: FrameOutput,
    private readonly limit: number,
  ) {}

  push(message: SignalingMessage): void {
    if (this.finished) return;
    if (this.blocked && ++this.backlog > this.limit) {
      this.code = Code.ResourceExhausted;
      this.finish(statusOf(rpcError(Code.ResourceExhausted, ErrorReason.SLOW_READER, "Too many unread messages; stream closed."), noop).trailers);
      return;
    }
    if (!this.output.write(encodeMessage(message))) this.blocked = true;
  }

  replay(messages: readonly SignalingMessage[]): void {
    // A replay is bounded by the session's history, not by the stream's limit.
    for (const message of messages) {
      if (!this.finished && !this.output.write(encodeMessage(message))) this.blocked = true;
    }
  }

  /** The transport flushed its buffer. */
  drained(): void {
    this.blocked = false;
    this.backlog = 0;
  }

  end(): void {
    if (!this.finished) this.code = OK_CODE;
    this.finish(OK_TRAILERS);
  }

  /** The stream is gone (client left or cut): nothing more is written. */
  closed(): void {
    this.finished = true;
  }

  private finish(trailers: Readonly<Record<string, string>>): void {
    if (this.finished) return;
    this.finished = true;
    this.output.end(trailers);
  }
}

function noop(): void {}
