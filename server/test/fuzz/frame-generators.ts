/**
 * The raw-frame fuzz's generators: request bodies as bytes (random, protobuf-shaped noise,
 * messages of the right and of the wrong type), in well-formed, truncated, mis-declared,
 * compressed, doubled and oversized envelopes, written in pieces, to known and unknown paths.
 */
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import fc from "fast-check";
import {
  AnswerRequestSchema,
  EndCallRequestSchema,
  IceCandidateRequestSchema,
  IceCandidateSchema,
  OfferRequestSchema,
  SignalingMessageSchema,
  SignalingService,
  SuccessResponseSchema,
  UserRequestSchema,
} from "@peertobeer/protocol";
import { SAMPLE_CANDIDATE, SAMPLE_OFFER } from "../helpers.js";
import { describeRaw, envelope, PREFIX_BYTES, predictRaw, ROUTES, RPC_PREFIX, type Framing, type RawRequest } from "./frames.js";
import { validId } from "./generators.js";
import { MESSAGE_MAX_BYTES, type AuthCase, type Member, type Online, type Transport } from "./model.js";

/** Message bytes, and what they are, for the figures. */
interface Payload {
  source: string;
  /** The protobuf type of a whole message. */
  type?: string;
  bytes: Uint8Array;
}

/** The one user online while the raw-frame fuzz runs (in no call): the test joins it. */
export const ONLINE_USER_ID = "frank";

const someText = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("", ONLINE_USER_ID, "alice", "not valid!", SAMPLE_OFFER, SAMPLE_CANDIDATE, "x".repeat(65)) },
  { weight: 1, arbitrary: validId },
  { weight: 3, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
);
const uint64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const optional = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });
const candidate = fc.record({
  candidate: someText,
  sdpMid: optional(someText),
  sdpMlineIndex: optional(fc.nat()),
  usernameFragment: optional(someText),
});
/** from_user_id: mostly empty or the sender's own, so that the rest of the message is judged. */
const sender = fc.oneof(
  { weight: 3, arbitrary: fc.constant("") },
  { weight: 1, arbitrary: fc.constant(ONLINE_USER_ID) },
  { weight: 2, arbitrary: someText },
);
const candidates = fc.array(candidate, { maxLength: 3 });

/** A type's name, and its messages encoded. */
function messages<S extends DescMessage>(schema: S, init: fc.Arbitrary<MessageInitShape<S>>): [string, fc.Arbitrary<Payload>] {
  return [schema.name, init.map((value) => ({ source: "message", type: schema.name, bytes: toBinary(schema, create(schema, value)) }))];
}

/** Whole messages of each request type, and of types no route takes, by type name. */
const MESSAGES = new Map([
  messages(UserRequestSchema, fc.record({ userId: someText, resumeToken: someText, lastSeq: uint64, watchPresence: fc.boolean() })),
  messages(
    OfferRequestSchema,
    fc.record({ toUserId: someText, callId: someText, sdp: someText, fromUserId: sender, candidates, endOfCandidates: fc.boolean() }),
  ),
  messages(AnswerRequestSchema, fc.record({ callId: someText, sdp: someText, fromUserId: sender, candidates, endOfCandidates: fc.boolean() })),
  messages(IceCandidateRequestSchema, fc.record({ callId: someText, candidates, endOfCandidates: fc.boolean(), fromUserId: sender })),
  messages(EndCallRequestSchema, fc.record({ callId: someText, reason: int32, fromUserId: sender })),
  messages(SuccessResponseSchema, fc.record({ success: fc.boolean(), callId: someText })),
  messages(IceCandidateSchema, candidate),
  messages(
    SignalingMessageSchema,
    fc.record({
      seq: uint64,
      fromUserId: someText,
      callId: someText,
      event: fc.oneof(
        fc.record({ case: fc.constant("heartbeat" as const), value: fc.record({ serverTimeMs: fc.bigInt({ min: 0n, max: 2n ** 62n }) }) }),
        fc.record({ case: fc.constant("presence" as const), value: fc.record({ userId: someText, online: fc.boolean() }) }),
        fc.record({ case: fc.constant("offer" as const), value: fc.record({ sdp: someText, renegotiation: fc.boolean(), polite: fc.boolean() }) }),
      ),
    }),
  ),
]);

