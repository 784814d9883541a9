/**
 * Property/fuzz test over the real transports: thousands of malformed, out-of-order and
 * impersonating requests, split between the native gRPC port and the gRPC-Web port of a real
 * server. A small model of the contract (docs/PROTOCOL.md) predicts the exact status and
 * `p2b-error-reason` of each one; none may change the hub's state.
 */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ERROR_REASON_KEY, EndReason, ErrorReason, IceCandidateSchema, type IceCandidate } from "@peertobeer/protocol";
import { TokenSigner } from "../src/auth/tokens.js";
import type { HubSnapshot } from "../src/hub/index.js";
import { startServer, type RunningServer } from "../src/server.js";
import { get } from "./raw-http.js";
import {
  bearer,
  clientsFor,
  iceCandidate,
  join,
  nextEvent,
  SAMPLE_ANSWER,
  SAMPLE_CANDIDATE,
  SAMPLE_OFFER,
  Streams,
  testConfig,
  type Clients,
  type JoinedUser,
  type SignalingClient,
} from "./helpers.js";

// ---------------------------------------------------------------------------------------------
// The contract, as the model sees it (docs/PROTOCOL.md, "Limits" and "Errors").

const TOKEN_SECRET = "fuzz-test-secret";
const TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
const ID_MAX = 64;
const CALL_ID_MAX = 64;
const SDP_MAX_BYTES = 64 * 1024;
const CANDIDATE_MAX_BYTES = 2 * 1024;
const SDP_MID_MAX = 64;
const UFRAG_MAX = 256;
const CANDIDATES_PER_BATCH = 64;
const KNOWN_END_REASONS = new Set<number>([0, 1, 2, 3, 4, 5, 6, 7]);

/** Main fuzz run: batches of concurrent requests, enough batches for 10,000+ requests. */
const BATCH_SIZE = 24;
const NUM_RUNS = 425;
const MIN_REQUESTS = 10_000;

type Transport = "grpc" | "grpcWeb";

interface Refusal {
  code: Code;
  reason: ErrorReason;
  /** The `p2b-call-id` trailer, when the refusal names a call (glare). */
  callId?: string;
}

/** What the model predicts: a refusal, or "accepted" (which would change state: never sent). */
type Verdict = Refusal | "accepted";

function refuse(code: Code, reason: ErrorReason, callId?: string): Refusal {
  return callId === undefined ? { code, reason } : { code, reason, callId };
}

const invalidRequest = refuse(Code.InvalidArgument, ErrorReason.INVALID_REQUEST);
const invalidId = refuse(Code.InvalidArgument, ErrorReason.INVALID_ID);

function isValidId(id: string): boolean {
  return id.length >= 1 && id.length <= ID_MAX && /^[A-Za-z0-9._-]+$/.test(id);
}

function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** A long string described compactly, so a counterexample stays readable. */
type Text = string | { repeat: string; times: number };

function text(value: Text): string {
  return typeof value === "string" ? value : value.repeat.repeat(value.times);
}

// ---------------------------------------------------------------------------------------------
// The fixed world the fuzz runs against: set up once, and no fuzz request may change it.

interface Member {
  userId: string;
  sessionId: string;
  token: string;
}

interface CallFact {
  id: string;
  caller: string;
  callee: string;
  state: "ringing" | "active";
}

interface World {
  /** Users online with a live stream. */
  members: Map<string, Member>;
  calls: Map<string, CallFact>;
  callOf: Map<string, CallFact>;
  /** A user whose earlier session ended (it rejoined since): the old token is dead. */
  ended: { userId: string; sessionId: string; token: string };
}

/** How the server judges a token (only TokenSigner.verify and the hub decide; the model knows). */
type TokenVerdict =
  | { kind: "invalid" }
  | { kind: "live"; userId: string }
  | { kind: "gone"; userId: string }
  /** Verifies (forged with the server's secret) but names another user than its session's. */
  | { kind: "mismatched"; userId: string; sessionOf: string };

interface TokenCase {
  label: string;
  token: string;
  verdict: TokenVerdict;
}

interface AuthCase {
  label: string;
  /** The `authorization` header; undefined sends none. */
  header: string | undefined;
  verdict: TokenVerdict;
}

interface CandidateSpec {
  candidate: Text;
  sdpMid?: Text | undefined;
  sdpMlineIndex?: number | undefined;
  usernameFragment?: Text | undefined;
}

interface Common {
  transport: Transport;
  auth: AuthCase;
  fromUserId: string;
  callId: string;
}

type FuzzRequest =
  | (Common & { method: "sendOffer"; toUserId: string; sdp: Text })
  | (Common & { method: "sendAnswer"; sdp: Text })
  | (Common & { method: "sendIceCandidate"; candidates: CandidateSpec[]; endOfCandidates: boolean })
  | (Common & { method: "endCall"; reason: number })
  | {
      transport: Transport;
      method: "joinCall";
      userId: string;
      resumeToken: TokenCase | undefined;
      lastSeq: bigint;
      watchPresence: boolean;
    };

// ---------------------------------------------------------------------------------------------
// The model.

/** Who the server takes the sender to be, or why it refuses before looking at the body. */
function authenticate(auth: AuthCase, world: World): Refusal | Member {
  if (auth.header === undefined || auth.header === "") return refuse(Code.Unauthenticated, ErrorReason.NO_TOKEN);
  if (!/^Bearer [^\s]+$/.test(auth.header)) return refuse(Code.Unauthenticated, ErrorReason.BAD_TOKEN);
  const verdict = auth.verdict;
  switch (verdict.kind) {
    case "invalid":
      return refuse(Code.Unauthenticated, ErrorReason.BAD_TOKEN);
    case "gone":
    case "mismatched":
      return refuse(Code.Unauthenticated, ErrorReason.SESSION_ENDED);
    case "live": {
      const member = world.members.get(verdict.userId);
      if (!member) throw new Error(`model: ${verdict.userId} is not a member`);
      return member;
    }
  }
}

