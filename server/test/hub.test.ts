import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EndReason, ErrorReason, type SignalingMessage } from "@peertobeer/protocol";
import { Hub, HubError, type HubErrorKind, type Session } from "../src/hub/index.js";
import { CollectingSink, HUB_OPTIONS, iceCandidate, isEvent, SAMPLE_ANSWER, SAMPLE_CANDIDATE, SAMPLE_OFFER } from "./helpers.js";

interface Online {
  session: Session;
  sink: CollectingSink;
}

let hub: Hub;

beforeEach(() => {
  vi.useFakeTimers();
  hub = new Hub(HUB_OPTIONS);
});

afterEach(() => {
  hub.stop();
  vi.useRealTimers();
});

function online(userId: string, watchPresence = false): Online {
  const session = hub.open(userId, watchPresence);
  const sink = new CollectingSink();
  hub.attach(session, sink);
  return { session, sink };
}

function expectHubError(action: () => unknown, kind: HubErrorKind, reason: ErrorReason): HubError {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(HubError);
  const error = caught as HubError;
  expect({ kind: error.kind, reason: error.reason }).toEqual({ kind, reason });
  return error;
}

/** The call-ended events in `messages`, as (reason, ended by, from) triples. */
function endings(messages: SignalingMessage[]) {
  return messages.flatMap((m) =>
    isEvent(m, "callEnded")
      ? [{ reason: m.event.value.reason, endedBy: m.event.value.endedByUserId, from: m.fromUserId, callId: m.callId }]
      : [],
  );
}

/** The presence events a sink received since the last take, as [user, online] pairs. */
function presence(sink: CollectingSink): [string, boolean][] {
  return sink.take().flatMap((m): [string, boolean][] => (isEvent(m, "presence") ? [[m.event.value.userId, m.event.value.online]] : []));
}

/** alice calls bob; bob's offer is consumed. */
function ringing(): { alice: Online; bob: Online; callId: string } {
  const alice = online("alice");
  const bob = online("bob");
  const callId = hub.offer(alice.session, { toUserId: "bob", callId: "", sdp: SAMPLE_OFFER });
  bob.sink.take();
  return { alice, bob, callId };
}

function active(): { alice: Online; bob: Online; callId: string } {
  const call = ringing();
  hub.answer(call.bob.session, { callId: call.callId, sdp: SAMPLE_ANSWER });
  call.alice.sink.take();
  return call;
}

describe("sessions", () => {
  it("opens a session that numbers its events from 1 (the handlers send joined, not the hub)", () => {
    const alice = online("alice");
    const bob = online("bob");
    expect(alice.session.seq).toBe(0n);
    expect(alice.sink.messages).toEqual([]);

    const callId = hub.offer(alice.session, { toUserId: "bob", callId: "", sdp: SAMPLE_OFFER });
    hub.candidates(alice.session, callId, [iceCandidate(SAMPLE_CANDIDATE)], false);

    expect(bob.sink.messages.map((m) => [m.seq, m.event.case])).toEqual([
      [1n, "offer"],
      [2n, "iceCandidates"],
    ]);
    const offer = bob.sink.messages[0];
    expect(offer?.fromUserId).toBe("alice");
    expect(offer?.callId).toBe(callId);
    expect(hub.onlineUserIds().sort()).toEqual(["alice", "bob"]);
  });

  it("refuses an ID whose session still has a stream (already_exists ID_TAKEN)", () => {
    const alice = online("alice");
    expectHubError(() => hub.open("alice", false), "already_exists", ErrorReason.ID_TAKEN);
    expect(hub.sessionById(alice.session.id)).toBe(alice.session);
    expect(alice.sink.ended).toBe(false);
  });

  it("replaces a session whose stream is gone, ending its call as PEER_GONE", () => {
    const { alice, bob, callId } = active();
    const watcher = online("watcher", true);
    hub.detach(alice.session, alice.sink);

    const again = hub.open("alice", false);

    expect(again.id).not.toBe(alice.session.id);
    expect(hub.sessionById(alice.session.id)).toBeUndefined();
    expect(hub.sessionById(again.id)).toBe(again);
    expect(endings(bob.sink.take())).toEqual([
      { reason: EndReason.PEER_GONE, endedBy: "alice", from: "alice", callId },
    ]);
    expect(presence(watcher.sink)).toEqual([
      ["alice", false],
      ["alice", true],
    ]);
    expect(hub.callCount).toBe(0);
  });

  it("closes a detached session after the grace period, and its peer sees PEER_GONE", () => {
    const { alice, bob, callId } = active();
    hub.detach(bob.session, bob.sink);

    vi.advanceTimersByTime(HUB_OPTIONS.sessionGraceMs - 1);
    expect(alice.sink.messages).toEqual([]);
    expect(hub.sessionById(bob.session.id)).toBe(bob.session);

    vi.advanceTimersByTime(1);
    expect(endings(alice.sink.take())).toEqual([{ reason: EndReason.PEER_GONE, endedBy: "bob", from: "bob", callId }]);
    expect(hub.sessionById(bob.session.id)).toBeUndefined();
    expect(hub.callCount).toBe(0);
  });

  it("keeps a session that is re-attached within the grace period", () => {
    const { alice, bob } = active();
    hub.detach(bob.session, bob.sink);
    const resumed = new CollectingSink();
    hub.attach(bob.session, resumed);

    vi.advanceTimersByTime(HUB_OPTIONS.sessionGraceMs * 2);
    expect(alice.sink.messages).toEqual([]);
    expect(hub.sessionById(bob.session.id)).toBe(bob.session);
  });

  it("ends the old stream when a newer one attaches, and ignores the old stream's detach", () => {
    const alice = online("alice");
    const newer = new CollectingSink();
    hub.attach(alice.session, newer);
    expect(alice.sink.ended).toBe(true);

    hub.detach(alice.session, alice.sink);
    expect(alice.session.attached).toBe(true);
    vi.advanceTimersByTime(HUB_OPTIONS.sessionGraceMs * 2);
    expect(hub.sessionById(alice.session.id)).toBe(alice.session);
  });
});