function varint(value: bigint): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80n) {
    bytes.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  bytes.push(Number(rest));
  return bytes;
}

const tag = (field: number, wireType: number) => varint((BigInt(field) << 3n) | BigInt(wireType));
const fieldNumber = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 6 }) }, fc.constant(0), fc.integer({ min: 1, max: 2 ** 29 - 1 }));
const bytesOf = (maxLength: number) => fc.uint8Array({ maxLength });

/** Fields in the protobuf wire format, of any number and wire type, valid or not. */
const wireField: fc.Arbitrary<number[]> = fc.oneof(
  fc.tuple(fieldNumber, uint64).map(([f, v]) => [...tag(f, 0), ...varint(v)]),
  fc.tuple(fieldNumber, fc.uint8Array({ minLength: 8, maxLength: 8 })).map(([f, b]) => [...tag(f, 1), ...b]),
  fc.tuple(fieldNumber, bytesOf(40)).map(([f, b]) => [...tag(f, 2), ...varint(BigInt(b.length)), ...b]),
  fc.tuple(fieldNumber, fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([f, b]) => [...tag(f, 5), ...b]),
  // A length running past the end of the message.
  fc.tuple(fieldNumber, bytesOf(8), fc.integer({ min: 9, max: 10_000 })).map(([f, b, n]) => [...tag(f, 2), ...varint(BigInt(n)), ...b]),
  // Groups nested up to past the decoder's recursion limit (100).
  fc.tuple(fieldNumber, fc.integer({ min: 1, max: 150 })).map(([f, depth]) => [
    ...Array.from({ length: depth }, () => tag(f, 3)).flat(),
    ...Array.from({ length: depth }, () => tag(f, 4)).flat(),
  ]),
  // A lone group end, or a wire type that does not exist.
  fc.tuple(fieldNumber, fc.constantFrom(3, 4, 6, 7)).map(([f, wireType]) => tag(f, wireType)),
);

const anyMessage = fc.oneof(...MESSAGES.values());
const noise = fc.array(wireField, { maxLength: 6 }).map((fields): Payload => ({ source: "wire-format noise", bytes: Uint8Array.from(fields.flat()) }));
const randomBytes = bytesOf(200).map((bytes): Payload => ({ source: "random bytes", bytes }));

/** Message bytes for a method taking `ownType` (none for an unknown method): often of that type. */
function payloads(ownType: string | undefined): fc.Arbitrary<Payload> {
  const own = ownType === undefined ? undefined : MESSAGES.get(ownType);
  return fc.oneof(
    ...(own ? [{ weight: 4, arbitrary: own }] : []),
    { weight: 4, arbitrary: anyMessage },
    { weight: 3, arbitrary: noise },
    { weight: 2, arbitrary: randomBytes },
  );
}

const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** A body, what sort of body it is, and whether the client finishes it. */
interface Body {
  kind: string;
  /** For a whole message in a well-formed envelope: the message's type. */
  messageType?: string;
  bytes: Uint8Array;
  ends: boolean;
  /** For a body that never ends: the Content-Length a client streaming the rest would send. */
  claims?: number;
}

const hugeLength = fc.oneof(
  fc.integer({ min: MESSAGE_MAX_BYTES + 1, max: MESSAGE_MAX_BYTES + 16 }),
  fc.integer({ min: MESSAGE_MAX_BYTES + 1, max: 0xffffffff }),
  fc.constant(0xffffffff),
);

/** A message of exactly `size` encoded bytes: field 1, a string of `a`s. */
function messageOfSize(size: number): Uint8Array {
  let length = size - 2;
  while (1 + varint(BigInt(length)).length + length > size) length -= 1;
  return concat(Uint8Array.from([...tag(1, 2), ...varint(BigInt(length))]), new Uint8Array(length).fill(0x61));
}