function participantCall(world: World, sender: string, callId: string): Refusal | CallFact {
  const call = world.calls.get(callId);
  if (!call) return refuse(Code.NotFound, ErrorReason.CALL_NOT_FOUND);
  if (call.caller !== sender && call.callee !== sender) return refuse(Code.PermissionDenied, ErrorReason.NOT_IN_CALL);
  return call;
}

function sdpProblem(sdp: string): boolean {
  return sdp === "" || utf8Bytes(sdp) > SDP_MAX_BYTES;
}

function candidatesProblem(candidates: CandidateSpec[], endOfCandidates: boolean): boolean {
  if (candidates.length === 0) return !endOfCandidates;
  if (candidates.length > CANDIDATES_PER_BATCH) return true;
  return candidates.some((spec) => {
    const candidate = text(spec.candidate);
    if (utf8Bytes(candidate) > CANDIDATE_MAX_BYTES) return true;
    if (spec.sdpMid !== undefined && text(spec.sdpMid).length > SDP_MID_MAX) return true;
    if (spec.usernameFragment !== undefined && text(spec.usernameFragment).length > UFRAG_MAX) return true;
    // An empty candidate is the end-of-candidates marker and needs neither (as in WebRTC).
    return candidate !== "" && spec.sdpMid === undefined && spec.sdpMlineIndex === undefined;
  });
}

function isRefusal(value: Refusal | Member | CallFact): value is Refusal {
  return "code" in value;
}

/** The exact answer the contract prescribes for `request` in `world`. */
function predict(request: FuzzRequest, world: World): Verdict {
  if (request.method === "joinCall") {
    if (!isValidId(request.userId)) return invalidId;
    if (!world.members.has(request.userId)) return "accepted"; // a free ID: it would join
    const verdict = request.resumeToken?.verdict;
    // A token that resumes (or, behind on history, closes) this user's session would change state.
    if (verdict?.kind === "live" && verdict.userId === request.userId) return "accepted";
    if (verdict?.kind === "mismatched" && verdict.userId === request.userId) return "accepted";
    return refuse(Code.AlreadyExists, ErrorReason.ID_TAKEN);
  }
  const sender = authenticate(request.auth, world);
  if (isRefusal(sender)) return sender;
  const me = sender.userId;
  if (request.fromUserId !== "" && request.fromUserId !== me) return refuse(Code.PermissionDenied, ErrorReason.IMPERSONATION);
  const callId = request.callId;
  switch (request.method) {
    case "sendOffer": {
      if (callId.length > CALL_ID_MAX) return invalidRequest;
      const to = request.toUserId;
      if ((callId === "" || to !== "") && !isValidId(to)) return invalidId;
      if (sdpProblem(text(request.sdp))) return invalidRequest;
      if (callId !== "") {
        const call = participantCall(world, me, callId);
        if (isRefusal(call)) return call;
        const peer = call.caller === me ? call.callee : call.caller;
        return to !== "" && to !== peer ? invalidRequest : "accepted";
      }
      if (to === me) return invalidRequest;
      const own = world.callOf.get(me);
      if (own) {
        if (own.state === "ringing" && own.caller === to) return refuse(Code.Aborted, ErrorReason.CALL_GLARE, own.id);
        return refuse(Code.FailedPrecondition, ErrorReason.ALREADY_IN_CALL);
      }
      if (!world.members.has(to)) return refuse(Code.NotFound, ErrorReason.USER_OFFLINE);
      if (world.callOf.has(to)) return refuse(Code.FailedPrecondition, ErrorReason.USER_BUSY);
      return "accepted";
    }
    case "sendAnswer": {
      if (callId === "" || callId.length > CALL_ID_MAX) return invalidRequest;
      if (sdpProblem(text(request.sdp))) return invalidRequest;
      const call = participantCall(world, me, callId);
      if (isRefusal(call)) return call;
      // Answering your own outgoing call while it rings.
      if (call.state === "ringing" && call.callee !== me) return refuse(Code.FailedPrecondition, ErrorReason.WRONG_STATE);
      return "accepted";
    }
    case "sendIceCandidate": {
      if (callId === "" || callId.length > CALL_ID_MAX) return invalidRequest;
      if (candidatesProblem(request.candidates, request.endOfCandidates)) return invalidRequest;
      const call = participantCall(world, me, callId);
      return isRefusal(call) ? call : "accepted";
    }
    case "endCall": {
      if (callId === "" || callId.length > CALL_ID_MAX) return invalidRequest;
      if (!KNOWN_END_REASONS.has(request.reason)) return invalidRequest;
      const call = participantCall(world, me, callId);
      return isRefusal(call) ? call : "accepted";
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Generators.

const ID_CHARS = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"];
const idChar = fc.constantFrom(...ID_CHARS);
const validId = fc.string({ unit: idChar, minLength: 1, maxLength: ID_MAX });
const disallowedChar = fc.oneof(
  fc.constantFrom(" ", "!", "/", "@", "+", ":", "~", "*", "#", "é", "\u0000", "\n", "\u200b", "😀", "ß", "İ"),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }).filter((c) => !/^[A-Za-z0-9._-]$/.test(c)),
);
const badId = fc.oneof(
  fc.constant(""),
  fc.string({ unit: idChar, minLength: ID_MAX + 1, maxLength: 200 }),
  fc
    .tuple(fc.string({ unit: idChar, maxLength: 30 }), disallowedChar, fc.string({ unit: idChar, maxLength: 30 }))
    .map(([before, bad, after]) => before + bad + after),
  // Random text: mostly invalid; the model decides.
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 80 }),
);

const printableNoSpace = fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code));
const BASE64URL = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"];

function replaceCharAt(value: string, index: number, pick: number): string {
  const i = index % value.length;
  const current = value[i] ?? "";
  const options = BASE64URL.filter((c) => c !== current);
  return value.slice(0, i) + (options[pick % options.length] ?? "A") + value.slice(i + 1);
}

