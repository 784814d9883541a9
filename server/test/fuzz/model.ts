/**
 * The request fuzz's model of the contract (docs/PROTOCOL.md, "Limits" and "Errors"): the fixed
 * world the fuzz runs against, the requests it sends, and `predict`, the oracle that says how
 * the server must answer each one (the transports' size limit, then `handlerVerdict`, the
 * handlers' checks in their order). The raw-frame fuzz reuses `handlerVerdict` for the messages
 * it gets past the transports.
 */
import { Code } from "@connectrpc/connect";
import { ErrorReason } from "@peertobeer/protocol";

/** The fuzzed server's TOKEN_SECRET and TOKEN_TTL_MS: the model forges tokens with them. */
export const TOKEN_SECRET = "fuzz-test-secret";
export const TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

export const ID_MAX = 64;
export const CALL_ID_MAX = 64;
export const SDP_MAX_BYTES = 64 * 1024;
export const CANDIDATE_MAX_BYTES = 2 * 1024;
export const SDP_MID_MAX = 64;
export const UFRAG_MAX = 256;
export const CANDIDATES_PER_BATCH = 64;
export const KNOWN_END_REASONS = new Set<number>([0, 1, 2, 3, 4, 5, 6, 7, 8]);
/** Largest encoded request either transport reads. */
export const MESSAGE_MAX_BYTES = 256 * 1024;

export type Transport = "grpc" | "grpcWeb";

export interface Refusal {
  code: Code;
  reason: ErrorReason;
  /** The `p2b-call-id` trailer, when the refusal names a call (glare). */
  callId?: string;
}

/** What the model predicts: a refusal, or "accepted" (which would change state: never sent). */
export type Verdict = Refusal | "accepted";

export function refuse(code: Code, reason: ErrorReason, callId?: string): Refusal {
  return callId === undefined ? { code, reason } : { code, reason, callId };
}

export const invalidRequest = refuse(Code.InvalidArgument, ErrorReason.INVALID_REQUEST);
const invalidId = refuse(Code.InvalidArgument, ErrorReason.INVALID_ID);

function isValidId(id: string): boolean {
  return id.length >= 1 && id.length <= ID_MAX && /^[A-Za-z0-9._-]+$/.test(id);
}

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** A long string described compactly, so a counterexample stays readable. */
export type Text = string | { repeat: string; times: number };

export function text(value: Text): string {
  return typeof value === "string" ? value : value.repeat.repeat(value.times);
}

// ---------------------------------------------------------------------------------------------
// The fixed world the fuzz runs against: set up once, and no fuzz request may change it.

export interface Member {
  userId: string;
  sessionId: string;
  token: string;
}

export interface CallFact {
  id: string;
  caller: string;
  callee: string;
  state: "ringing" | "active";
}

export interface World {
  /** Users online with a live stream. */
  members: Map<string, Member>;
  calls: Map<string, CallFact>;
  callOf: Map<string, CallFact>;
  /** A user whose earlier session ended (it rejoined since): the old token is dead. */
  ended: { userId: string; sessionId: string; token: string };
}

/** Who is online and which calls exist: all the oracle needs of the world. */
export type Online = Pick<World, "members" | "calls" | "callOf">;

/** How the server judges a token (only TokenSigner.verify and the hub decide; the model knows). */
export type TokenVerdict =
  | { kind: "invalid" }
  | { kind: "live"; userId: string }
  | { kind: "gone"; userId: string }
  /** Verifies (forged with the server's secret) but names another user than its session's. */
  | { kind: "mismatched"; userId: string; sessionOf: string };

export interface TokenCase {
  label: string;
  token: string;
  verdict: TokenVerdict;
}

export interface AuthCase {
  label: string;
  /** The `authorization` header; undefined sends none. */
  header: string | undefined;
  verdict: TokenVerdict;
}

