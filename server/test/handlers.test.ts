import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { createHmac } from "node:crypto";
import { EndReason, ErrorReason, IceTransportPolicy, LIMITS, SignalingService, type IceCandidate } from "@peertobeer/protocol";
import { TokenSigner } from "../src/auth/tokens.js";
import { MemoryBackend } from "../src/bus/memory.js";
import type { Hub } from "../src/hub/index.js";
import { createSignalingHandlers } from "../src/rpc/handlers.js";
import {
  bearer,
  expectRpcError,
  expectStreamError,
  HUB_OPTIONS,
  iceCandidate,
  join,
  nextEvent,
  openStream,
  SAMPLE_ANSWER,
  SAMPLE_CANDIDATE,
  SAMPLE_OFFER,
  Streams,
  type JoinedUser,
  type SignalingClient,
} from "./helpers.js";

const TOKEN_TTL_MS = 60_000;
const TURN_SECRET = "handlers-test-turn-secret";
const MAX_SESSIONS = 8;
const STREAM_QUEUE_LIMIT = 8;
const RATE_LIMIT_BURST = 40;

let backend: MemoryBackend;
let hub: Hub;
let tokens: TokenSigner;
let draining: boolean;
let client: SignalingClient;
const streams = new Streams();

beforeEach(() => {
  backend = new MemoryBackend(HUB_OPTIONS);
  hub = backend.hub;
  tokens = new TokenSigner("handlers-test-secret", TOKEN_TTL_MS);
  draining = false;
  const handlers = createSignalingHandlers({
    backend,
    tokens,
    config: {
      iceServers: [{ urls: ["stun:127.0.0.1:3478"] }],
      turn: { urls: ["turn:127.0.0.1:3478"], secret: TURN_SECRET, ttlSeconds: 3600 },
      iceTransportPolicy: IceTransportPolicy.ALL,
      connectTimeoutMs: 7_000,
      maxCallParticipants: 6,
      heartbeatMs: 60_000,
      maxSessions: MAX_SESSIONS,
      streamQueueLimit: STREAM_QUEUE_LIMIT,
      rateLimitPerSec: 1,
      rateLimitBurst: RATE_LIMIT_BURST,
    },
    isDraining: () => draining,
  });
  const transport = createRouterTransport((router) => router.service(SignalingService, handlers));
  client = createClient(SignalingService, transport);
});

afterEach(async () => {
  await streams.closeAll();
  hub.stop();
});

function joinAs(userId: string, watchPresence = false): Promise<JoinedUser> {
  return join(client, streams, userId, { watchPresence });
}

/** alice calls bob; bob's stream has consumed the offer. */
async function ringing() {
  const alice = await joinAs("alice");
  const bob = await joinAs("bob");
  const { callId } = await client.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER }, alice.auth);
  await nextEvent(bob.reader, "offer");
  return { alice, bob, callId };
}

/** sdp_mid, sdp_mline_index (including 0) and username_fragment, each present or absent. */
const CANDIDATES: IceCandidate[] = [
  iceCandidate(SAMPLE_CANDIDATE, { sdpMid: "0", sdpMlineIndex: 0, usernameFragment: "uFrAg1" }),
  iceCandidate(`${SAMPLE_CANDIDATE} x`, { sdpMid: "audio", sdpMlineIndex: 1 }),
  iceCandidate(`${SAMPLE_CANDIDATE} y`, { sdpMlineIndex: 2, usernameFragment: "other" }),
];

