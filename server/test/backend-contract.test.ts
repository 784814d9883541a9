import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { EndReason, ErrorReason, type SignalingMessage } from "@peertobeer/protocol";
import { startRedis, type RedisServer } from "../../test/support/redis.js";
import type { JoinedFactory, SessionHandle, SignalingBackend } from "../src/bus/backend.js";
import { MemoryBackend } from "../src/bus/memory.js";
import { RedisBackend } from "../src/bus/redis.js";
import { HubError, type HubErrorKind, type HubOptions } from "../src/hub/index.js";
import { CollectingSink, iceCandidate, isEvent, SAMPLE_ANSWER, SAMPLE_CANDIDATE, SAMPLE_OFFER, type EventCase, type MessageOf } from "./helpers.js";

/*
 * One contract for both backends: what a client sees does not depend on where its session
 * lives. The memory backend is one node; the Redis backend runs as two nodes on one real
 * redis-server, and the two users of every call sit on different nodes.
 */

const OPTIONS: HubOptions = {
  ringTimeoutMs: 700,
  sessionGraceMs: 700,
  heartbeatMs: 60_000,
  historyLimit: { events: 64, bytes: 1024 * 1024 },
  maxCallParticipants: 4,
};

/** Waits for what a backend pushes to one stream, in order. */
class TestSink extends CollectingSink {
  private read = 0;

  /** The next unread event other than a heartbeat, which must be a `kind`. */
  async next<K extends EventCase>(kind: K): Promise<MessageOf<K>> {
    const message = await vi.waitFor(
      () => {
        while (this.messages[this.read]?.event.case === "heartbeat") this.read++;
        const unread = this.messages[this.read];
        if (!unread) throw new Error(`no ${kind} event yet`);
        return unread;
      },
      { timeout: 5_000, interval: 10 },
    );
    this.read++;
    if (!isEvent(message, kind)) throw new Error(`expected a ${kind} event, got ${message.event.case ?? "an empty event"}`);
    return message;
  }

  /** Events not read yet (heartbeats aside). */
  unread(): SignalingMessage[] {
    return this.messages.slice(this.read).filter((m) => m.event.case !== "heartbeat");
  }
}

const joined: JoinedFactory = (session, resumed, onlineUserIds) => ({ sessionId: session.id, sessionToken: session.id, resumed, onlineUserIds });

interface Online {
  session: SessionHandle;
  sink: TestSink;
  backend: SignalingBackend;
}

interface Deployment {
  /** Where the first and the second user of a test join. */
  nodes: [SignalingBackend, SignalingBackend];
  close(): Promise<void>;
}

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const deployments: { name: string; start(): Promise<Deployment> }[] = [
  {
    name: "memory (one node)",
    async start() {
      const backend = new MemoryBackend(OPTIONS);
      return { nodes: [backend, backend], close: () => backend.close() };
    },
  },
  {
    name: "redis (two nodes)",
    async start() {
      // A prefix per test: each starts from an empty deployment on the shared redis-server.
      const options = { ...OPTIONS, url: redis.url, prefix: `t${randomUUID().slice(0, 8)}`, tickMs: 50, nodeTtlMs: 1_000 };
      const nodes = await Promise.all([RedisBackend.connect(options), RedisBackend.connect(options)]);
      return { nodes: [nodes[0], nodes[1]], close: async () => void (await Promise.all(nodes.map((n) => n.close()))) };
    },
  },
];

async function expectHubError(promise: Promise<unknown>, kind: HubErrorKind, reason: ErrorReason): Promise<HubError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(HubError);
  const hubError = error as HubError;
  expect({ kind: hubError.kind, reason: hubError.reason }).toEqual({ kind, reason });
  return hubError;
}