function generators(world: World) {
  const members = [...world.members.values()];
  const memberIds = members.map((m) => m.userId);
  const member = fc.constantFrom(...members);
  const serverSigner = new TokenSigner(TOKEN_SECRET, TOKEN_TTL_MS);
  const otherSigner = new TokenSigner("some-other-secret", TOKEN_TTL_MS);
  const knownCallIds = [...world.calls.keys()];
  const anyUserId = fc.oneof(fc.constantFrom(...memberIds, world.ended.userId), validId);

  const tokenCase: fc.Arbitrary<TokenCase> = fc.oneof(
    {
      weight: 14,
      arbitrary: member.map((m): TokenCase => ({ label: "valid", token: m.token, verdict: { kind: "live", userId: m.userId } })),
    },
    {
      weight: 1,
      arbitrary: fc
        .string({ unit: printableNoSpace, minLength: 1, maxLength: 300 })
        .map((token): TokenCase => ({ label: "garbage", token, verdict: { kind: "invalid" } })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom("v1", "v2", "", "V1"), fc.base64String({ maxLength: 80 }), fc.base64String({ maxLength: 60 }))
        .map(([version, claims, mac]): TokenCase => ({
          label: "garbage",
          token: `${version}.${claims.replaceAll("=", "")}.${mac.replaceAll("=", "")}`,
          verdict: { kind: "invalid" },
        })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          member,
          fc.constantFrom("claims", "mac", "swap-claims", "extra-part", "version", "truncate", "forged-user"),
          fc.nat(),
          fc.nat(),
          member,
        )
        .map(([m, how, index, pick, other]): TokenCase => {
          const [version = "", claims = "", mac = ""] = m.token.split(".");
          let token: string;
          switch (how) {
            case "claims":
              token = `${version}.${replaceCharAt(claims, index, pick)}.${mac}`;
              break;
            case "mac":
              token = `${version}.${claims}.${replaceCharAt(mac, index, pick)}`;
              break;
            case "swap-claims": {
              // Another user's claims under this token's signature (or, for the same user, a re-encoding).
              const otherClaims = other.token.split(".")[1] ?? "";
              token = otherClaims === claims ? `${version}.${claims}A.${mac}` : `${version}.${otherClaims}.${mac}`;
              break;
            }
            case "extra-part":
              token = `${m.token}.${BASE64URL[pick % BASE64URL.length] ?? "x"}`;
              break;
            case "version":
              token = `v2.${claims}.${mac}`;
              break;
            case "truncate":
              token = m.token.slice(0, -1 - (index % 5));
              break;
            case "forged-user": {
              // Edit the claims to name someone else, keeping the original signature.
              const decoded = JSON.parse(Buffer.from(claims, "base64url").toString("utf8")) as Record<string, unknown>;
              const u = other.userId === m.userId ? `${m.userId}x` : other.userId;
              const edited = Buffer.from(JSON.stringify({ ...decoded, u })).toString("base64url");
              token = `${version}.${edited}.${mac}`;
              break;
            }
          }
          return { label: "tampered", token, verdict: { kind: "invalid" } };
        }),
    },
    {
      weight: 1,
      arbitrary: member.map((m): TokenCase => ({
        label: "other-secret",
        token: otherSigner.sign(m.userId, m.sessionId),
        verdict: { kind: "invalid" },
      })),
    },
    {
      weight: 1,
      arbitrary: member.map((m): TokenCase => ({
        label: "expired",
        token: serverSigner.sign(m.userId, m.sessionId, Date.now() - TOKEN_TTL_MS - 60_000),
        verdict: { kind: "invalid" },
      })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(anyUserId, fc.uuid()).map(([userId, sessionId]): TokenCase => ({
        label: "unknown-session",
        token: serverSigner.sign(userId, sessionId),
        verdict: { kind: "gone", userId },
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(member, member)
        .filter(([a, b]) => a.userId !== b.userId)
        .map(([owner, named]): TokenCase => ({
          label: "wrong-user",
          token: serverSigner.sign(named.userId, owner.sessionId),
          verdict: { kind: "mismatched", userId: named.userId, sessionOf: owner.userId },
        })),
    },
    {
      weight: 2,
      arbitrary: fc.constant<TokenCase>({
        label: "ended-session",
        token: world.ended.token,
        verdict: { kind: "gone", userId: world.ended.userId },
      }),
    },
  );

  const validAuth = (m: Member): AuthCase => ({ label: "valid", header: `Bearer ${m.token}`, verdict: { kind: "live", userId: m.userId } });
  /** A valid token of one of `userIds`: the scenarios below pick who sends. */
  const authAs = (...userIds: string[]) =>
    fc.constantFrom(...userIds).map((id) => {
      const m = world.members.get(id);
      if (!m) throw new Error(`${id} is not a member`);
      return validAuth(m);
    });
  const auth: fc.Arbitrary<AuthCase> = fc.oneof(
    { weight: 10, arbitrary: member.map(validAuth) },
    { weight: 12, arbitrary: tokenCase.map((t): AuthCase => ({ label: t.label, header: `Bearer ${t.token}`, verdict: t.verdict })) },
    { weight: 1, arbitrary: fc.constant<AuthCase>({ label: "no-header", header: undefined, verdict: { kind: "invalid" } }) },
    { weight: 1, arbitrary: fc.constant<AuthCase>({ label: "empty-header", header: "", verdict: { kind: "invalid" } }) },
    {
      weight: 1,
      // A well-formed token in a malformed header: the scheme is what is wrong.
      arbitrary: fc
        .tuple(
          fc.constantFrom("Basic ", "bearer ", "BEARER ", "Token ", "Bearer", "Bearer  ", "Bearer:"),
          tokenCase,
          fc.constantFrom("", " extra", " Bearer x"),
        )
        .map(([scheme, t, suffix]): AuthCase => ({ label: "bad-scheme", header: `${scheme}${t.token}${suffix}`, verdict: t.verdict })),
    },
    { weight: 1, arbitrary: fc.constant<AuthCase>({ label: "bad-scheme", header: "Bearer", verdict: { kind: "invalid" } }) },
  );

  const fromUserId = fc.oneof(
    { weight: 12, arbitrary: fc.constant("") },
    { weight: 3, arbitrary: fc.constantFrom(...memberIds, world.ended.userId) },
    { weight: 1, arbitrary: validId },
    { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 80 }) },
  );

  const knownCall = fc.constantFrom(...knownCallIds);
  const callId = fc.oneof(
    { weight: 6, arbitrary: knownCall },
    { weight: 3, arbitrary: fc.constant("") },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: CALL_ID_MAX }) },
    { weight: 1, arbitrary: knownCall.chain((id) => fc.constantFrom(id.toUpperCase(), ` ${id}`, `${id} `, `${id}x`, id.slice(1))) },
    { weight: 2, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: CALL_ID_MAX + 1, maxLength: 300 }) },
    { weight: 1, arbitrary: knownCall.map((id) => id.padEnd(CALL_ID_MAX + 1, "0")) },
  );

  const sdp: fc.Arbitrary<Text> = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(SAMPLE_OFFER, SAMPLE_ANSWER) },
    { weight: 2, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 200 }) },
    { weight: 3, arbitrary: fc.constant("") },
    {
      weight: 2,
      arbitrary: fc.constantFrom<Text>(
        { repeat: "a", times: SDP_MAX_BYTES }, // exactly at the limit: fine
        { repeat: "é", times: SDP_MAX_BYTES / 2 }, // at the limit in bytes, half in characters: fine
        { repeat: "a", times: SDP_MAX_BYTES + 1 },
        { repeat: "é", times: SDP_MAX_BYTES / 2 + 1 }, // under the limit in characters, over in bytes
        { repeat: "😀", times: SDP_MAX_BYTES / 4 + 1 },
      ),
    },
    { weight: 1, arbitrary: fc.integer({ min: SDP_MAX_BYTES + 1, max: 2 * SDP_MAX_BYTES }).map((times): Text => ({ repeat: "v", times })) },
  );

  const candidateText: fc.Arbitrary<Text> = fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom(SAMPLE_CANDIDATE, `${SAMPLE_CANDIDATE} ufrag x`) },
    { weight: 2, arbitrary: fc.constant("") },
    { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 100 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Text>(
        { repeat: "c", times: CANDIDATE_MAX_BYTES },
        { repeat: "é", times: CANDIDATE_MAX_BYTES / 2 },
        { repeat: "c", times: CANDIDATE_MAX_BYTES + 1 },
        { repeat: "é", times: CANDIDATE_MAX_BYTES / 2 + 1 },
        { repeat: "😀", times: CANDIDATE_MAX_BYTES / 4 + 1 },
      ),
    },
  );
  const shortAscii = (max: number) => fc.string({ unit: "grapheme-ascii", maxLength: max });
  const candidate: fc.Arbitrary<CandidateSpec> = fc.record({
    candidate: candidateText,
    sdpMid: fc.option(
      fc.oneof(
        { weight: 6, arbitrary: shortAscii(8) },
        { weight: 1, arbitrary: fc.constantFrom<Text>({ repeat: "m", times: SDP_MID_MAX }, { repeat: "m", times: SDP_MID_MAX + 1 }) },
      ),
      { nil: undefined, freq: 3 },
    ),
    sdpMlineIndex: fc.option(fc.oneof(fc.constant(0), fc.nat(16), fc.constant(0xffffffff)), { nil: undefined, freq: 3 }),
    usernameFragment: fc.option(
      fc.oneof(
        { weight: 6, arbitrary: shortAscii(16) },
        { weight: 1, arbitrary: fc.constantFrom<Text>({ repeat: "u", times: UFRAG_MAX }, { repeat: "u", times: UFRAG_MAX + 1 }) },
      ),
      { nil: undefined, freq: 2 },
    ),
  });
  const smallCandidate: fc.Arbitrary<CandidateSpec> = fc.record({
    candidate: fc.constantFrom(SAMPLE_CANDIDATE, ""),
    sdpMid: fc.option(fc.constant("0"), { nil: undefined }),
    sdpMlineIndex: fc.option(fc.nat(4), { nil: undefined }),
  });
  // Long batches repeat one generated candidate (generating 90 distinct ones costs more than sending them).
  const repeated = (min: number, max: number) =>
    fc.tuple(smallCandidate, fc.integer({ min, max })).map(([spec, n]) => Array.from({ length: n }, () => spec));
  const candidates = fc.oneof(
    { weight: 2, arbitrary: fc.constant<CandidateSpec[]>([]) },
    { weight: 12, arbitrary: fc.array(candidate, { minLength: 1, maxLength: 6 }) },
    { weight: 2, arbitrary: repeated(7, CANDIDATES_PER_BATCH) },
    { weight: 3, arbitrary: repeated(CANDIDATES_PER_BATCH + 1, 90) },
    {
      weight: 1,
      // The largest valid batch, and one candidate over it.
      arbitrary: fc.integer({ min: CANDIDATES_PER_BATCH, max: CANDIDATES_PER_BATCH + 1 }).map((n) =>
        Array.from({ length: n }, (): CandidateSpec => ({
          candidate: { repeat: "c", times: CANDIDATE_MAX_BYTES },
          sdpMid: "0",
          sdpMlineIndex: 0,
        })),
      ),
    },
  );

  const endReason = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...KNOWN_END_REASONS) },
    { weight: 2, arbitrary: fc.integer({ min: 8, max: 0x7fffffff }) },
    { weight: 1, arbitrary: fc.integer({ min: -0x80000000, max: -1 }) },
  );

  const toUserId = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...memberIds, world.ended.userId) },
    { weight: 2, arbitrary: validId },
    { weight: 2, arbitrary: badId },
    { weight: 2, arbitrary: fc.constant("") },
  );

  const transport = fc.constantFrom<Transport>("grpc", "grpcWeb");
  type Arb<T> = fc.Arbitrary<T>;
  const offer = (sender: Arb<AuthCase>, call: Arb<string>, to: Arb<string>): Arb<FuzzRequest> =>
    fc.record({ method: fc.constant("sendOffer" as const), transport, auth: sender, fromUserId, callId: call, toUserId: to, sdp });
  const answer = (sender: Arb<AuthCase>, call: Arb<string>): Arb<FuzzRequest> =>
    fc.record({ method: fc.constant("sendAnswer" as const), transport, auth: sender, fromUserId, callId: call, sdp });
  const ice = (sender: Arb<AuthCase>, call: Arb<string>): Arb<FuzzRequest> =>
    fc.record({
      method: fc.constant("sendIceCandidate" as const),
      transport,
      auth: sender,
      fromUserId,
      callId: call,
      candidates,
      endOfCandidates: fc.boolean(),
    });
  const end = (sender: Arb<AuthCase>, call: Arb<string>): Arb<FuzzRequest> =>
    fc.record({ method: fc.constant("endCall" as const), transport, auth: sender, fromUserId, callId: call, reason: endReason });
  const joinCall: Arb<FuzzRequest> = fc.record({
    method: fc.constant("joinCall" as const),
    transport,
    // Invalid IDs, or IDs online with a live stream; a free ID would join.
    userId: fc.oneof({ weight: 2, arbitrary: badId }, { weight: 3, arbitrary: fc.constantFrom(...memberIds) }),
    resumeToken: fc.option(tokenCase, { nil: undefined }),
    lastSeq: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    watchPresence: fc.boolean(),
  });

  // Anyone (or no one) sending anything.
  const generic: Arb<FuzzRequest> = fc.oneof(
    // Mostly new calls: renegotiations of a known call are mostly valid, so filtered out below.
    { weight: 3, arbitrary: offer(auth, fc.oneof({ weight: 3, arbitrary: fc.constant("") }, { weight: 2, arbitrary: callId }), toUserId) },
    { weight: 3, arbitrary: answer(auth, callId) },
    { weight: 3, arbitrary: ice(auth, callId) },
    { weight: 3, arbitrary: end(auth, callId) },
    { weight: 2, arbitrary: joinCall },
  );

  // Out-of-order scenarios, each from a valid sender, so that their refusals are not drowned by
  // the token and impersonation checks; the bodies are still fuzzed.
  const active = [...world.calls.values()].find((c) => c.state === "active");
  const ringing = [...world.calls.values()].find((c) => c.state === "ringing");
  if (!active || !ringing) throw new Error("the world needs an active and a ringing call");
  const idle = memberIds.filter((id) => !world.callOf.has(id));
  const busy = memberIds.filter((id) => world.callOf.has(id));
  const outsiderOf = (call: CallFact) => authAs(...memberIds.filter((id) => id !== call.caller && id !== call.callee));
  const noCall = fc.constant("");
  const scenario: Arb<FuzzRequest> = fc.oneof(
    // Call-start glare: the callee of a ringing call calls its caller.
    offer(authAs(ringing.callee), noCall, fc.constant(ringing.caller)),
    // While idle, calling someone busy, someone offline, or yourself; calling anyone while in a call.
    offer(authAs(...idle), noCall, fc.oneof(fc.constantFrom(...busy), validId, fc.constantFrom(...idle))),
    offer(authAs(...busy), noCall, toUserId),
    // Answering your own outgoing call while it rings.
    answer(authAs(ringing.caller), fc.constant(ringing.id)),
    // Signaling in a call you are not part of.
    ...[active, ringing].flatMap((call) => {
      const outsider = outsiderOf(call);
      const id = fc.constant(call.id);
      return [offer(outsider, id, toUserId), answer(outsider, id), ice(outsider, id), end(outsider, id)];
    }),
  );

  const request = fc
    .oneof({ weight: 3, arbitrary: generic }, { weight: 1, arbitrary: scenario })
    // Requests the contract accepts would change the hub's state: out of scope here.
    .filter((r) => predict(r, world) !== "accepted")
    // A compact form in fast-check's report (a batch holds long strings and long batches).
    .map((r) => Object.defineProperty(r, fc.toStringMethod, { value: () => describeRequest(r), enumerable: false }));

  return { request };
}