describe("a call between two users", () => {
  it("relays join → offer → answer → candidates → end", async () => {
    const alice = await joinAs("alice");
    expect(alice.first.seq).toBe(1n);
    expect(alice.joined).toMatchObject({ resumed: false, heartbeatIntervalMs: 60_000, connectTimeoutMs: 7_000 });
    expect(alice.joined.iceServers.map((s) => s.urls)).toEqual([["stun:127.0.0.1:3478"], ["turn:127.0.0.1:3478"]]);
    // TURN REST API credentials of alice's own, valid for an hour.
    const turn = alice.joined.iceServers[1];
    const [expiry, user] = (turn?.username ?? "").split(":");
    expect(user).toBe("alice");
    expect(Number(expiry) - Date.now() / 1000).toBeGreaterThan(3590);
    expect(turn?.credential).toBe(createHmac("sha1", TURN_SECRET).update(turn?.username ?? "").digest("base64"));
    expect(alice.joined.sessionToken).not.toBe("");
    const bob = await joinAs("bob");

    const offered = await client.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER }, alice.auth);
    expect(offered.success).toBe(true);
    const callId = offered.callId;
    const offer = await nextEvent(bob.reader, "offer");
    expect(offer).toMatchObject({ seq: 2n, fromUserId: "alice", callId });
    expect(offer.event.value).toMatchObject({ sdp: SAMPLE_OFFER, renegotiation: false, polite: true });

    await client.sendAnswer({ callId, sdp: SAMPLE_ANSWER }, bob.auth);
    const answer = await nextEvent(alice.reader, "answer");
    expect(answer).toMatchObject({ seq: 2n, fromUserId: "bob", callId });
    expect(answer.event.value).toMatchObject({ sdp: SAMPLE_ANSWER, polite: false });

    await client.sendIceCandidate({ callId, candidates: CANDIDATES }, alice.auth);
    await client.sendIceCandidate({ callId, candidates: CANDIDATES.slice(0, 1), endOfCandidates: true }, bob.auth);
    const toBob = await nextEvent(bob.reader, "iceCandidates");
    expect(toBob.fromUserId).toBe("alice");
    expect(toBob.event.value.candidates).toEqual(CANDIDATES);
    expect(toBob.event.value.endOfCandidates).toBe(false);
    const toAlice = await nextEvent(alice.reader, "iceCandidates");
    expect(toAlice.event.value).toMatchObject({ candidates: CANDIDATES.slice(0, 1), endOfCandidates: true });

    const renegotiated = await client.sendOffer({ callId, sdp: "renegotiated" }, bob.auth);
    expect(renegotiated.callId).toBe(callId);
    expect((await nextEvent(alice.reader, "offer")).event.value).toMatchObject({ renegotiation: true, polite: false });

    await client.endCall({ callId, reason: EndReason.HANGUP }, alice.auth);
    const ended = await nextEvent(bob.reader, "callEnded");
    expect(ended).toMatchObject({ fromUserId: "alice", callId });
    expect(ended.event.value).toMatchObject({ reason: EndReason.HANGUP, endedByUserId: "alice" });

    await expectRpcError(
      client.sendIceCandidate({ callId, candidates: CANDIDATES }, bob.auth),
      Code.NotFound,
      ErrorReason.CALL_NOT_FOUND,
    );
  });

  it("lists who is online to a watcher and tells it who comes and goes", async () => {
    await joinAs("bob");
    const alice = await joinAs("alice", true);
    expect(alice.joined.onlineUserIds).toEqual(["bob"]);
    const carol = await joinAs("carol");
    expect((await nextEvent(alice.reader, "presence")).event.value).toMatchObject({ userId: "carol", online: true });
    expect(carol.joined.onlineUserIds).toEqual([]);
  });

  it("names the existing call on glare (ABORTED CALL_GLARE)", async () => {
    const { alice, bob, callId } = await ringing();
    const error = await expectRpcError(
      client.sendOffer({ toUserId: "alice", sdp: SAMPLE_OFFER }, bob.auth),
      Code.Aborted,
      ErrorReason.CALL_GLARE,
    );
    expect(error.metadata.get("p2b-call-id")).toBe(callId);
    await expectRpcError(
      client.sendAnswer({ callId, sdp: SAMPLE_ANSWER }, alice.auth),
      Code.FailedPrecondition,
      ErrorReason.WRONG_STATE,
    );
  });
});