describe("starting a call", () => {
  it("refuses a callee who is not online (not_found USER_OFFLINE)", () => {
    const alice = online("alice");
    expectHubError(
      () => hub.offer(alice.session, { toUserId: "nobody", callId: "", sdp: SAMPLE_OFFER }),
      "not_found",
      ErrorReason.USER_OFFLINE,
    );
    expect(hub.callCount).toBe(0);
  });

  it("refuses a call to yourself", () => {
    const alice = online("alice");
    expectHubError(
      () => hub.offer(alice.session, { toUserId: "alice", callId: "", sdp: SAMPLE_OFFER }),
      "invalid_argument",
      ErrorReason.INVALID_REQUEST,
    );
    expect(alice.sink.messages).toEqual([]);
  });

  it("refuses a callee who is in another call (failed_precondition USER_BUSY)", () => {
    ringing();
    const carol = online("carol");
    for (const busy of ["alice", "bob"]) {
      expectHubError(
        () => hub.offer(carol.session, { toUserId: busy, callId: "", sdp: SAMPLE_OFFER }),
        "failed_precondition",
        ErrorReason.USER_BUSY,
      );
    }
    expect(hub.callCount).toBe(1);
  });

  it("refuses a caller who is already in a call (ALREADY_IN_CALL)", () => {
    const { alice } = ringing();
    online("carol");
    expectHubError(
      () => hub.offer(alice.session, { toUserId: "carol", callId: "", sdp: SAMPLE_OFFER }),
      "failed_precondition",
      ErrorReason.ALREADY_IN_CALL,
    );
  });

  it("on glare keeps the existing call and names it (aborted CALL_GLARE)", () => {
    const { alice, bob, callId } = ringing();
    const error = expectHubError(
      () => hub.offer(bob.session, { toUserId: "alice", callId: "", sdp: SAMPLE_OFFER }),
      "aborted",
      ErrorReason.CALL_GLARE,
    );
    expect(error.callId).toBe(callId);
    expect(alice.sink.messages).toEqual([]);
    expect(hub.callCount).toBe(1);
  });

  it("tells the callee it is the polite peer, and relays renegotiation offers", () => {
    const alice = online("alice");
    const bob = online("bob");
    const callId = hub.offer(alice.session, { toUserId: "bob", callId: "", sdp: SAMPLE_OFFER });
    const [offer] = bob.sink.take();
    expect(offer && isEvent(offer, "offer") && offer.event.value).toMatchObject({
      sdp: SAMPLE_OFFER,
      renegotiation: false,
      polite: true,
    });
    hub.answer(bob.session, { callId, sdp: SAMPLE_ANSWER });
    expect(hub.offer(bob.session, { toUserId: "", callId, sdp: "renegotiate" })).toBe(callId);
    const [answer, again] = alice.sink.take();
    expect(answer && isEvent(answer, "answer") && answer.event.value).toMatchObject({ sdp: SAMPLE_ANSWER, polite: false });
    expect(again && isEvent(again, "offer") && again.event.value).toMatchObject({
      sdp: "renegotiate",
      renegotiation: true,
      polite: false,
    });
    // Within a call, an offer to someone outside it is an invitation (refused: carol is offline).
    expectHubError(
      () => hub.offer(bob.session, { toUserId: "carol", callId, sdp: "x" }),
      "not_found",
      ErrorReason.USER_OFFLINE,
    );
  });
});