// ---------------------------------------------------------------------------------------------
// Sending, and what came back.

interface Observed {
  /** "OK", or the gRPC status name. */
  code: string;
  reason: string | null;
  callId: string | null;
}

const STATUS_NAMES: Record<number, string> = {};
for (const [name, value] of Object.entries(Code)) {
  if (typeof value === "number") STATUS_NAMES[value] = name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

function statusName(code: Code): string {
  return STATUS_NAMES[code] ?? `CODE_${code}`;
}

function observedOf(error: unknown): Observed {
  const connectError = ConnectError.from(error);
  return {
    code: statusName(connectError.code),
    reason: connectError.metadata.get(ERROR_REASON_KEY),
    callId: connectError.metadata.get("p2b-call-id"),
  };
}

function expectedView(refusal: Refusal): Observed {
  return { code: statusName(refusal.code), reason: refusal.reason, callId: refusal.callId ?? null };
}

function candidateOf(spec: CandidateSpec): IceCandidate {
  return create(IceCandidateSchema, {
    candidate: text(spec.candidate),
    ...(spec.sdpMid === undefined ? {} : { sdpMid: text(spec.sdpMid) }),
    ...(spec.sdpMlineIndex === undefined ? {} : { sdpMlineIndex: spec.sdpMlineIndex }),
    ...(spec.usernameFragment === undefined ? {} : { usernameFragment: text(spec.usernameFragment) }),
  });
}

const REQUEST_TIMEOUT_MS = 10_000;

async function send(clients: Clients, request: FuzzRequest): Promise<Observed> {
  const client: SignalingClient = clients[request.transport];
  const ok: Observed = { code: "OK", reason: null, callId: null };
  try {
    if (request.method === "joinCall") {
      const controller = new AbortController();
      const stream = client.joinCall(
        {
          userId: request.userId,
          resumeToken: request.resumeToken?.token ?? "",
          lastSeq: request.lastSeq,
          watchPresence: request.watchPresence,
        },
        { signal: controller.signal, timeoutMs: REQUEST_TIMEOUT_MS },
      );
      const iterator = stream[Symbol.asyncIterator]();
      await iterator.next();
      // It was let in: close the stream again (the test fails on the "OK" anyway).
      controller.abort();
      await iterator.return?.();
      return ok;
    }
    const options = {
      timeoutMs: REQUEST_TIMEOUT_MS,
      ...(request.auth.header === undefined ? {} : { headers: { authorization: request.auth.header } }),
    };
    const { callId, fromUserId } = request;
    switch (request.method) {
      case "sendOffer":
        await client.sendOffer({ toUserId: request.toUserId, callId, sdp: text(request.sdp), fromUserId }, options);
        break;
      case "sendAnswer":
        await client.sendAnswer({ callId, sdp: text(request.sdp), fromUserId }, options);
        break;
      case "sendIceCandidate":
        await client.sendIceCandidate(
          { callId, candidates: request.candidates.map(candidateOf), endOfCandidates: request.endOfCandidates, fromUserId },
          options,
        );
        break;
      case "endCall":
        await client.endCall({ callId, reason: request.reason, fromUserId }, options);
        break;
    }
    return ok;
  } catch (error) {
    return observedOf(error);
  }
}

/** Counts and histograms, printed once so the figures can be quoted. */
class Tally {
  tried = 0;
  readonly byTransport = new Map<string, number>();
  readonly byMethod = new Map<string, number>();
  readonly statuses = new Map<string, number>();
  readonly authKinds = new Map<string, number>();
  mismatches = 0;

  record(request: FuzzRequest, observed: Observed, matched: boolean): void {
    this.tried += 1;
    bump(this.byTransport, request.transport);
    bump(this.byMethod, request.method);
    bump(this.statuses, observed.reason ? `${observed.code}/${observed.reason}` : observed.code);
    if (request.method !== "joinCall") bump(this.authKinds, request.auth.label);
    if (!matched) this.mismatches += 1;
  }
}

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

function sorted(map: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...map.entries()].sort((a, b) => b[1] - a[1]));
}