export interface CandidateSpec {
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

/** A burst of candidates: on its own (SendIceCandidate), or the first one, with an offer or answer. */
interface Batch {
  candidates: CandidateSpec[];
  endOfCandidates: boolean;
}

export type FuzzRequest =
  | (Common & Batch & { method: "sendOffer"; toUserId: string; sdp: Text })
  | (Common & Batch & { method: "sendAnswer"; sdp: Text })
  | (Common & Batch & { method: "sendIceCandidate" })
  | (Common & { method: "endCall"; reason: number })
  | {
      transport: Transport;
      method: "joinCall";
      userId: string;
      resumeToken: TokenCase | undefined;
      lastSeq: bigint;
      watchPresence: boolean;
    };

export type JoinRequest = Extract<FuzzRequest, { method: "joinCall" }>;
export type UnaryRequest = Exclude<FuzzRequest, JoinRequest>;

// ---------------------------------------------------------------------------------------------
// The oracle.

/** Who the server takes the sender to be, or why it refuses before looking at the body. */
function authenticate(auth: AuthCase, world: Online): Refusal | Member {
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

function participantCall(world: Online, sender: string, callId: string): Refusal | CallFact {
  const call = world.calls.get(callId);
  if (!call) return refuse(Code.NotFound, ErrorReason.CALL_NOT_FOUND);
  if (call.caller !== sender && call.callee !== sender) return refuse(Code.PermissionDenied, ErrorReason.NOT_IN_CALL);
  return call;
}

function sdpProblem(sdp: string): boolean {
  return sdp === "" || utf8Bytes(sdp) > SDP_MAX_BYTES;
}

/** `alone`: the batch is a SendIceCandidate, which must carry a candidate or the end of them. */
function candidatesProblem({ candidates, endOfCandidates }: Batch, alone: boolean): boolean {
  if (candidates.length === 0) return alone && !endOfCandidates;
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

/** The exact answer the contract prescribes for `request`, sent by a client, in `world`. */
export function predict(request: FuzzRequest, world: Online): Verdict {
  // Both transports read the length prefix first, and refuse an oversized message unread.
  if (encodedSize(request) > MESSAGE_MAX_BYTES) return refuse(Code.ResourceExhausted, ErrorReason.MESSAGE_TOO_LARGE);
  return handlerVerdict(request, world);
}

/** How the handlers answer `request` once a transport has decoded its message. */
export function handlerVerdict(request: FuzzRequest, world: Online): Verdict {
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
      if (candidatesProblem(request, false)) return invalidRequest;
      if (callId !== "") {
        const call = participantCall(world, me, callId);
        if (isRefusal(call)) return call;
        const peer = call.caller === me ? call.callee : call.caller;
        if (to === "" || to === peer) return "accepted";
        // To someone outside the call: an invitation into it ("Add person").
        if (call.caller !== me && call.state === "ringing") return refuse(Code.PermissionDenied, ErrorReason.NOT_IN_CALL);
        if (to === me) return invalidRequest;
        if (call.state !== "active") return refuse(Code.FailedPrecondition, ErrorReason.WRONG_STATE);
        if (!world.members.has(to)) return refuse(Code.NotFound, ErrorReason.USER_OFFLINE);
        if (world.callOf.has(to)) return refuse(Code.FailedPrecondition, ErrorReason.USER_BUSY);
        return "accepted";
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
      if (candidatesProblem(request, false)) return invalidRequest;
      const call = participantCall(world, me, callId);
      if (isRefusal(call)) return call;
      // Answering your own outgoing call while it rings.
      if (call.state === "ringing" && call.callee !== me) return refuse(Code.FailedPrecondition, ErrorReason.WRONG_STATE);
      return "accepted";
    }
    case "sendIceCandidate": {
      if (callId === "" || callId.length > CALL_ID_MAX) return invalidRequest;
      if (candidatesProblem(request, true)) return invalidRequest;
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
// The encoded size of a request, counted from the proto3 wire format (signaling.proto).

function varintBytes(value: bigint): number {
  let bytes = 1;
  for (let rest = value >> 7n; rest > 0n; rest >>= 7n) bytes += 1;
  return bytes;
}

/** A length-delimited field (string or message) of `length` bytes; every field number is < 16. */
function delimited(length: number): number {
  return 1 + varintBytes(BigInt(length)) + length;
}

/** A proto3 string field without presence: left out when empty. */
function stringField(value: string): number {
  return value === "" ? 0 : delimited(utf8Bytes(value));
}

function boolField(value: boolean): number {
  return value ? 2 : 0;
}

/** An int32 (enum) field: a negative value takes ten bytes, as a 64-bit varint. */
function int32Field(value: number): number {
  if (value === 0) return 0;
  return 1 + (value < 0 ? 10 : varintBytes(BigInt(value)));
}

function candidateBytes(spec: CandidateSpec): number {
  const optional = (value: Text | undefined) => (value === undefined ? 0 : delimited(utf8Bytes(text(value))));
  const mline = spec.sdpMlineIndex === undefined ? 0 : 1 + varintBytes(BigInt(spec.sdpMlineIndex));
  return stringField(text(spec.candidate)) + optional(spec.sdpMid) + mline + optional(spec.usernameFragment);
}

function batchBytes({ candidates, endOfCandidates }: Batch): number {
  return candidates.reduce((sum, spec) => sum + delimited(candidateBytes(spec)), 0) + boolField(endOfCandidates);
}

export function encodedSize(request: FuzzRequest): number {
  if (request.method === "joinCall") {
    const lastSeq = request.lastSeq === 0n ? 0 : 1 + varintBytes(request.lastSeq);
    return (
      stringField(request.userId) + stringField(request.resumeToken?.token ?? "") + lastSeq + boolField(request.watchPresence)
    );
  }
  const common = stringField(request.callId) + stringField(request.fromUserId);
  switch (request.method) {
    case "sendOffer":
      return common + stringField(request.toUserId) + stringField(text(request.sdp)) + batchBytes(request);
    case "sendAnswer":
      return common + stringField(text(request.sdp)) + batchBytes(request);
    case "sendIceCandidate":
      return common + batchBytes(request);
    case "endCall":
      return common + int32Field(request.reason);
  }
}

// ---------------------------------------------------------------------------------------------
// How a request reads in a failure report.

function describeText(value: Text | undefined): string {
  if (value === undefined) return "-";
  if (typeof value !== "string") return `${JSON.stringify(value.repeat)}×${value.times}`;
  return value.length > 80 ? `${JSON.stringify(value.slice(0, 80))}…(${value.length})` : JSON.stringify(value);
}

function describeBatch({ candidates, endOfCandidates }: Batch): string {
  const c = candidates[0];
  const sample = c
    ? ` first={candidate=${describeText(c.candidate)} mid=${describeText(c.sdpMid)} ` +
      `mline=${c.sdpMlineIndex ?? "-"} ufrag=${describeText(c.usernameFragment)}}`
    : "";
  return `candidates=${candidates.length}${sample} end=${endOfCandidates}`;
}

/** One line per request, long fields shortened. */
export function describeRequest(request: FuzzRequest): string {
  const head = `${request.transport} ${request.method}`;
  if (request.method === "joinCall") {
    return `${head} userId=${describeText(request.userId)} resumeToken=${request.resumeToken?.label ?? "-"} lastSeq=${request.lastSeq}`;
  }
  const auth = `auth=${request.auth.label}${request.auth.header === undefined ? "" : `(${describeText(request.auth.header)})`}`;
  const common = `${head} ${auth} from=${describeText(request.fromUserId)} callId=${describeText(request.callId)}`;
  switch (request.method) {
    case "sendOffer":
      return `${common} to=${describeText(request.toUserId)} sdp=${describeText(request.sdp)} ${describeBatch(request)}`;
    case "sendAnswer":
      return `${common} sdp=${describeText(request.sdp)} ${describeBatch(request)}`;
    case "sendIceCandidate":
      return `${common} ${describeBatch(request)}`;
    case "endCall":
      return `${common} reason=${request.reason}`;
  }
}