describe("input validation", () => {
  it.each([
    ["empty", ""],
    ["65 characters", "a".repeat(65)],
    ["a space", "bad id"],
    ["a slash", "bad/id"],
    ["non-ASCII", "zoë"],
  ])("refuses a user ID that is %s (INVALID_ARGUMENT INVALID_ID)", async (_, userId) => {
    await expectStreamError(openStream(client, streams, userId), Code.InvalidArgument, ErrorReason.INVALID_ID);
    expect(hub.sessionCount).toBe(0);
  });

  it("accepts a 64-character ID of the whole alphabet", async () => {
    const id = `Az09._-${"x".repeat(57)}`;
    expect(id).toHaveLength(64);
    expect((await joinAs(id)).joined.sessionId).not.toBe("");
  });

  it("refuses an ID that is online (ALREADY_EXISTS ID_TAKEN)", async () => {
    await joinAs("alice");
    await expectStreamError(openStream(client, streams, "alice"), Code.AlreadyExists, ErrorReason.ID_TAKEN);
  });

  it("refuses an offer to someone offline (NOT_FOUND USER_OFFLINE)", async () => {
    const alice = await joinAs("alice");
    await expectRpcError(
      client.sendOffer({ toUserId: "ghost", sdp: SAMPLE_OFFER }, alice.auth),
      Code.NotFound,
      ErrorReason.USER_OFFLINE,
    );
  });

  it("refuses an SDP over 64 KiB, counted in bytes", async () => {
    const alice = await joinAs("alice");
    await joinAs("bob");
    for (const sdp of ["a".repeat(LIMITS.sdpMaxBytes + 1), "é".repeat(LIMITS.sdpMaxBytes / 2 + 1)]) {
      await expectRpcError(
        client.sendOffer({ toUserId: "bob", sdp }, alice.auth),
        Code.InvalidArgument,
        ErrorReason.INVALID_REQUEST,
      );
    }
    expect(hub.callCount).toBe(0);
    const atLimit = await client.sendOffer({ toUserId: "bob", sdp: "a".repeat(LIMITS.sdpMaxBytes) }, alice.auth);
    expect(atLimit.success).toBe(true);
  });

  it("refuses a candidate over 2 KiB and a batch over 64 candidates", async () => {
    const { alice, bob, callId } = await ringing();
    const refused = [
      [iceCandidate("c".repeat(LIMITS.candidateMaxBytes + 1))],
      Array.from({ length: LIMITS.candidatesPerBatch + 1 }, (_, i) => iceCandidate(`${SAMPLE_CANDIDATE} ${i}`)),
      [],
    ];
    for (const candidates of refused) {
      await expectRpcError(
        client.sendIceCandidate({ callId, candidates }, alice.auth),
        Code.InvalidArgument,
        ErrorReason.INVALID_REQUEST,
      );
    }
    const atLimits = Array.from({ length: LIMITS.candidatesPerBatch }, () => iceCandidate("c".repeat(LIMITS.candidateMaxBytes)));
    await client.sendIceCandidate({ callId, candidates: atLimits }, alice.auth);
    expect((await nextEvent(bob.reader, "iceCandidates")).event.value.candidates).toHaveLength(LIMITS.candidatesPerBatch);
  });

  it("relays the first candidate burst with the offer and the answer, under the same limits", async () => {
    const alice = await joinAs("alice");
    const bob = await joinAs("bob");
    const tooMany = Array.from({ length: LIMITS.candidatesPerBatch + 1 }, (_, i) => iceCandidate(`${SAMPLE_CANDIDATE} ${i}`));
    await expectRpcError(
      client.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER, candidates: tooMany }, alice.auth),
      Code.InvalidArgument,
      ErrorReason.INVALID_REQUEST,
    );
    expect(hub.callCount).toBe(0);
    const fromAlice = [iceCandidate(SAMPLE_CANDIDATE)];
    const { callId } = await client.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER, candidates: fromAlice }, alice.auth);
    expect((await nextEvent(bob.reader, "offer")).event.value).toMatchObject({ candidates: fromAlice, endOfCandidates: false });
    const fromBob = [iceCandidate(`${SAMPLE_CANDIDATE} b`, { sdpMlineIndex: 0 })];
    await client.sendAnswer({ callId, sdp: SAMPLE_ANSWER, candidates: fromBob, endOfCandidates: true }, bob.auth);
    expect((await nextEvent(alice.reader, "answer")).event.value).toMatchObject({ candidates: fromBob, endOfCandidates: true });
  });

  it("refuses a ringing answer that would tell the caller an address (INVALID_ARGUMENT), and relays one that does not", async () => {
    const { alice, bob, callId } = await ringing();
    const withAddress = [
      { callId, sdp: SAMPLE_ANSWER, ringing: true, candidates: [iceCandidate(SAMPLE_CANDIDATE)] },
      { callId, sdp: SAMPLE_ANSWER, ringing: true, endOfCandidates: true },
      { callId, sdp: `${SAMPLE_ANSWER}a=candidate:${SAMPLE_CANDIDATE.slice("candidate:".length)}\r\n`, ringing: true },
    ];
    for (const request of withAddress) {
      await expectRpcError(client.sendAnswer(request, bob.auth), Code.InvalidArgument, ErrorReason.INVALID_REQUEST);
    }
    await client.sendAnswer({ callId, sdp: SAMPLE_ANSWER, ringing: true }, bob.auth);
    expect((await nextEvent(alice.reader, "answer")).event.value).toMatchObject({ sdp: SAMPLE_ANSWER, ringing: true, candidates: [] });
    // The caller cannot send one: nothing of theirs rings.
    await expectRpcError(client.sendAnswer({ callId, sdp: SAMPLE_ANSWER, ringing: true }, alice.auth), Code.FailedPrecondition, ErrorReason.WRONG_STATE);
  });

  it("refuses an unknown end reason and a missing call id", async () => {
    const { alice, callId } = await ringing();
    await expectRpcError(client.endCall({ callId, reason: 99 as EndReason }, alice.auth), Code.InvalidArgument, ErrorReason.INVALID_REQUEST);
    await expectRpcError(client.endCall({ reason: EndReason.HANGUP }, alice.auth), Code.InvalidArgument, ErrorReason.INVALID_REQUEST);
    expect(hub.callCount).toBe(1);
  });

  it("limits each session's request rate (RESOURCE_EXHAUSTED RATE_LIMITED), not other sessions'", async () => {
    const alice = await joinAs("alice");
    const bob = await joinAs("bob");
    const probe = (user: JoinedUser) => client.endCall({ callId: "no-such-call", reason: EndReason.HANGUP }, user.auth);
    let allowed = 0;
    for (;;) {
      const error = await probe(alice).then(() => undefined, (caught: unknown) => ConnectError.from(caught));
      if (error?.code !== Code.NotFound) break;
      allowed += 1;
    }
    // The bucket refills at 1/s, so a slow machine may squeeze in one or two more.
    expect(allowed).toBeGreaterThanOrEqual(RATE_LIMIT_BURST);
    expect(allowed).toBeLessThanOrEqual(RATE_LIMIT_BURST + 2);
    await expectRpcError(probe(alice), Code.ResourceExhausted, ErrorReason.RATE_LIMITED);
    await expectRpcError(probe(bob), Code.NotFound, ErrorReason.CALL_NOT_FOUND);
  });

  it("refuses joins while draining (UNAVAILABLE) and past the session limit (RESOURCE_EXHAUSTED)", async () => {
    for (let i = 0; i < MAX_SESSIONS; i += 1) await joinAs(`user-${i}`);
    await expectStreamError(openStream(client, streams, "one-too-many"), Code.ResourceExhausted, ErrorReason.SERVER_FULL);
    draining = true;
    await expectStreamError(openStream(client, streams, "late"), Code.Unavailable, ErrorReason.DRAINING);
  });

  it("refuses resumes while draining too, so clients move to another node, and keeps serving unary RPCs", async () => {
    const { alice, bob, callId } = await ringing();
    await bob.reader.close();
    draining = true;
    await expectStreamError(
      openStream(client, streams, "bob", { resumeToken: bob.joined.sessionToken, lastSeq: 2n }),
      Code.Unavailable,
      ErrorReason.DRAINING,
    );
    // A request sent before its client heard of the drain still goes through.
    await client.sendIceCandidate({ callId, candidates: [iceCandidate(SAMPLE_CANDIDATE)] }, alice.auth);
  });
});