function describeText(value: Text | undefined): string {
  if (value === undefined) return "-";
  if (typeof value !== "string") return `${JSON.stringify(value.repeat)}×${value.times}`;
  return value.length > 80 ? `${JSON.stringify(value.slice(0, 80))}…(${value.length})` : JSON.stringify(value);
}

/** One line per request, long fields shortened. */
function describeRequest(request: FuzzRequest): string {
  const head = `${request.transport} ${request.method}`;
  if (request.method === "joinCall") {
    return `${head} userId=${describeText(request.userId)} resumeToken=${request.resumeToken?.label ?? "-"} lastSeq=${request.lastSeq}`;
  }
  const auth = `auth=${request.auth.label}${request.auth.header === undefined ? "" : `(${describeText(request.auth.header)})`}`;
  const common = `${head} ${auth} from=${describeText(request.fromUserId)} callId=${describeText(request.callId)}`;
  switch (request.method) {
    case "sendOffer":
      return `${common} to=${describeText(request.toUserId)} sdp=${describeText(request.sdp)}`;
    case "sendAnswer":
      return `${common} sdp=${describeText(request.sdp)}`;
    case "sendIceCandidate": {
      const c = request.candidates[0];
      const sample = c
        ? ` first={candidate=${describeText(c.candidate)} mid=${describeText(c.sdpMid)} ` +
          `mline=${c.sdpMlineIndex ?? "-"} ufrag=${describeText(c.usernameFragment)}}`
        : "";
      return `${common} candidates=${request.candidates.length}${sample} end=${request.endOfCandidates}`;
    }
    case "endCall":
      return `${common} reason=${request.reason}`;
  }
}

