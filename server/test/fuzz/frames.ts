/**
 * The raw-frame fuzz's model: a request as the bytes and headers a client puts on the wire,
 * and `predictRaw`, the oracle for how the lean transports must answer it (docs/PROTOCOL.md,
 * "Transports": length-prefixed framing, the 256 KiB limit, no compression, unknown methods).
 */
import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import {
  AnswerRequestSchema,
  EndCallRequestSchema,
  ErrorReason,
  IceCandidateRequestSchema,
  OfferRequestSchema,
  SignalingService,
  UserRequestSchema,
} from "@peertobeer/protocol";
import { requestFrom, type DecodedMessage } from "./messages.js";
import { handlerVerdict, invalidRequest, MESSAGE_MAX_BYTES, refuse, type AuthCase, type Online, type Transport, type Verdict } from "./model.js";

/** Bytes of the length prefix: a flags byte, then the message length (big-endian uint32). */
export const PREFIX_BYTES = 5;

/** How the HTTP/1.1 body of a gRPC-Web request is delimited. */
export type Framing = { kind: "sized"; contentLength: number } | { kind: "chunked" };

export interface RawRequest {
  transport: Transport;
  /** What sort of input this is, for the figures. */
  kind: string;
  /** `:path` on native gRPC, the request target on gRPC-Web. */
  path: string;
  /** The `authorization` header (undefined sends none), and how the server must judge it. */
  auth: AuthCase;
  /** The body, in the pieces it is written in (separate DATA frames or chunks). */
  parts: Uint8Array[];
  /**
   * False when the client never finishes the body (it declared more than it sends, or keeps it
   * open after a whole message): the server must answer from what it has.
   */
  ends: boolean;
  /** gRPC-Web only: the body's Content-Length or chunked encoding. */
  framing: Framing;
}

export function envelope(message: Uint8Array, flags = 0, declared = message.length): Uint8Array {
  const bytes = new Uint8Array(PREFIX_BYTES + message.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, flags);
  view.setUint32(1, declared);
  bytes.set(message, PREFIX_BYTES);
  return bytes;
}

export function bodyOf(raw: RawRequest): Uint8Array {
  return Buffer.concat(raw.parts);
}


/** Every method's path starts with this; on the web port, other paths are the web app's. */
export const RPC_PREFIX = `/${SignalingService.typeName}/`;
const method = (name: string) => `${RPC_PREFIX}${name}`;

/** The routes of the lean transports, each with the decoder of its request message. */
export const ROUTES = new Map<string, (bytes: Uint8Array) => DecodedMessage>([
  [method("JoinCall"), (bytes) => ({ method: "joinCall", message: fromBinary(UserRequestSchema, bytes) })],
  [method("SendOffer"), (bytes) => ({ method: "sendOffer", message: fromBinary(OfferRequestSchema, bytes) })],
  [method("SendAnswer"), (bytes) => ({ method: "sendAnswer", message: fromBinary(AnswerRequestSchema, bytes) })],
  [method("SendIceCandidate"), (bytes) => ({ method: "sendIceCandidate", message: fromBinary(IceCandidateRequestSchema, bytes) })],
  [method("EndCall"), (bytes) => ({ method: "endCall", message: fromBinary(EndCallRequestSchema, bytes) })],
]);

const unknownMethod = refuse(Code.Unimplemented, ErrorReason.UNKNOWN_METHOD);
const compressed = refuse(Code.Unimplemented, ErrorReason.COMPRESSION_UNSUPPORTED);
const tooLarge = refuse(Code.ResourceExhausted, ErrorReason.MESSAGE_TOO_LARGE);

/**
 * The exact answer to `raw` with `online` on the server. Checks run in the transports' order:
 * the method; on gRPC-Web a Content-Length over the limit, unread; the length prefix, as soon
 * as its five bytes are in (compression flag, then declared length); the body ending before
 * its message; then the message, which must decode as the method's request type, goes to the
 * handlers. Bytes after the one message are not read.
 */
export function predictRaw(raw: RawRequest, online: Online): Verdict {
  const decode = ROUTES.get(raw.path);
  if (!decode) return unknownMethod;
  if (raw.transport === "grpcWeb" && raw.framing.kind === "sized" && raw.framing.contentLength > MESSAGE_MAX_BYTES + PREFIX_BYTES) {
    return tooLarge;
  }
  const body = bodyOf(raw);
  if (body.length >= PREFIX_BYTES) {
    if (body[0] !== 0) return compressed;
    const declared = Buffer.from(body.buffer, body.byteOffset, body.length).readUInt32BE(1);
    if (declared > MESSAGE_MAX_BYTES) return tooLarge;
    if (body.length >= PREFIX_BYTES + declared) {
      let decoded: DecodedMessage;
      try {
        decoded = decode(body.subarray(PREFIX_BYTES, PREFIX_BYTES + declared));
      } catch {
        return invalidRequest;
      }
      return handlerVerdict(requestFrom(decoded, raw.transport, raw.auth), online);
    }
  }
  if (!raw.ends) throw new Error(`model: ${raw.kind} would leave the server waiting for the rest of its body`);
  return invalidRequest;
}

/** One line per request, the body in hex (shortened). */
export function describeRaw(raw: RawRequest): string {
  const bytes = bodyOf(raw);
  const shown = bytes.length > 48 ? `${Buffer.from(bytes.subarray(0, 48)).toString("hex")}…(${bytes.length} bytes)` : Buffer.from(bytes).toString("hex");
  const framing = raw.framing.kind === "sized" ? `, content-length ${raw.framing.contentLength}` : ", chunked";
  return (
    `${raw.transport} ${raw.kind} ${JSON.stringify(raw.path)} auth=${raw.auth.label} ${raw.parts.length} part(s)` +
    `${raw.ends ? "" : ", unfinished"}${raw.transport === "grpcWeb" ? framing : ""} body=${shown}`
  );
}