describe("authentication", () => {
  /** Sends an offer from bob with `authorization` ($TOKEN stands for bob's session token), or none. */
  async function sendWith(authorization: string | undefined) {
    const bob = await joinAs("bob");
    await joinAs("alice");
    const headers: Record<string, string> = authorization === undefined ? {} : { authorization: authorization.replace("$TOKEN", bob.joined.sessionToken) };
    return client.sendOffer({ toUserId: "alice", sdp: SAMPLE_OFFER }, { headers });
  }

  it("refuses a request without a token (UNAUTHENTICATED NO_TOKEN)", async () => {
    await expectRpcError(sendWith(undefined), Code.Unauthenticated, ErrorReason.NO_TOKEN);
  });

  it.each([
    ["not a bearer token", "Basic $TOKEN"],
    ["malformed", "Bearer not-a-token"],
    ["with extra parts", "Bearer $TOKEN.extra"],
    ["with a bad signature", "Bearer $TOKEN!"],
  ])("refuses a token that is %s (UNAUTHENTICATED BAD_TOKEN)", async (_, authorization) => {
    await expectRpcError(sendWith(authorization), Code.Unauthenticated, ErrorReason.BAD_TOKEN);
    expect(hub.callCount).toBe(0);
  });

  it("refuses a token whose claims were tampered with", async () => {
    const bob = await joinAs("bob");
    await joinAs("alice");
    const [version, claims, mac] = bob.joined.sessionToken.split(".");
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(claims ?? "", "base64url").toString("utf8")), u: "alice" }),
    ).toString("base64url");
    await expectRpcError(
      client.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER }, bearer(`${version}.${forged}.${mac}`)),
      Code.Unauthenticated,
      ErrorReason.BAD_TOKEN,
    );
  });

  it("refuses an expired token", async () => {
    const bob = await joinAs("bob");
    await joinAs("alice");
    const expired = tokens.sign("bob", bob.joined.sessionId, Date.now() - TOKEN_TTL_MS - 1);
    await expectRpcError(
      client.sendOffer({ toUserId: "alice", sdp: SAMPLE_OFFER }, bearer(expired)),
      Code.Unauthenticated,
      ErrorReason.BAD_TOKEN,
    );
    expect(tokens.verify(bob.joined.sessionToken, Date.now() + TOKEN_TTL_MS + 1)).toEqual({ ok: false, problem: "token expired" });
  });

  it("refuses a valid token of a session that has ended (SESSION_ENDED)", async () => {
    const bob = await joinAs("bob");
    await joinAs("alice");
    const session = hub.sessionById(bob.joined.sessionId);
    if (session) hub.close(session);
    await expectRpcError(
      client.sendOffer({ toUserId: "alice", sdp: SAMPLE_OFFER }, bob.auth),
      Code.Unauthenticated,
      ErrorReason.SESSION_ENDED,
    );
  });

  it("refuses a body naming another sender (PERMISSION_DENIED IMPERSONATION)", async () => {
    const alice = await joinAs("alice");
    await joinAs("bob");
    await expectRpcError(
      client.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER, fromUserId: "bob" }, alice.auth),
      Code.PermissionDenied,
      ErrorReason.IMPERSONATION,
    );
    const ok = await client.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER, fromUserId: "alice" }, alice.auth);
    expect(ok.success).toBe(true);
  });

  it("refuses signaling in a call you are not in (PERMISSION_DENIED NOT_IN_CALL)", async () => {
    const { bob, callId } = await ringing();
    const carol = await joinAs("carol");
    await expectRpcError(client.sendAnswer({ callId, sdp: SAMPLE_ANSWER }, carol.auth), Code.PermissionDenied, ErrorReason.NOT_IN_CALL);
    await expectRpcError(
      client.sendIceCandidate({ callId, candidates: CANDIDATES }, carol.auth),
      Code.PermissionDenied,
      ErrorReason.NOT_IN_CALL,
    );
    await expectRpcError(client.endCall({ callId, reason: EndReason.HANGUP }, carol.auth), Code.PermissionDenied, ErrorReason.NOT_IN_CALL);
    await client.sendAnswer({ callId, sdp: SAMPLE_ANSWER }, bob.auth);
  });
});