// ---------------------------------------------------------------------------------------------

/** Process-level failures while the fuzz runs: an in-process server crash would show up here. */
const crashes: unknown[] = [];
const onCrash = (error: unknown) => crashes.push(error);

/** What the server logs at error level (handler failures that became INTERNAL). */
const serverErrors: string[] = [];
const recordingLogger = pino({ level: "error" }, { write: (line: string) => void serverErrors.push(line) });

function startRecordedServer(overrides: Record<string, string>): Promise<RunningServer> {
  return startServer(testConfig(overrides), recordingLogger);
}

async function assertBothPortsAnswer(server: RunningServer, clients: Clients, a: JoinedUser, b: JoinedUser, callId: string) {
  expect(await get(server.webPort, "/healthz")).toEqual({ status: 200, body: "ok\n" });
  // a is on native gRPC and b on gRPC-Web: each relays one batch through its own port.
  const fromA = [iceCandidate(`${SAMPLE_CANDIDATE} after-fuzz-a`)];
  const fromB = [iceCandidate(`${SAMPLE_CANDIDATE} after-fuzz-b`)];
  await clients.grpc.sendIceCandidate({ callId, candidates: fromA }, a.auth);
  await clients.grpcWeb.sendIceCandidate({ callId, candidates: fromB }, b.auth);
  expect((await nextEvent(b.reader, "iceCandidates")).event.value.candidates).toEqual(fromA);
  expect((await nextEvent(a.reader, "iceCandidates")).event.value.candidates).toEqual(fromB);
}