/** Bodies of every shape around `payload`. */
const bodies = (payload: fc.Arbitrary<Payload>): fc.Arbitrary<Body> =>
  fc.oneof(
    {
      weight: 12,
      arbitrary: payload.map((p): Body => {
        const whole = { bytes: envelope(p.bytes), ends: true };
        return p.type === undefined ? { kind: `${p.source} in an envelope`, ...whole } : { kind: p.source, messageType: p.type, ...whole };
      }),
    },
    {
      weight: 3,
      arbitrary: fc.tuple(payload, fc.nat()).map(([p, at]): Body => {
        const whole = envelope(p.bytes);
        return { kind: "truncated envelope", bytes: whole.subarray(0, at % whole.length), ends: true };
      }),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(payload, fc.integer({ min: 1, max: 2_000 }))
        .map(([p, more]): Body => ({ kind: "declared > data", bytes: envelope(p.bytes, 0, p.bytes.length + more), ends: true })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(payload.filter((p) => p.bytes.length > 0), fc.nat())
        .map(([p, less]): Body => ({ kind: "declared < data", bytes: envelope(p.bytes, 0, less % p.bytes.length), ends: true })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(payload, fc.integer({ min: 1, max: 255 }))
        .map(([p, flags]): Body => ({ kind: "compressed flag", bytes: envelope(p.bytes, flags), ends: true })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(payload, payload).map(([a, b]): Body => ({ kind: "two messages", bytes: concat(envelope(a.bytes), envelope(b.bytes)), ends: true })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(payload, fc.uint8Array({ minLength: 1, maxLength: 40 }))
        .map(([p, extra]): Body => ({ kind: "bytes after the message", bytes: concat(envelope(p.bytes), extra), ends: true })),
    },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: "zero-length body", bytes: new Uint8Array(0), ends: true }) },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: "empty message", bytes: envelope(new Uint8Array(0)), ends: true }) },
    { weight: 2, arbitrary: bytesOf(300).map((bytes): Body => ({ kind: "random body", bytes, ends: true })) },
    {
      weight: 4,
      // Only the prefix (and a little) is sent; the server must refuse without waiting for the rest.
      arbitrary: fc
        .tuple(hugeLength, fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 255 })), bytesOf(64), fc.boolean())
        .map(([declared, flags, some, ends]): Body => ({
          kind: "huge declared length",
          bytes: concat(envelope(new Uint8Array(0), flags, declared), some),
          ends,
          claims: PREFIX_BYTES + declared,
        })),
    },
    {
      weight: 2,
      // A whole message, and the body kept open after it: the server must answer it without waiting.
      arbitrary: payload.map((p): Body => ({ kind: "message, body left open", bytes: envelope(p.bytes), ends: false })),
    },
    {
      weight: 1,
      // At the limit (read and decoded), and one byte over it (refused), each sent whole.
      arbitrary: fc.constantFrom(MESSAGE_MAX_BYTES, MESSAGE_MAX_BYTES + 1).map((size): Body => ({
        kind: size > MESSAGE_MAX_BYTES ? "whole message over the limit" : "message at the limit",
        bytes: envelope(messageOfSize(size)),
        ends: true,
      })),
    },
  );

/** `bytes` cut at `cuts` (positions, taken modulo its length). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  return [...points, bytes.length].map((end, i) => bytes.subarray(i === 0 ? 0 : (points[i - 1] ?? 0), end));
}

const URL_CHARS = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/%"];
const urlText = (maxLength: number) => fc.string({ unit: fc.constantFrom(...URL_CHARS), maxLength });
const routePath = fc.constantFrom(...ROUTES.keys());

/** Paths of methods, and of no method; on gRPC-Web only those the RPC handler sees. */
function pathsFor(transport: Transport): fc.Arbitrary<string> {
  const any = fc.oneof(
    { weight: 16, arbitrary: routePath },
    {
      weight: 2,
      arbitrary: routePath.chain((p) =>
        fc.constantFrom(p.toLowerCase(), `${p}/`, `${p}?x=1`, `/${p}`, `${p}x`, p.slice(0, -1), p.replace("v1", "v2"), p.replace("/Send", "/send")),
      ),
    },
    { weight: 1, arbitrary: urlText(30).map((name) => `${RPC_PREFIX}${name}`) },
    { weight: 1, arbitrary: urlText(60).map((rest) => `/${rest}`) },
  );
  return transport === "grpc" ? any : any.filter((p) => p.split("?")[0]?.startsWith(RPC_PREFIX) === true);
}