describe("resume", () => {
  it("continues the session and replays the missed events in order", async () => {
    const { alice, bob, callId } = await ringing();
    // bob processed joined (1) and the offer (2); then his stream breaks.
    await bob.reader.close();
    await client.sendIceCandidate({ callId, candidates: CANDIDATES.slice(0, 1) }, alice.auth);
    await client.sendIceCandidate({ callId, candidates: CANDIDATES.slice(1), endOfCandidates: true }, alice.auth);

    const again = await join(client, streams, "bob", { resumeToken: bob.joined.sessionToken, lastSeq: 2n });

    expect(again.joined).toMatchObject({ resumed: true, sessionId: bob.joined.sessionId });
    expect(again.first.seq).toBe(4n);
    const first = await nextEvent(again.reader, "iceCandidates");
    const second = await nextEvent(again.reader, "iceCandidates");
    expect([first.seq, second.seq]).toEqual([3n, 4n]);
    expect(first.event.value.candidates).toEqual(CANDIDATES.slice(0, 1));
    expect(second.event.value).toMatchObject({ candidates: CANDIDATES.slice(1), endOfCandidates: true });

    // The call survived: the old token and the new one both still work, and nothing is sent twice.
    await client.sendAnswer({ callId, sdp: SAMPLE_ANSWER }, again.auth);
    await client.endCall({ callId, reason: EndReason.HANGUP }, alice.auth);
    expect((await nextEvent(again.reader, "callEnded")).seq).toBe(5n);
  });

  it("cuts off a reader that falls too far behind (RESOURCE_EXHAUSTED SLOW_READER)", async () => {
    const alice = await joinAs("alice");
    const bob = await joinAs("bob");
    const { callId } = await client.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER }, alice.auth);
    // bob reads nothing more while alice sends more batches than his stream may queue.
    for (let i = 0; i < STREAM_QUEUE_LIMIT + 4; i += 1) {
      await client.sendIceCandidate({ callId, candidates: [iceCandidate(`${SAMPLE_CANDIDATE} ${i}`)] }, alice.auth);
    }
    await expectStreamError(bob.reader, Code.ResourceExhausted, ErrorReason.SLOW_READER);
    // The session outlives its stream, waiting to be resumed.
    expect(hub.sessionById(bob.joined.sessionId)?.attached).toBe(false);
  });

  // Regression: the replay used to count against the stream queue's bound, so a resume that
  // missed more events than STREAM_QUEUE_LIMIT was cut off as a slow reader every time.
  it("replays more missed events than the stream queue holds", async () => {
    const { alice, bob, callId } = await ringing();
    await bob.reader.close();
    const missed = STREAM_QUEUE_LIMIT + 4;
    expect(missed + 2).toBeLessThanOrEqual(HUB_OPTIONS.historyLimit.events);
    for (let i = 0; i < missed; i += 1) {
      await client.sendIceCandidate({ callId, candidates: [iceCandidate(`${SAMPLE_CANDIDATE} ${i}`)] }, alice.auth);
    }

    const again = await join(client, streams, "bob", { resumeToken: bob.joined.sessionToken, lastSeq: 2n });
    expect(again.joined.resumed).toBe(true);
    for (let i = 0; i < missed; i += 1) {
      const batch = await nextEvent(again.reader, "iceCandidates");
      expect([batch.seq, batch.event.value.candidates[0]?.candidate]).toEqual([BigInt(i + 3), `${SAMPLE_CANDIDATE} ${i}`]);
    }
  });

  it("takes over from a stream that is still open", async () => {
    const bob = await joinAs("bob");
    const again = await join(client, streams, "bob", { resumeToken: bob.joined.sessionToken, lastSeq: 1n });
    expect(again.joined.resumed).toBe(true);
    const old = await bob.reader.rest();
    expect(old).toEqual({ messages: [], error: undefined });
  });

  it("starts a fresh session when the token belongs to someone else", async () => {
    const bob = await joinAs("bob");
    await bob.reader.close();
    const mallory = await join(client, streams, "mallory", { resumeToken: bob.joined.sessionToken, lastSeq: 1n });
    expect(mallory.joined.resumed).toBe(false);
    expect(mallory.joined.sessionId).not.toBe(bob.joined.sessionId);
    expect(hub.sessionById(bob.joined.sessionId)?.userId).toBe("bob");
  });
});