describe.each(deployments)("the signaling backend, $name", ({ start }) => {
  let deployment: Deployment;
  let a: SignalingBackend;
  let b: SignalingBackend;

  afterEach(async () => {
    await deployment?.close();
  });

  async function setUp(): Promise<void> {
    deployment = await start();
    [a, b] = deployment.nodes;
  }

  async function online(backend: SignalingBackend, userId: string, watchPresence = false): Promise<Online> {
    const sink = new TestSink();
    const session = await backend.join({ userId, watchPresence }, sink, joined);
    await sink.next("joined");
    return { session, sink, backend };
  }

  /** alice (first node) calls bob (second node); bob has read the offer. */
  async function ringing() {
    const alice = await online(a, "alice");
    const bob = await online(b, "bob");
    const callId = await a.offer(alice.session, { toUserId: "bob", callId: "", sdp: SAMPLE_OFFER });
    await bob.sink.next("offer");
    return { alice, bob, callId };
  }

  it("opens a session with joined as event 1, and refuses the ID while its stream is live", async () => {
    await setUp();
    const sink = new TestSink();
    const session = await a.join({ userId: "alice", watchPresence: false }, sink, joined);
    const first = await sink.next("joined");
    expect({ seq: first.seq, sessionId: first.event.value.sessionId, resumed: first.event.value.resumed }).toEqual({
      seq: 1n,
      sessionId: session.id,
      resumed: false,
    });
    await expectHubError(b.join({ userId: "alice", watchPresence: false }, new TestSink(), joined), "already_exists", ErrorReason.ID_TAKEN);
    expect(a.session(session.id, "alice")).toMatchObject({ id: session.id, userId: "alice" });
  });

  it("relays a call across nodes: offer, answer, candidates both ways, and a hang-up the other side hears", async () => {
    await setUp();
    const alice = await online(a, "alice");
    const bob = await online(b, "bob");
    const callId = await a.offer(alice.session, {
      toUserId: "bob",
      callId: "",
      sdp: SAMPLE_OFFER,
      candidates: [iceCandidate(SAMPLE_CANDIDATE)],
    });
    const offer = await bob.sink.next("offer");
    expect({ from: offer.fromUserId, callId: offer.callId, sdp: offer.event.value.sdp, polite: offer.event.value.polite }).toEqual({
      from: "alice",
      callId,
      sdp: SAMPLE_OFFER,
      polite: true,
    });
    expect(offer.event.value.renegotiation).toBe(false);
    expect(offer.event.value.candidates.map((c) => c.candidate)).toEqual([SAMPLE_CANDIDATE]);

    await b.answer(bob.session, { callId, sdp: SAMPLE_ANSWER, endOfCandidates: true });
    const answer = await alice.sink.next("answer");
    expect({ from: answer.fromUserId, sdp: answer.event.value.sdp, polite: answer.event.value.polite, end: answer.event.value.endOfCandidates }).toEqual({
      from: "bob",
      sdp: SAMPLE_ANSWER,
      polite: false,
      end: true,
    });

    await a.candidates(alice.session, callId, [iceCandidate(SAMPLE_CANDIDATE)], false);
    await b.candidates(bob.session, callId, [], true);
    expect((await bob.sink.next("iceCandidates")).event.value.candidates).toHaveLength(1);
    expect((await alice.sink.next("iceCandidates")).event.value.endOfCandidates).toBe(true);

    // A renegotiation from the callee reaches the caller as the impolite side.
    expect(await b.offer(bob.session, { toUserId: "alice", callId, sdp: SAMPLE_OFFER })).toBe(callId);
    const renegotiation = await alice.sink.next("offer");
    expect({ renegotiation: renegotiation.event.value.renegotiation, polite: renegotiation.event.value.polite }).toEqual({
      renegotiation: true,
      polite: false,
    });

    expect(await b.hangUp(bob.session, callId, EndReason.HANGUP)).toBe(EndReason.HANGUP);
    const ended = await alice.sink.next("callEnded");
    expect({ reason: ended.event.value.reason, by: ended.event.value.endedByUserId, callId: ended.callId }).toEqual({
      reason: EndReason.HANGUP,
      by: "bob",
      callId,
    });
    expect(bob.sink.unread()).toEqual([]);
    await expectHubError(a.candidates(alice.session, callId, [], true), "not_found", ErrorReason.CALL_NOT_FOUND);
  });

  it("numbers each session's events 1, 2, 3 … whichever node sent them", async () => {
    await setUp();
    const { alice, bob, callId } = await ringing();
    await b.answer(bob.session, { callId, sdp: SAMPLE_ANSWER });
    for (let i = 0; i < 5; i++) await (i % 2 ? a : b).candidates(bob.session, callId, [iceCandidate(SAMPLE_CANDIDATE)], false);
    await alice.sink.next("answer");
    for (let i = 0; i < 5; i++) await alice.sink.next("iceCandidates");
    expect(alice.sink.messages.filter((m) => m.event.case !== "heartbeat").map((m) => m.seq)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n]);
  });

  it("refuses what cannot be: a call to oneself, to someone offline or busy, a second call, a stranger in a call", async () => {
    await setUp();
    const { alice, callId } = await ringing();
    const carol = await online(b, "carol");
    const dave = await online(a, "dave");
    await expectHubError(a.offer(carol.session, { toUserId: "carol", callId: "", sdp: SAMPLE_OFFER }), "invalid_argument", ErrorReason.INVALID_REQUEST);
    await expectHubError(a.offer(carol.session, { toUserId: "nobody", callId: "", sdp: SAMPLE_OFFER }), "not_found", ErrorReason.USER_OFFLINE);
    await expectHubError(b.offer(carol.session, { toUserId: "bob", callId: "", sdp: SAMPLE_OFFER }), "failed_precondition", ErrorReason.USER_BUSY);
    await expectHubError(b.offer(alice.session, { toUserId: "dave", callId: "", sdp: SAMPLE_OFFER }), "failed_precondition", ErrorReason.ALREADY_IN_CALL);
    await expectHubError(a.candidates(carol.session, callId, [], true), "permission_denied", ErrorReason.NOT_IN_CALL);
    await expectHubError(b.hangUp(dave.session, callId, EndReason.HANGUP), "permission_denied", ErrorReason.NOT_IN_CALL);
    await expectHubError(b.answer(alice.session, { callId, sdp: SAMPLE_ANSWER }), "failed_precondition", ErrorReason.WRONG_STATE);
    // An offer to someone outside the call invites them, which only an answered call allows.
    await expectHubError(
      a.offer(alice.session, { toUserId: "carol", callId, sdp: SAMPLE_OFFER }),
      "failed_precondition",
      ErrorReason.WRONG_STATE,
    );
    await expectHubError(a.answer(carol.session, { callId: randomUUID(), sdp: SAMPLE_ANSWER }), "not_found", ErrorReason.CALL_NOT_FOUND);
  });

  it("resolves glare, both calling each other at once through different nodes, to exactly one call", async () => {
    await setUp();
    const alice = await online(a, "alice");
    const bob = await online(b, "bob");
    const results = await Promise.allSettled([
      a.offer(alice.session, { toUserId: "bob", callId: "", sdp: SAMPLE_OFFER }),
      b.offer(bob.session, { toUserId: "alice", callId: "", sdp: SAMPLE_OFFER }),
    ]);
    const won = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const lost = results.flatMap((r) => (r.status === "rejected" ? [r.reason as HubError] : []));
    expect(won).toHaveLength(1);
    expect(lost.map((e) => ({ reason: e.reason, callId: e.callId }))).toEqual([{ reason: ErrorReason.CALL_GLARE, callId: won[0] }]);
  });

  it("ends a call the callee declines, the caller cancels or nobody answers, each with its reason", async () => {
    await setUp();
    const declined = await ringing();
    await b.hangUp(declined.bob.session, declined.callId, EndReason.HANGUP);
    expect((await declined.alice.sink.next("callEnded")).event.value.reason).toBe(EndReason.DECLINED);

    const canceled = await a.offer(declined.alice.session, { toUserId: "bob", callId: "", sdp: SAMPLE_OFFER });
    await declined.bob.sink.next("offer");
    expect(await a.hangUp(declined.alice.session, canceled, EndReason.HANGUP)).toBe(EndReason.CANCELED);
    expect((await declined.bob.sink.next("callEnded")).event.value.reason).toBe(EndReason.CANCELED);

    const unanswered = await a.offer(declined.alice.session, { toUserId: "bob", callId: "", sdp: SAMPLE_OFFER });
    await declined.bob.sink.next("offer");
    for (const sink of [declined.alice.sink, declined.bob.sink]) {
      const ended = await sink.next("callEnded");
      expect({ callId: ended.callId, reason: ended.event.value.reason }).toEqual({ callId: unanswered, reason: EndReason.NO_ANSWER });
    }
  });

  it("relays the callee's ringing answer without accepting: the call still rings, ends as declined or unanswered, or is accepted later", async () => {
    await setUp();
    const declined = await ringing();
    await b.answer(declined.bob.session, { callId: declined.callId, sdp: SAMPLE_ANSWER, ringing: true });
    const early = await declined.alice.sink.next("answer");
    expect({ from: early.fromUserId, sdp: early.event.value.sdp, polite: early.event.value.polite, ringing: early.event.value.ringing }).toEqual({
      from: "bob",
      sdp: SAMPLE_ANSWER,
      polite: false,
      ringing: true,
    });
    // Still ringing: nobody can be added yet, and the callee's hang-up is a decline.
    await expectHubError(
      a.offer(declined.alice.session, { toUserId: "carol", callId: declined.callId, sdp: SAMPLE_OFFER }),
      "failed_precondition",
      ErrorReason.WRONG_STATE,
    );
    // Only the one who rings sends one.
    await expectHubError(a.answer(declined.alice.session, { callId: declined.callId, sdp: SAMPLE_ANSWER, ringing: true }), "failed_precondition", ErrorReason.WRONG_STATE);
    await b.hangUp(declined.bob.session, declined.callId, EndReason.HANGUP);
    expect((await declined.alice.sink.next("callEnded")).event.value.reason).toBe(EndReason.DECLINED);

    const unanswered = await a.offer(declined.alice.session, { toUserId: "bob", callId: "", sdp: SAMPLE_OFFER });
    await declined.bob.sink.next("offer");
    await b.answer(declined.bob.session, { callId: unanswered, sdp: SAMPLE_ANSWER, ringing: true });
    expect((await declined.alice.sink.next("answer")).event.value.ringing).toBe(true);
    for (const sink of [declined.alice.sink, declined.bob.sink]) {
      expect((await sink.next("callEnded")).event.value.reason).toBe(EndReason.NO_ANSWER);
    }

    const accepted = await a.offer(declined.alice.session, { toUserId: "bob", callId: "", sdp: SAMPLE_OFFER });
    await declined.bob.sink.next("offer");
    await b.answer(declined.bob.session, { callId: accepted, sdp: SAMPLE_ANSWER, ringing: true });
    expect((await declined.alice.sink.next("answer")).event.value.ringing).toBe(true);
    await b.answer(declined.bob.session, { callId: accepted, sdp: SAMPLE_ANSWER, candidates: [iceCandidate(SAMPLE_CANDIDATE)], endOfCandidates: true });
    const accepting = await declined.alice.sink.next("answer");
    expect({ ringing: accepting.event.value.ringing, candidates: accepting.event.value.candidates.length }).toEqual({ ringing: false, candidates: 1 });
    // Accepted: the phone rings no more, so no more ringing answers; a hang-up is a hang-up.
    await expectHubError(b.answer(declined.bob.session, { callId: accepted, sdp: SAMPLE_ANSWER, ringing: true }), "failed_precondition", ErrorReason.WRONG_STATE);
    expect(await b.hangUp(declined.bob.session, accepted, EndReason.HANGUP)).toBe(EndReason.HANGUP);
    expect((await declined.alice.sink.next("callEnded")).event.value.reason).toBe(EndReason.HANGUP);
  });

  it("resumes a session on the other node, replaying what it missed once and in order, then goes on live", async () => {
    await setUp();
    const { alice, bob, callId } = await ringing();
    await b.answer(bob.session, { callId, sdp: SAMPLE_ANSWER });
    await alice.sink.next("answer");
    const lastSeq = alice.sink.messages.at(-1)?.seq ?? 0n;
    a.streamEnded(alice.session, alice.sink);
    for (let i = 0; i < 3; i++) await b.candidates(bob.session, callId, [iceCandidate(`${SAMPLE_CANDIDATE} ${i}`)], false);

    const resumed = new TestSink();
    const session = await b.join({ userId: "alice", watchPresence: false, resume: { sessionId: alice.session.id, lastSeq } }, resumed, joined);
    expect(session.id).toBe(alice.session.id);
    expect((await resumed.next("joined")).event.value.resumed).toBe(true);
    const replayed = [await resumed.next("iceCandidates"), await resumed.next("iceCandidates"), await resumed.next("iceCandidates")];
    expect(replayed.map((m) => [m.seq, m.event.value.candidates[0]?.candidate])).toEqual([0, 1, 2].map((i) => [lastSeq + BigInt(i + 1), `${SAMPLE_CANDIDATE} ${i}`]));

    await a.candidates(bob.session, callId, [], true);
    expect((await resumed.next("iceCandidates")).seq).toBe(lastSeq + 4n);
    expect(resumed.unread()).toEqual([]);
    // The session is the same one: the call goes on.
    await b.hangUp(session, callId, EndReason.HANGUP);
    expect((await bob.sink.next("callEnded")).event.value.reason).toBe(EndReason.HANGUP);
  });

  it("starts a fresh session when too much was missed to replay, ending the old one", async () => {
    await setUp();
    const alice = await online(a, "alice");
    a.streamEnded(alice.session, alice.sink);
    const sink = new TestSink();
    const session = await b.join({ userId: "alice", watchPresence: false, resume: { sessionId: alice.session.id, lastSeq: 99n } }, sink, joined);
    expect(session.id).not.toBe(alice.session.id);
    const first = await sink.next("joined");
    expect({ seq: first.seq, resumed: first.event.value.resumed }).toEqual({ seq: 1n, resumed: false });
  });

  it("starts a fresh session when what was missed outweighs the history (about 1 MiB here)", async () => {
    await setUp();
    const { alice, bob, callId } = await ringing();
    const lastSeq = alice.sink.messages.at(-1)?.seq ?? 0n;
    a.streamEnded(alice.session, alice.sink);
    const batch = Array.from({ length: 64 }, (_, i) => iceCandidate(`${SAMPLE_CANDIDATE} ${i} ${"x".repeat(1_900)}`));
    for (let i = 0; i < 10; i++) await b.candidates(bob.session, callId, batch, false);
    const sink = new TestSink();
    const session = await a.join({ userId: "alice", watchPresence: false, resume: { sessionId: alice.session.id, lastSeq } }, sink, joined);
    expect(session.id).not.toBe(alice.session.id);
    expect((await sink.next("joined")).event.value.resumed).toBe(false);
  });

  it("ends a session whose stream stays gone past the grace period: its call ends PEER_GONE, watchers see it leave", async () => {
    await setUp();
    const watcher = await online(a, "carol", true);
    const { alice, bob, callId } = await ringing();
    expect((await watcher.sink.next("presence")).event.value).toMatchObject({ userId: "alice", online: true });
    expect((await watcher.sink.next("presence")).event.value).toMatchObject({ userId: "bob", online: true });
    await b.answer(bob.session, { callId, sdp: SAMPLE_ANSWER });
    await alice.sink.next("answer");
    b.streamEnded(bob.session, bob.sink);
    const ended = await alice.sink.next("callEnded");
    expect({ callId: ended.callId, reason: ended.event.value.reason, by: ended.event.value.endedByUserId }).toEqual({
      callId,
      reason: EndReason.PEER_GONE,
      by: "bob",
    });
    expect((await watcher.sink.next("presence")).event.value).toMatchObject({ userId: "bob", online: false });
    // The ID is free again.
    await online(a, "bob");
  });

  it("tells every node when a session ends, so none keeps anything for it", async () => {
    await setUp();
    const closedOnA: string[] = [];
    const closedOnB: string[] = [];
    a.onSessionClosed((id) => closedOnA.push(id));
    b.onSessionClosed((id) => closedOnB.push(id));
    const bob = await online(b, "bob");
    b.streamEnded(bob.session, bob.sink);
    await vi.waitFor(() => expect([closedOnA, closedOnB]).toEqual([[bob.session.id], [bob.session.id]]), { timeout: 5_000 });
  });

  it("tells a watcher who is online when it joins", async () => {
    await setUp();
    await online(a, "alice");
    await online(b, "bob");
    const sink = new TestSink();
    await b.join({ userId: "carol", watchPresence: true }, sink, joined);
    expect((await sink.next("joined")).event.value.onlineUserIds.sort()).toEqual(["alice", "bob"]);
  });

  it("pushes a control message, unnumbered, only through the node that holds the stream", async () => {
    await setUp();
    const alice = await online(a, "alice");
    expect(a.sendControl(alice.session, { case: "heartbeat", value: { serverTimeMs: 7n } })).toBe(true);
    expect(alice.sink.messages.at(-1)).toMatchObject({ seq: 1n, event: { case: "heartbeat", value: { serverTimeMs: 7n } } });
    a.streamEnded(alice.session, alice.sink);
    expect(a.sendControl(alice.session, { case: "heartbeat", value: { serverTimeMs: 8n } })).toBe(false);
  });

  it("drains: every local stream is told to reconnect and ended, and its session can resume elsewhere", async () => {
    await setUp();
    const alice = await online(a, "alice");
    a.drain(0);
    expect(alice.sink.messages.at(-1)?.event.case).toBe("draining");
    expect(alice.sink.ended).toBe(true);
    a.streamEnded(alice.session, alice.sink);
    const sink = new TestSink();
    const session = await b.join({ userId: "alice", watchPresence: false, resume: { sessionId: alice.session.id, lastSeq: 1n } }, sink, joined);
    expect(session.id).toBe(alice.session.id);
  });

  describe("group calls", () => {
    /** alice (first node) and bob (second node) in an active call. */
    async function active() {
      const { alice, bob, callId } = await ringing();
      await b.answer(bob.session, { callId, sdp: SAMPLE_ANSWER, endOfCandidates: true });
      await alice.sink.next("answer");
      return { alice, bob, callId };
    }

    /** `inviter` adds `user` (already online) to the call; the invitee has read the invitation. */
    async function join(inviter: Online, user: Online, callId: string, others: Online[]) {
      expect(await inviter.backend.offer(inviter.session, { toUserId: user.session.userId, callId, sdp: SAMPLE_OFFER })).toBe(callId);
      await user.sink.next("offer");
      await user.backend.answer(user.session, { callId, sdp: SAMPLE_ANSWER, endOfCandidates: true });
      await inviter.sink.next("answer");
      for (const other of others) {
        await other.sink.next("participantJoined");
        await other.backend.offer(other.session, { toUserId: user.session.userId, callId, sdp: SAMPLE_OFFER });
        await user.sink.next("offer");
        await user.backend.answer(user.session, { callId, sdp: SAMPLE_ANSWER, endOfCandidates: true, toUserId: other.session.userId });
        await other.sink.next("answer");
      }
    }

    it("adds a third person: the invitation names who is there, and every pair negotiates on its own", async () => {
      await setUp();
      const { alice, bob, callId } = await active();
      const carol = await online(b, "carol");
      expect(await a.offer(alice.session, { toUserId: "carol", callId, sdp: SAMPLE_OFFER, candidates: [iceCandidate(SAMPLE_CANDIDATE)] })).toBe(callId);
      const invitation = await carol.sink.next("offer");
      expect({ from: invitation.fromUserId, callId: invitation.callId, ...invitation.event.value, candidates: invitation.event.value.candidates.length }).toMatchObject({
        from: "alice",
        callId,
        renegotiation: false,
        polite: true,
        participantUserIds: ["bob"],
        candidates: 1,
      });
      // Until carol accepts, only alice may signal to her, and she only to alice.
      await expectHubError(b.candidates(bob.session, callId, [], true, "carol"), "permission_denied", ErrorReason.NOT_IN_CALL);
      await expectHubError(b.offer(carol.session, { toUserId: "bob", callId, sdp: SAMPLE_OFFER }), "permission_denied", ErrorReason.NOT_IN_CALL);
      await expectHubError(b.answer(carol.session, { callId, sdp: SAMPLE_ANSWER, toUserId: "bob" }), "invalid_argument", ErrorReason.INVALID_REQUEST);
      await b.candidates(carol.session, callId, [iceCandidate(SAMPLE_CANDIDATE)], false);
      expect((await alice.sink.next("iceCandidates")).fromUserId).toBe("carol");
      expect(bob.sink.unread()).toEqual([]);

      await b.answer(carol.session, { callId, sdp: SAMPLE_ANSWER, endOfCandidates: true });
      const answer = await alice.sink.next("answer");
      expect({ from: answer.fromUserId, polite: answer.event.value.polite }).toEqual({ from: "carol", polite: false });
      const joinedCall = await bob.sink.next("participantJoined");
      expect({ from: joinedCall.fromUserId, callId: joinedCall.callId, ...joinedCall.event.value }).toMatchObject({ from: "carol", callId, userId: "carol", polite: false });

      // bob and carol: a negotiation of their own, carol the polite side.
      await b.offer(bob.session, { toUserId: "carol", callId, sdp: SAMPLE_OFFER });
      const offer = await carol.sink.next("offer");
      expect({ from: offer.fromUserId, polite: offer.event.value.polite }).toEqual({ from: "bob", polite: true });
      await b.answer(carol.session, { callId, sdp: SAMPLE_ANSWER, toUserId: "bob" });
      expect((await bob.sink.next("answer")).fromUserId).toBe("carol");
      await a.candidates(bob.session, callId, [iceCandidate(SAMPLE_CANDIDATE)], true, "carol");
      expect((await carol.sink.next("iceCandidates")).fromUserId).toBe("bob");
      // With two others, a request must say whom it is for.
      await expectHubError(a.candidates(alice.session, callId, [], true), "invalid_argument", ErrorReason.INVALID_REQUEST);

      // bob leaves: the call goes on for alice and carol.
      expect(await b.hangUp(bob.session, callId, EndReason.HANGUP)).toBe(EndReason.HANGUP);
      for (const user of [alice, carol]) {
        const left = await user.sink.next("participantLeft");
        expect({ from: left.fromUserId, ...left.event.value }).toMatchObject({ from: "bob", userId: "bob", reason: EndReason.HANGUP });
      }
      await expectHubError(b.candidates(carol.session, callId, [], true, "bob"), "invalid_argument", ErrorReason.INVALID_REQUEST);
      // Now alice has one other again: requests need not name her.
      await b.candidates(carol.session, callId, [], true);
      expect((await alice.sink.next("iceCandidates")).fromUserId).toBe("carol");
      // The last but one leaving ends it.
      await b.hangUp(carol.session, callId, EndReason.HANGUP);
      const ended = await alice.sink.next("callEnded");
      expect({ reason: ended.event.value.reason, by: ended.event.value.endedByUserId }).toEqual({ reason: EndReason.HANGUP, by: "carol" });
      expect([bob.sink.unread(), carol.sink.unread()]).toEqual([[], []]);
    });

    it("tells only the inviter of a declined, unanswered or impossible invitation, and the call goes on", async () => {
      await setUp();
      const { alice, bob, callId } = await active();
      const carol = await online(b, "carol");
      await a.offer(alice.session, { toUserId: "carol", callId, sdp: SAMPLE_OFFER });
      await carol.sink.next("offer");
      expect(await b.hangUp(carol.session, callId, EndReason.HANGUP)).toBe(EndReason.DECLINED);
      const declined = await alice.sink.next("participantLeft");
      expect({ from: declined.fromUserId, ...declined.event.value }).toMatchObject({ from: "carol", userId: "carol", reason: EndReason.DECLINED });

      // Nobody answers: the ring timeout ends the invitation, not the call.
      await b.offer(bob.session, { toUserId: "carol", callId, sdp: SAMPLE_OFFER });
      await carol.sink.next("offer");
      expect((await bob.sink.next("participantLeft")).event.value).toMatchObject({ userId: "carol", reason: EndReason.NO_ANSWER });
      expect((await carol.sink.next("callEnded")).event.value.reason).toBe(EndReason.NO_ANSWER);

      // Busy elsewhere, offline, oneself, an invitee inviting: refused at once.
      const dave = await online(a, "dave");
      const erin = await online(b, "erin");
      await a.offer(dave.session, { toUserId: "erin", callId: "", sdp: SAMPLE_OFFER });
      await expectHubError(a.offer(alice.session, { toUserId: "erin", callId, sdp: SAMPLE_OFFER }), "failed_precondition", ErrorReason.USER_BUSY);
      await expectHubError(a.offer(alice.session, { toUserId: "nobody", callId, sdp: SAMPLE_OFFER }), "not_found", ErrorReason.USER_OFFLINE);
      await expectHubError(a.offer(alice.session, { toUserId: "alice", callId, sdp: SAMPLE_OFFER }), "invalid_argument", ErrorReason.INVALID_REQUEST);
      expect(alice.sink.unread()).toEqual([]);
      expect(bob.sink.unread()).toEqual([]);
      void erin;

      // Still a call: a hang-up ends it as 1:1.
      await a.hangUp(alice.session, callId, EndReason.HANGUP);
      expect((await bob.sink.next("callEnded")).event.value).toMatchObject({ reason: EndReason.HANGUP, endedByUserId: "alice" });
    });

    it("refuses an invitation into a full call, and a second invitation of someone already being rung", async () => {
      await setUp();
      const { alice, bob, callId } = await active();
      const carol = await online(b, "carol");
      const dave = await online(a, "dave");
      await online(b, "erin");
      await join(alice, carol, callId, [bob]);
      await a.offer(alice.session, { toUserId: "dave", callId, sdp: SAMPLE_OFFER });
      await dave.sink.next("offer");
      await expectHubError(b.offer(bob.session, { toUserId: "dave", callId, sdp: SAMPLE_OFFER }), "failed_precondition", ErrorReason.ALREADY_INVITED);
      // Four with dave being rung: the limit (MAX_CALL_PARTICIPANTS) counts invitations.
      await expectHubError(b.offer(carol.session, { toUserId: "erin", callId, sdp: SAMPLE_OFFER }), "failed_precondition", ErrorReason.CALL_FULL);
      expect([bob.sink.unread(), carol.sink.unread()]).toEqual([[], []]);
    });

    it("rings someone two people invite at the same moment once: the other invitation is refused", async () => {
      await setUp();
      const { alice, bob, callId } = await active();
      const carol = await online(b, "carol");
      const results = await Promise.allSettled([
        a.offer(alice.session, { toUserId: "carol", callId, sdp: SAMPLE_OFFER }),
        b.offer(bob.session, { toUserId: "carol", callId, sdp: SAMPLE_OFFER }),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const lost = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as HubError).reason] : []));
      expect(lost).toEqual([ErrorReason.ALREADY_INVITED]);
      await carol.sink.next("offer");
      expect(carol.sink.unread()).toEqual([]);
    });

    it("cancels the invitations of someone who leaves, and tells the others who left", async () => {
      await setUp();
      const { alice, bob, callId } = await active();
      const carol = await online(b, "carol");
      const dave = await online(a, "dave");
      await join(alice, carol, callId, [bob]);
      await a.offer(alice.session, { toUserId: "dave", callId, sdp: SAMPLE_OFFER });
      await dave.sink.next("offer");
      await a.hangUp(alice.session, callId, EndReason.HANGUP);
      expect((await dave.sink.next("callEnded")).event.value).toMatchObject({ reason: EndReason.CANCELED, endedByUserId: "alice" });
      for (const user of [bob, carol]) expect((await user.sink.next("participantLeft")).event.value).toMatchObject({ userId: "alice", reason: EndReason.HANGUP });
      // dave is free again.
      await a.offer(dave.session, { toUserId: "alice", callId: "", sdp: SAMPLE_OFFER });
    });

    it("takes an invitation instead of calling the inviter at the same moment (glare)", async () => {
      await setUp();
      const { alice, callId } = await active();
      const carol = await online(b, "carol");
      await a.offer(alice.session, { toUserId: "carol", callId, sdp: SAMPLE_OFFER });
      const error = await expectHubError(b.offer(carol.session, { toUserId: "alice", callId: "", sdp: SAMPLE_OFFER }), "aborted", ErrorReason.CALL_GLARE);
      expect(error.callId).toBe(callId);
    });

    it("never leaves anyone ringing when an invitation races the call's end", async () => {
      await setUp();
      const { alice, bob, callId } = await active();
      const carol = await online(b, "carol");
      const [invited] = await Promise.allSettled([
        a.offer(alice.session, { toUserId: "carol", callId, sdp: SAMPLE_OFFER }),
        b.hangUp(bob.session, callId, EndReason.HANGUP),
      ]);
      if (invited.status === "fulfilled") {
        await carol.sink.next("offer");
        expect((await carol.sink.next("callEnded")).event.value.reason).toBe(EndReason.CANCELED);
      } else {
        expect((invited.reason as HubError).reason).toBe(ErrorReason.CALL_NOT_FOUND);
      }
      // carol is in no call: she can be called.
      await a.offer(alice.session, { toUserId: "carol", callId: "", sdp: SAMPLE_OFFER });
    });

    it("tells the others when a participant's session ends past the grace period", async () => {
      await setUp();
      const { alice, bob, callId } = await active();
      const carol = await online(b, "carol");
      await join(alice, carol, callId, [bob]);
      b.streamEnded(carol.session, carol.sink);
      for (const user of [alice, bob]) expect((await user.sink.next("participantLeft")).event.value).toMatchObject({ userId: "carol", reason: EndReason.PEER_GONE });
      // alice and bob go on.
      await a.candidates(alice.session, callId, [], true);
      expect((await bob.sink.next("iceCandidates")).fromUserId).toBe("alice");
    });
  });
});
