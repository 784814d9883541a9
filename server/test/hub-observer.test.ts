/**
 * HubOptions.observer: what the hub reports for metrics. Setup time is measured on the hub's
 * clock from the first offer to the accepted answer; every end is reported once, with the
 * reason recorded for the call.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EndReason } from "@peertobeer/protocol";
import { Hub, type Session } from "../src/hub/index.js";
import { CollectingSink, HUB_OPTIONS, SAMPLE_ANSWER, SAMPLE_OFFER } from "./helpers.js";

describe("the hub's observer", () => {
  let hub: Hub;
  let clock: number;
  const answered: number[] = [];
  const ended: EndReason[] = [];

  beforeEach(() => {
    vi.useFakeTimers();
    clock = 1_000_000;
    answered.length = 0;
    ended.length = 0;
    hub = new Hub({
      ...HUB_OPTIONS,
      ringTimeoutMs: 30_000,
      now: () => clock,
      observer: { callAnswered: (ms) => answered.push(ms), callEnded: (reason) => ended.push(reason) },
    });
  });

  afterEach(() => {
    hub.stop();
    vi.useRealTimers();
  });

  function online(userId: string): Session {
    const session = hub.open(userId, false);
    hub.attach(session, new CollectingSink());
    return session;
  }

  it("reports the setup time of an accepted call, and its hang-up once", () => {
    const alice = online("alice");
    const bob = online("bob");
    const callId = hub.offer(alice, { toUserId: "bob", callId: "", sdp: SAMPLE_OFFER });
    clock += 2_500;
    hub.answer(bob, { callId, sdp: SAMPLE_ANSWER });
    // A renegotiation answer is not a second setup.
    hub.offer(alice, { toUserId: "", callId, sdp: SAMPLE_OFFER });
    hub.answer(bob, { callId, sdp: SAMPLE_ANSWER });
    expect(answered).toEqual([2_500]);
    expect(hub.ringingCallCount).toBe(0);
    hub.hangUp(alice, callId, EndReason.HANGUP);
    expect(() => hub.hangUp(bob, callId, EndReason.HANGUP)).toThrow();
    expect(ended).toEqual([EndReason.HANGUP]);
  });

  it("reports declined, canceled, unanswered and abandoned calls with their reasons", () => {
    const [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map(online) as [Session, Session, Session, Session];
    hub.hangUp(bob, hub.offer(alice, { toUserId: "bob", callId: "", sdp: SAMPLE_OFFER }), EndReason.DECLINED);
    hub.hangUp(alice, hub.offer(alice, { toUserId: "bob", callId: "", sdp: SAMPLE_OFFER }), EndReason.HANGUP);
    hub.offer(carol, { toUserId: "dave", callId: "", sdp: SAMPLE_OFFER });
    expect(hub.ringingCallCount).toBe(1);
    vi.advanceTimersByTime(30_000);
    hub.offer(carol, { toUserId: "dave", callId: "", sdp: SAMPLE_OFFER });
    hub.close(dave);
    expect(answered).toEqual([]);
    expect(ended).toEqual([EndReason.DECLINED, EndReason.CANCELED, EndReason.NO_ANSWER, EndReason.PEER_GONE]);
  });
});
