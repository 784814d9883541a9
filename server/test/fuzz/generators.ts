/**
 * The request fuzz's generators: fast-check arbitraries for every field of every request
 * (valid, at the limits, and past them), composed into whole requests and into out-of-order
 * scenarios against the fixed world.
 */
import fc from "fast-check";
import { SAMPLE_ANSWER, SAMPLE_CANDIDATE, SAMPLE_OFFER } from "../helpers.js";
import { credentials } from "./credentials.js";
import {
  CALL_ID_MAX,
  CANDIDATE_MAX_BYTES,
  CANDIDATES_PER_BATCH,
  describeRequest,
  ID_MAX,
  KNOWN_END_REASONS,
  predict,
  SDP_MAX_BYTES,
  SDP_MID_MAX,
  UFRAG_MAX,
  type AuthCase,
  type CallFact,
  type CandidateSpec,
  type FuzzRequest,
  type Text,
  type Transport,
  type World,
} from "./model.js";

const ID_CHARS = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"];
const idChar = fc.constantFrom(...ID_CHARS);
export const validId = fc.string({ unit: idChar, minLength: 1, maxLength: ID_MAX });
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

/** Requests for `world` that the contract refuses (an accepted one would change the world). */
export function generators(world: World) {
  const memberIds = [...world.members.keys()];
  const knownCallIds = [...world.calls.keys()];
  const anyUserId = fc.oneof(fc.constantFrom(...memberIds, world.ended.userId), validId);
  const { tokenCase, auth, authAs } = credentials(world, anyUserId);

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
  // The largest valid batch, and one candidate over it.
  const largestBatch = fc.integer({ min: CANDIDATES_PER_BATCH, max: CANDIDATES_PER_BATCH + 1 }).map((n) =>
    Array.from({ length: n }, (): CandidateSpec => ({
      candidate: { repeat: "c", times: CANDIDATE_MAX_BYTES },
      sdpMid: "0",
      sdpMlineIndex: 0,
    })),
  );
  // A SendIceCandidate's batch.
  const candidates = fc.oneof(
    { weight: 2, arbitrary: fc.constant<CandidateSpec[]>([]) },
    { weight: 12, arbitrary: fc.array(candidate, { minLength: 1, maxLength: 6 }) },
    { weight: 2, arbitrary: repeated(7, CANDIDATES_PER_BATCH) },
    { weight: 3, arbitrary: repeated(CANDIDATES_PER_BATCH + 1, 90) },
    { weight: 1, arbitrary: largestBatch },
  );
  // The first burst, with an offer or answer: often none (gathering had not begun), which is fine there.
  const firstBurst = fc.oneof(
    { weight: 20, arbitrary: fc.constant<CandidateSpec[]>([]) },
    { weight: 12, arbitrary: fc.array(candidate, { minLength: 1, maxLength: 6 }) },
    { weight: 2, arbitrary: repeated(7, CANDIDATES_PER_BATCH) },
    { weight: 2, arbitrary: repeated(CANDIDATES_PER_BATCH + 1, 90) },
    { weight: 1, arbitrary: largestBatch },
  );
  // An SDP over its limit beside the largest batch: the whole message is within a few KiB of
  // the transports' limit, on either side of it.
  const hugeSdp = fc
    .integer({ min: 2 * SDP_MAX_BYTES - 12 * 1024, max: 2 * SDP_MAX_BYTES })
    .map((times): Text => ({ repeat: "v", times }));

  const endReason = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...KNOWN_END_REASONS) },
    { weight: 2, arbitrary: fc.integer({ min: Math.max(...KNOWN_END_REASONS) + 1, max: 0x7fffffff }) },
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
  const endOfCandidates = fc.boolean();
  const offer = (sender: Arb<AuthCase>, call: Arb<string>, to: Arb<string>, body = sdp, burst = firstBurst): Arb<FuzzRequest> =>
    fc.record({
      method: fc.constant("sendOffer" as const),
      transport,
      auth: sender,
      fromUserId,
      callId: call,
      toUserId: to,
      sdp: body,
      candidates: burst,
      endOfCandidates,
    });
  const answer = (sender: Arb<AuthCase>, call: Arb<string>, body = sdp, burst = firstBurst): Arb<FuzzRequest> =>
    fc.record({
      method: fc.constant("sendAnswer" as const),
      transport,
      auth: sender,
      fromUserId,
      callId: call,
      sdp: body,
      candidates: burst,
      endOfCandidates,
    });
  const ice = (sender: Arb<AuthCase>, call: Arb<string>): Arb<FuzzRequest> =>
    fc.record({
      method: fc.constant("sendIceCandidate" as const),
      transport,
      auth: sender,
      fromUserId,
      callId: call,
      candidates,
      endOfCandidates,
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
  // Mostly new calls: renegotiations of a known call are mostly valid, so filtered out below.
  const offerCallId = fc.oneof({ weight: 3, arbitrary: fc.constant("") }, { weight: 2, arbitrary: callId });
  const generic: Arb<FuzzRequest> = fc.oneof(
    { weight: 30, arbitrary: offer(auth, offerCallId, toUserId) },
    { weight: 30, arbitrary: answer(auth, callId) },
    { weight: 30, arbitrary: ice(auth, callId) },
    { weight: 30, arbitrary: end(auth, callId) },
    { weight: 20, arbitrary: joinCall },
    // Whole messages about the transports' limit: rare, as each is ~256 KiB on the wire.
    {
      weight: 2,
      arbitrary: fc.oneof(offer(auth, offerCallId, toUserId, hugeSdp, largestBatch), answer(auth, callId, hugeSdp, largestBatch)),
    },
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