describe("within a call", () => {
  it("refuses an answer from the caller while ringing (WRONG_STATE)", () => {
    const { alice, bob, callId } = ringing();
    expectHubError(() => hub.answer(alice.session, { callId, sdp: SAMPLE_ANSWER }), "failed_precondition", ErrorReason.WRONG_STATE);
    expect(bob.sink.messages).toEqual([]);
    expect(hub.snapshot().calls).toMatchObject([{ id: callId, caller: "alice", callee: "bob", state: "ringing" }]);
  });

  it("refuses every action from someone outside the call (permission_denied NOT_IN_CALL)", () => {
    const { alice, bob, callId } = active();
    const carol = online("carol");
    const actions = [
      () => hub.answer(carol.session, { callId, sdp: SAMPLE_ANSWER }),
      () => hub.offer(carol.session, { toUserId: "", callId, sdp: SAMPLE_OFFER }),
      () => hub.candidates(carol.session, callId, [iceCandidate(SAMPLE_CANDIDATE)], false),
      () => hub.hangUp(carol.session, callId, EndReason.HANGUP),
    ];
    for (const action of actions) expectHubError(action, "permission_denied", ErrorReason.NOT_IN_CALL);
    expect([...alice.sink.messages, ...bob.sink.messages]).toEqual([]);
    expect(hub.callCount).toBe(1);
  });

  it("refuses an unknown call id (not_found CALL_NOT_FOUND)", () => {
    const alice = online("alice");
    expectHubError(() => hub.answer(alice.session, { callId: "no-such-call", sdp: SAMPLE_ANSWER }), "not_found", ErrorReason.CALL_NOT_FOUND);
  });

  const hangUps: { name: string; state: "ringing" | "active"; by: "alice" | "bob"; requested: EndReason; recorded: EndReason }[] = [
    { name: "callee refuses a ringing call", state: "ringing", by: "bob", requested: EndReason.HANGUP, recorded: EndReason.DECLINED },
    { name: "callee says it is busy", state: "ringing", by: "bob", requested: EndReason.BUSY, recorded: EndReason.BUSY },
    { name: "caller gives up", state: "ringing", by: "alice", requested: EndReason.HANGUP, recorded: EndReason.CANCELED },
    { name: "caller cannot claim a decline", state: "ringing", by: "alice", requested: EndReason.DECLINED, recorded: EndReason.CANCELED },
    { name: "caller cannot claim busy", state: "ringing", by: "alice", requested: EndReason.BUSY, recorded: EndReason.CANCELED },
    { name: "caller hangs up", state: "active", by: "alice", requested: EndReason.HANGUP, recorded: EndReason.HANGUP },
    { name: "callee hangs up", state: "active", by: "bob", requested: EndReason.UNSPECIFIED, recorded: EndReason.HANGUP },
    { name: "active call cannot be declined", state: "active", by: "bob", requested: EndReason.DECLINED, recorded: EndReason.HANGUP },
    { name: "error while ringing", state: "ringing", by: "alice", requested: EndReason.ERROR, recorded: EndReason.ERROR },
    { name: "error while active", state: "active", by: "bob", requested: EndReason.ERROR, recorded: EndReason.ERROR },
    { name: "no path while ringing", state: "ringing", by: "bob", requested: EndReason.CONNECT_FAILED, recorded: EndReason.CONNECT_FAILED },
    { name: "no path while active", state: "active", by: "alice", requested: EndReason.CONNECT_FAILED, recorded: EndReason.CONNECT_FAILED },
  ];

  it.each(hangUps)("records the reason from state and role: $name", ({ state, by, requested, recorded }) => {
    const call = state === "ringing" ? ringing() : active();
    const ender = call[by];
    const other = by === "alice" ? call.bob : call.alice;

    expect(hub.hangUp(ender.session, call.callId, requested)).toBe(recorded);

    expect(endings(other.sink.take())).toEqual([{ reason: recorded, endedBy: by, from: by, callId: call.callId }]);
    expect(ender.sink.messages).toEqual([]);
    expect(hub.callCount).toBe(0);
    expectHubError(() => hub.hangUp(ender.session, call.callId, requested), "not_found", ErrorReason.CALL_NOT_FOUND);
  });

  it("ends an unanswered call as NO_ANSWER to both at the ring timeout", () => {
    const { alice, bob, callId } = ringing();
    vi.advanceTimersByTime(HUB_OPTIONS.ringTimeoutMs - 1);
    expect([...alice.sink.messages, ...bob.sink.messages]).toEqual([]);

    vi.advanceTimersByTime(1);
    const expected = [{ reason: EndReason.NO_ANSWER, endedBy: "", from: "", callId }];
    expect(endings(alice.sink.take())).toEqual(expected);
    expect(endings(bob.sink.take())).toEqual(expected);
    expect(hub.callCount).toBe(0);
    // Both are free again.
    expect(hub.offer(bob.session, { toUserId: "alice", callId: "", sdp: SAMPLE_OFFER })).not.toBe(callId);
  });

  it("does not time out a call that was answered", () => {
    const { alice, bob } = active();
    vi.advanceTimersByTime(HUB_OPTIONS.ringTimeoutMs * 2);
    expect([...alice.sink.messages, ...bob.sink.messages]).toEqual([]);
    expect(hub.callCount).toBe(1);
  });
});