describe("fuzzing both transports with requests that must be refused", () => {
  let server: RunningServer;
  let clients: Clients;
  const streams = new Streams();
  let world: World;
  let alice: JoinedUser;
  let bob: JoinedUser;
  let activeCallId: string;
  const tally = new Tally();

  const stackTraceLimit = Error.stackTraceLimit;

  beforeAll(async () => {
    // Every refusal is an Error on both ends; capturing ~20,000 deep async stack traces is a
    // good part of the CPU this test would use, and stacks are not what it checks.
    Error.stackTraceLimit = 1;
    process.on("uncaughtException", onCrash);
    process.on("unhandledRejection", onCrash);
    server = await startRecordedServer({
      TOKEN_SECRET,
      TOKEN_TTL_MS: String(TOKEN_TTL_MS),
      RATE_LIMIT_PER_SEC: "1000000",
      RATE_LIMIT_BURST: "1000000",
      RING_TIMEOUT_MS: "600000",
      SESSION_GRACE_MS: "600000",
      DRAIN_TIMEOUT_MS: "1000",
    });
    clients = clientsFor(server);

    // alice (gRPC) and bob (gRPC-Web) are in an active call; carol (gRPC) is ringing dave
    // (gRPC-Web); erin (gRPC) is idle; ghost (gRPC-Web) rejoined, so its first session ended.
    alice = await join(clients.grpc, streams, "alice");
    bob = await join(clients.grpcWeb, streams, "bob");
    const carol = await join(clients.grpc, streams, "carol");
    const dave = await join(clients.grpcWeb, streams, "dave");
    const erin = await join(clients.grpc, streams, "erin");
    const firstGhost = await join(clients.grpcWeb, streams, "ghost");
    await firstGhost.reader.close();
    await vi.waitFor(() => expect(server.hub.sessionById(firstGhost.joined.sessionId)?.attached).toBe(false));
    const ghost = await join(clients.grpcWeb, streams, "ghost");
    expect(server.hub.sessionById(firstGhost.joined.sessionId)).toBeUndefined();

    ({ callId: activeCallId } = await clients.grpc.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER }, alice.auth));
    await nextEvent(bob.reader, "offer");
    await clients.grpcWeb.sendAnswer({ callId: activeCallId, sdp: SAMPLE_ANSWER }, bob.auth);
    await nextEvent(alice.reader, "answer");
    const { callId: ringingCallId } = await clients.grpc.sendOffer({ toUserId: "dave", sdp: SAMPLE_OFFER }, carol.auth);
    await nextEvent(dave.reader, "offer");

    const memberOf = (u: JoinedUser): Member => ({ userId: u.userId, sessionId: u.joined.sessionId, token: u.joined.sessionToken });
    const active: CallFact = { id: activeCallId, caller: "alice", callee: "bob", state: "active" };
    const ringing: CallFact = { id: ringingCallId, caller: "carol", callee: "dave", state: "ringing" };
    world = {
      members: new Map([alice, bob, carol, dave, erin, ghost].map((u) => [u.userId, memberOf(u)])),
      calls: new Map([active, ringing].map((c) => [c.id, c])),
      callOf: new Map([
        ["alice", active],
        ["bob", active],
        ["carol", ringing],
        ["dave", ringing],
      ]),
      ended: { userId: "ghost", sessionId: firstGhost.joined.sessionId, token: firstGhost.joined.sessionToken },
    };
  });

  afterAll(async () => {
    Error.stackTraceLimit = stackTraceLimit;
    process.off("uncaughtException", onCrash);
    process.off("unhandledRejection", onCrash);
    await streams.closeAll();
    clients?.close();
    await server?.shutdown();
  });

  it(
    `answers ${MIN_REQUESTS}+ malformed, out-of-order and impersonating requests exactly as the contract says, and changes nothing`,
    async () => {
      const before: HubSnapshot = server.hub.snapshot();
      expect(before.sessions).toHaveLength(6);
      expect(before.calls).toHaveLength(2);
      const { request } = generators(world);
      const started = Date.now();

      await fc.assert(
        fc.asyncProperty(fc.array(request, { minLength: BATCH_SIZE, maxLength: BATCH_SIZE }), async (batch) => {
          const observed = await Promise.all(batch.map((r) => send(clients, r)));
          const problems: string[] = [];
          batch.forEach((r, i) => {
            const seen = observed[i] as Observed;
            const verdict = predict(r, world);
            const wanted = verdict === "accepted" ? { code: "OK", reason: null, callId: null } : expectedView(verdict);
            const matched = seen.code === wanted.code && seen.reason === wanted.reason && seen.callId === wanted.callId;
            tally.record(r, seen, matched);
            if (!matched) problems.push(`${describeRequest(r)}\n  expected ${JSON.stringify(wanted)}\n  got      ${JSON.stringify(seen)}`);
          });
          if (problems.length > 0) throw new Error(`${problems.length} unexpected answers:\n${problems.join("\n")}`);
        }),
        // No shrinking: each failing batch already lists every request it got wrong, and shrinking
        // over real sockets would take minutes.
        { numRuns: NUM_RUNS, endOnFailure: true },
      );
      const elapsedMs = Date.now() - started;

      // Nothing changed: same sessions (still attached, same seq), same calls in the same states.
      expect(server.hub.snapshot()).toEqual(before);
      expect(tally.tried).toBeGreaterThanOrEqual(MIN_REQUESTS);
      expect(tally.mismatches).toBe(0);
      // Both transports carried a fair share.
      for (const t of ["grpc", "grpcWeb"]) expect(tally.byTransport.get(t) ?? 0).toBeGreaterThan(tally.tried / 3);
      // Every refusal the fixed world can produce was seen.
      const reasonsSeen = new Set([...tally.statuses.keys()].map((k) => k.split("/")[1]));
      for (const reason of [
        ErrorReason.INVALID_ID,
        ErrorReason.INVALID_REQUEST,
        ErrorReason.ID_TAKEN,
        ErrorReason.USER_OFFLINE,
        ErrorReason.USER_BUSY,
        ErrorReason.ALREADY_IN_CALL,
        ErrorReason.CALL_GLARE,
        ErrorReason.CALL_NOT_FOUND,
        ErrorReason.NOT_IN_CALL,
        ErrorReason.WRONG_STATE,
        ErrorReason.IMPERSONATION,
        ErrorReason.NO_TOKEN,
        ErrorReason.BAD_TOKEN,
        ErrorReason.SESSION_ENDED,
      ]) {
        expect(reasonsSeen, `no ${reason} was seen`).toContain(reason);
      }

      // The server is alive on both ports, and still relays for the users set up before.
      await assertBothPortsAnswer(server, clients, alice, bob, activeCallId);
      expect(crashes).toEqual([]);
      expect(serverErrors).toEqual([]);

      console.log(
        [
          `fuzz: ${tally.tried} requests tried in ${(elapsedMs / 1000).toFixed(1)} s ` +
            `(native gRPC ${tally.byTransport.get("grpc") ?? 0}, gRPC-Web ${tally.byTransport.get("grpcWeb") ?? 0}), ` +
            `${tally.mismatches} unexpected answers, crashes: ${crashes.length}, server errors logged: ${serverErrors.length}`,
          `  by method: ${JSON.stringify(sorted(tally.byMethod))}`,
          `  by token/header kind (unary): ${JSON.stringify(sorted(tally.authKinds))}`,
          `  statuses seen: ${JSON.stringify(sorted(tally.statuses), null, 1).replaceAll("\n", "")}`,
        ].join("\n"),
      );
    },
    90_000,
  );
});