/** How a gRPC-Web body is delimited: whole ones sized or chunked, unfinished ones claiming more. */
function framing(b: Body): fc.Arbitrary<Framing> {
  const chunked = fc.constant<Framing>({ kind: "chunked" });
  if (b.ends) return fc.oneof({ weight: 3, arbitrary: fc.constant<Framing>({ kind: "sized", contentLength: b.bytes.length }) }, chunked);
  return fc.oneof(
    ...(b.claims === undefined ? [] : [fc.constant<Framing>({ kind: "sized", contentLength: b.claims })]),
    fc.integer({ min: 1, max: 1_000 }).map((more): Framing => ({ kind: "sized", contentLength: b.bytes.length + more })),
    chunked,
  );
}

const PATHS = { grpc: pathsFor("grpc"), grpcWeb: pathsFor("grpcWeb") };

const REQUEST_TYPES = new Map(Object.values(SignalingService.method).map((m) => [`${RPC_PREFIX}${m.name}`, m.input.name]));

function kindOf(body: Body, path: string): string {
  const wanted = REQUEST_TYPES.get(path);
  if (wanted === undefined) return "unknown method";
  if (body.messageType === undefined) return body.kind;
  return body.messageType === wanted ? "message of the method's type" : "message of another type";
}

/** Bodies for each method's path (by its request type), and for unknown paths. */
const BODIES = new Map([...new Set(REQUEST_TYPES.values())].map((type) => [type, bodies(payloads(type))]));
const unknownMethodBodies = bodies(payloads(undefined));

/**
 * Raw requests to a server where only `user` (ONLINE_USER_ID) is online, in no call; some carry
 * its token. None is one the server would accept.
 */
export function rawRequests(online: Online, user: Member): fc.Arbitrary<RawRequest> {
  const auth: fc.Arbitrary<AuthCase> = fc.oneof(
    { weight: 4, arbitrary: fc.constant<AuthCase>({ label: "no-header", header: undefined, verdict: { kind: "invalid" } }) },
    {
      weight: 2,
      arbitrary: fc
        .string({ unit: fc.constantFrom(...URL_CHARS), minLength: 1, maxLength: 60 })
        .map((token): AuthCase => ({ label: "garbage", header: `Bearer ${token}`, verdict: { kind: "invalid" } })),
    },
    {
      weight: 4,
      arbitrary: fc.constant<AuthCase>({ label: "valid", header: `Bearer ${user.token}`, verdict: { kind: "live", userId: user.userId } }),
    },
  );
  const cuts = fc.oneof({ weight: 3, arbitrary: fc.constant<number[]>([]) }, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }));
  return fc
    .constantFrom<Transport>("grpc", "grpcWeb")
    .chain((transport) => PATHS[transport].map((path) => ({ transport, path })))
    .chain(({ transport, path }) => {
      const type = REQUEST_TYPES.get(path);
      const body = (type === undefined ? undefined : BODIES.get(type)) ?? unknownMethodBodies;
      return fc.record({ transport: fc.constant(transport), path: fc.constant(path), auth, body, cuts });
    })
    .chain(({ transport, path, auth, body, cuts }) =>
      framing(body).map(
        (framing): RawRequest => ({ transport, kind: kindOf(body, path), path, auth, parts: split(body.bytes, cuts), ends: body.ends, framing }),
      ),
    )
    .filter((raw) => predictRaw(raw, online) !== "accepted")
    // A compact form in fast-check's report.
    .map((raw) => Object.defineProperty(raw, fc.toStringMethod, { value: () => describeRaw(raw), enumerable: false }));
}