describe("presence", () => {
  it("goes only to watchers, never to the user it is about", () => {
    const watcher = online("watcher", true);
    const bystander = online("bystander", false);
    const carol = online("carol", true);

    hub.close(carol.session);

    expect(presence(watcher.sink)).toEqual([
      ["bystander", true],
      ["carol", true],
      ["carol", false],
    ]);
    expect(bystander.sink.messages).toEqual([]);
    expect(presence(carol.sink)).toEqual([]);
    expect(carol.sink.ended).toBe(true);
  });
});

describe("resume and control messages", () => {
  /** alice's session with `count` sequenced events (candidate batches from bob). */
  function withEvents(count: number) {
    const call = active();
    for (let i = 0; i < count; i += 1) {
      hub.candidates(call.bob.session, call.callId, [iceCandidate(`${SAMPLE_CANDIDATE} #${i}`)], false);
    }
    return call;
  }

  it("replays exactly the missed events, in order, without duplicates", () => {
    const { alice, bob, callId } = withEvents(3);
    // alice saw the answer (seq 1) and three batches; the stream breaks, two more events happen.
    expect(alice.sink.take().map((m) => m.seq)).toEqual([2n, 3n, 4n]);
    hub.detach(alice.session, alice.sink);
    hub.candidates(bob.session, callId, [iceCandidate("late-1")], false);
    hub.candidates(bob.session, callId, [iceCandidate("late-2")], true);
    expect(alice.sink.messages).toEqual([]);

    // The client had processed up to seq 3 only: 4 must come again, then 5 and 6.
    expect(alice.session.canReplayAfter(3n)).toBe(true);
    const resumed = new CollectingSink();
    hub.attach(alice.session, resumed);
    alice.session.replayAfter(3n);
    hub.candidates(bob.session, callId, [iceCandidate("after-resume")], false);

    const seen = resumed.take();
    expect(seen.map((m) => m.seq)).toEqual([4n, 5n, 6n, 7n]);
    expect(
      seen.map((m) => (isEvent(m, "iceCandidates") ? m.event.value.candidates.map((c) => c.candidate) : [])),
    ).toEqual([[`${SAMPLE_CANDIDATE} #2`], ["late-1"], ["late-2"], ["after-resume"]]);
  });

  it("can replay after the latest seq (nothing missed) but not from the future", () => {
    const { alice } = withEvents(2);
    const last = alice.session.seq;
    expect(alice.session.canReplayAfter(last)).toBe(true);
    expect(alice.session.canReplayAfter(last + 1n)).toBe(false);
    const resumed = new CollectingSink();
    hub.attach(alice.session, resumed);
    alice.session.replayAfter(last);
    expect(resumed.messages).toEqual([]);
  });

  it("refuses to replay once the missed events fell out of the bounded history", () => {
    const { alice } = withEvents(HUB_OPTIONS.historyLimit.events + 4);
    const last = alice.session.seq;
    const oldestKept = last - BigInt(HUB_OPTIONS.historyLimit.events) + 1n;
    expect(alice.session.canReplayAfter(oldestKept - 1n)).toBe(true);
    expect(alice.session.canReplayAfter(oldestKept - 2n)).toBe(false);
    expect(alice.session.canReplayAfter(0n)).toBe(false);
    expect(hub.resumable(alice.session.id, 0n)).toBeUndefined();
    expect(hub.resumable(alice.session.id, last)).toBe(alice.session);
  });

  it("bounds the history by weight as well as count: large SDPs push old events out", () => {
    const call = active();
    const sdp = "v=0\r\n".padEnd(200 * 1024, "a");
    for (let i = 0; i < 6; i += 1) hub.offer(call.bob.session, { toUserId: "", callId: call.callId, sdp });
    const last = call.alice.session.seq;
    // The test hub's 1 MiB holds five of these offers, far below its 16-event count.
    expect(call.alice.session.canReplayAfter(last - 5n)).toBe(true);
    expect(call.alice.session.canReplayAfter(last - 6n)).toBe(false);
  });

  describe("forgets events no resume can need", () => {
    // The client's watchdog (two heartbeats and a second), then the grace period to come back.
    const ageMs = HUB_OPTIONS.sessionGraceMs + 2 * HUB_OPTIONS.heartbeatMs + 1_000;

    it("keeps everything a detached session missed for its whole grace period", () => {
      const { alice, bob, callId } = withEvents(2);
      hub.start();
      hub.detach(alice.session, alice.sink);
      hub.hangUp(bob.session, callId, EndReason.HANGUP);
      vi.advanceTimersByTime(HUB_OPTIONS.sessionGraceMs - 1);
      expect(hub.resumable(alice.session.id, 0n)).toBe(alice.session);
      const resumed = new CollectingSink();
      hub.attach(alice.session, resumed);
      alice.session.replayAfter(0n);
      expect(resumed.messages.map((m) => m.event.case)).toEqual(["answer", "iceCandidates", "iceCandidates", "callEnded"]);
    });

    it("drops a finished call's events once a broken stream could no longer resume for them", () => {
      const { alice, bob, callId } = withEvents(2);
      hub.hangUp(bob.session, callId, EndReason.HANGUP);
      hub.start();
      const last = alice.session.seq;
      // The stream still looks alive, as a half-open one does: its client may yet come back.
      vi.advanceTimersByTime(ageMs - HUB_OPTIONS.heartbeatMs);
      expect(hub.resumable(alice.session.id, 0n)).toBe(alice.session);

      expect(hub.keptEventCount).toBeGreaterThan(0);
      vi.advanceTimersByTime(2 * HUB_OPTIONS.heartbeatMs);
      expect(hub.keptEventCount).toBe(0);
      expect(hub.resumable(alice.session.id, 0n)).toBeUndefined();
      expect(hub.resumable(alice.session.id, last - 1n)).toBeUndefined();
      // A client that missed nothing still resumes, and newer events are kept as before.
      expect(hub.resumable(alice.session.id, last)).toBe(alice.session);
      hub.offer(bob.session, { toUserId: "alice", callId: "", sdp: SAMPLE_OFFER });
      expect(hub.resumable(alice.session.id, last)).toBe(alice.session);
      expect(alice.session.seq).toBe(last + 1n);
    });
  });

  it("sends heartbeats with the latest seq, and never stores or renumbers them", () => {
    const { alice, bob } = withEvents(2);
    alice.sink.take();
    bob.sink.take();
    hub.start();

    vi.advanceTimersByTime(HUB_OPTIONS.heartbeatMs);
    const [beat, ...more] = alice.sink.take();
    expect(more).toEqual([]);
    expect(beat?.event.case).toBe("heartbeat");
    expect(beat?.seq).toBe(alice.session.seq);
    expect(bob.sink.take().map((m) => [m.event.case, m.seq])).toEqual([["heartbeat", bob.session.seq]]);

    vi.advanceTimersByTime(HUB_OPTIONS.heartbeatMs);
    expect(alice.sink.take().map((m) => [m.event.case, m.seq])).toEqual([["heartbeat", 3n]]);

    const resumed = new CollectingSink();
    hub.attach(alice.session, resumed);
    alice.session.replayAfter(0n);
    expect(resumed.messages.map((m) => m.event.case)).not.toContain("heartbeat");
    expect(alice.session.seq).toBe(3n);
  });

  it("tells every stream to reconnect when draining, as an unsequenced control message", () => {
    const { alice, bob } = withEvents(1);
    alice.sink.take();
    hub.drain(250);
    const [draining] = alice.sink.take();
    expect(draining && isEvent(draining, "draining") && draining.event.value.reconnectAfterMs).toBe(250);
    expect(draining?.seq).toBe(alice.session.seq);
    expect(bob.sink.take().map((m) => m.event.case)).toEqual(["draining"]);
  });
});