// ---------------------------------------------------------------------------------------------
// A low-limit server: RESOURCE_EXHAUSTED RATE_LIMITED once a session's burst is spent.

describe("fuzzing the rate limit", () => {
  const BURST = 8;
  const PER_SEC = 1;
  let server: RunningServer;
  let clients: Clients;
  const streams = new Streams();
  let runs = 0;
  const statuses = new Map<string, number>();
  let tried = 0;

  beforeAll(async () => {
    server = await startRecordedServer({
      TOKEN_SECRET,
      RATE_LIMIT_BURST: String(BURST),
      RATE_LIMIT_PER_SEC: String(PER_SEC),
      DRAIN_TIMEOUT_MS: "1000",
    });
    clients = clientsFor(server);
  });

  afterAll(async () => {
    await streams.closeAll();
    clients?.close();
    await server?.shutdown();
  });

  /** A request by the session's user: some fail before the rate limit is consulted, some after. */
  type Step =
    | { kind: "impersonate"; as: string }
    | { kind: "bad-token" }
    | { kind: "unknown-call"; callId: string }
    | { kind: "bad-reason"; reason: number }
    | { kind: "offline-callee"; to: string };

  const otherId = validId.filter((id) => !id.startsWith("rl-"));
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 1, arbitrary: otherId.map((as): Step => ({ kind: "impersonate", as })) },
    { weight: 1, arbitrary: fc.constant<Step>({ kind: "bad-token" }) },
    { weight: 3, arbitrary: fc.uuid().map((callId): Step => ({ kind: "unknown-call", callId })) },
    { weight: 2, arbitrary: fc.integer({ min: 8, max: 1000 }).map((reason): Step => ({ kind: "bad-reason", reason })) },
    { weight: 2, arbitrary: otherId.map((to): Step => ({ kind: "offline-callee", to })) },
  );

  /** The model: whether a step reaches the rate limit, and how it is refused when it gets past it. */
  function model(s: Step): { takesToken: boolean; refusal: Refusal } {
    switch (s.kind) {
      case "impersonate":
        return { takesToken: false, refusal: refuse(Code.PermissionDenied, ErrorReason.IMPERSONATION) };
      case "bad-token":
        return { takesToken: false, refusal: refuse(Code.Unauthenticated, ErrorReason.BAD_TOKEN) };
      case "unknown-call":
        return { takesToken: true, refusal: refuse(Code.NotFound, ErrorReason.CALL_NOT_FOUND) };
      case "bad-reason":
        return { takesToken: true, refusal: invalidRequest };
      case "offline-callee":
        return { takesToken: true, refusal: refuse(Code.NotFound, ErrorReason.USER_OFFLINE) };
    }
  }

  function sendStep(client: SignalingClient, user: JoinedUser, s: Step): Promise<Observed> {
    const sent = (() => {
      switch (s.kind) {
        case "impersonate":
          return client.endCall({ callId: "x", reason: EndReason.HANGUP, fromUserId: s.as }, user.auth);
        case "bad-token":
          return client.endCall({ callId: "x", reason: EndReason.HANGUP }, bearer(`${user.joined.sessionToken}x`));
        case "unknown-call":
          return client.endCall({ callId: s.callId, reason: EndReason.HANGUP }, user.auth);
        case "bad-reason":
          return client.endCall({ callId: "x", reason: s.reason }, user.auth);
        case "offline-callee":
          return client.sendOffer({ toUserId: s.to, sdp: SAMPLE_OFFER }, user.auth);
      }
    })();
    return sent.then((): Observed => ({ code: "OK", reason: null, callId: null }), observedOf);
  }

  it.each(["grpc", "grpcWeb"] as const)(
    "over %s, refuses a session's requests past its burst with RESOURCE_EXHAUSTED RATE_LIMITED",
    async (transport) => {
      const client = clients[transport];
      const limited = expectedView(refuse(Code.ResourceExhausted, ErrorReason.RATE_LIMITED));
      let limitedSeen = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: BURST + 4, maxLength: 40 }), async (steps) => {
          runs += 1;
          // A fresh session, so a fresh bucket.
          const user = await join(client, streams, `rl-${runs}`);
          const started = Date.now();
          const seen: Observed[] = [];
          // One at a time, so that the bucket sees them in the order sent.
          for (const s of steps) seen.push(await sendStep(client, user, s));
          // Refills (PER_SEC) may let a few more through on a slow run; never fewer than the burst.
          const refills = Math.floor(((Date.now() - started) / 1000) * PER_SEC);
          await user.reader.close();

          let tokens = BURST;
          let extraPasses = 0;
          steps.forEach((s, i) => {
            const got = seen[i] as Observed;
            tried += 1;
            bump(statuses, got.reason ? `${got.code}/${got.reason}` : got.code);
            const { takesToken, refusal } = model(s);
            const label = `step ${i} (${s.kind})`;
            if (!takesToken || tokens > 0) {
              if (takesToken) tokens -= 1;
              expect(got, label).toEqual(expectedView(refusal));
            } else if (got.reason === ErrorReason.RATE_LIMITED) {
              expect(got, label).toEqual(limited);
              limitedSeen += 1;
            } else {
              extraPasses += 1;
              expect(got, `${label}, past the burst`).toEqual(expectedView(refusal));
            }
          });
          expect(extraPasses).toBeLessThanOrEqual(refills);
        }),
        { numRuns: 8 },
      );
      expect(limitedSeen).toBeGreaterThan(0);
    },
  );

  afterAll(() => {
    console.log(`rate-limit fuzz: ${tried} requests tried over ${runs} sessions, statuses seen: ${JSON.stringify(sorted(statuses))}`);
  });
});
