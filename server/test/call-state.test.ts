import { afterEach, describe, expect, it, vi } from "vitest";
import { EndReason } from "@peertobeer/protocol";
import { Call, CALL_TRANSITIONS, IllegalTransitionError, type CallState } from "../src/hub/index.js";

const STATES: readonly CallState[] = ["ringing", "active", "ended"];

/** The table as the design states it (RINGING → ACTIVE → ENDED); a change to it must be deliberate. */
const EXPECTED_TABLE: Record<CallState, CallState[]> = {
  ringing: ["active", "ended"],
  active: ["ended"],
  ended: [],
};

/** alice calls bob. */
function ringingCall(): Call {
  const call = new Call("call-1", "alice");
  call.invites.set("bob", { inviter: "alice", at: 0, timer: undefined });
  return call;
}

/** bob accepts (what the hub does on his answer). */
function accept(call: Call, userId: string): void {
  call.invites.delete(userId);
  call.participants.push(userId);
  if (call.state === "ringing") call.transition("active");
}

/** A fresh call brought to `state` through allowed transitions only. */
function callIn(state: CallState): Call {
  const call = ringingCall();
  if (state === "active") accept(call, "bob");
  if (state === "ended") call.transition("ended");
  expect(call.state).toBe(state);
  return call;
}

const PAIRS = STATES.flatMap((from) =>
  STATES.map((to) => ({ from, to, allowed: CALL_TRANSITIONS[from].includes(to) })),
);

describe("call state machine", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("has exactly the transitions of the design", () => {
    expect(CALL_TRANSITIONS).toEqual(EXPECTED_TABLE);
    expect(PAIRS).toHaveLength(9);
    expect(PAIRS.filter((p) => p.allowed)).toHaveLength(3);
  });

  it("starts ringing", () => {
    expect(ringingCall().state).toBe("ringing");
  });

  it.each(PAIRS.filter((p) => p.allowed))("allows $from → $to", ({ from, to }) => {
    const call = callIn(from);
    call.transition(to);
    expect(call.state).toBe(to);
  });

  it.each(PAIRS.filter((p) => !p.allowed))("forbids $from → $to with IllegalTransitionError", ({ from, to }) => {
    const call = callIn(from);
    expect(() => call.transition(to)).toThrow(IllegalTransitionError);
    expect(() => call.transition(to)).toThrow(`call cannot go from ${from} to ${to}`);
    expect(call.state).toBe(from);
  });

  it("stops every invitation's ring timer when it ends", () => {
    vi.useFakeTimers();
    const call = ringingCall();
    const onTimeout = vi.fn();
    call.invites.set("bob", { inviter: "alice", at: 0, timer: setTimeout(() => onTimeout(), 1_000) });
    call.transition("ended");
    vi.advanceTimersByTime(10_000);
    expect(onTimeout).not.toHaveBeenCalled();
  });
});

describe("call roles", () => {
  it("knows its participants and whom each one's requests are for", () => {
    const call = ringingCall();
    expect([call.has("alice"), call.has("bob"), call.has("carol")]).toEqual([true, true, false]);
    expect([call.soleLink("alice"), call.soleLink("bob")]).toEqual(["bob", "alice"]);
    expect([call.caller, call.callee, call.size]).toEqual(["alice", "bob", 2]);
  });

  it("makes the later of each pair the polite peer", () => {
    const call = callIn("active");
    expect([call.isPolite("alice", "bob"), call.isPolite("bob", "alice")]).toEqual([false, true]);
    call.invites.set("carol", { inviter: "bob", at: 0, timer: undefined });
    expect([call.isPolite("carol", "bob"), call.isPolite("bob", "carol")]).toEqual([true, false]);
  });

  it("links participants to each other, and an invitee only to whoever invited them", () => {
    const call = callIn("active");
    call.invites.set("carol", { inviter: "bob", at: 0, timer: undefined });
    expect([call.linked("alice", "bob"), call.linked("bob", "carol"), call.linked("alice", "carol"), call.linked("bob", "bob")]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    // alice's requests still need no addressee; bob's do now.
    expect([call.soleLink("alice"), call.soleLink("bob"), call.soleLink("carol")]).toEqual(["bob", undefined, "bob"]);
    accept(call, "carol");
    expect([call.linked("alice", "carol"), call.participants]).toEqual([true, ["alice", "bob", "carol"]]);
  });

  it("derives the end reason from state and role, taking only ERROR, CONNECT_FAILED and a callee's BUSY from the request", () => {
    const ringing = callIn("ringing");
    expect(ringing.endReasonFor("alice", EndReason.DECLINED)).toBe(EndReason.CANCELED);
    expect(ringing.endReasonFor("bob", EndReason.HANGUP)).toBe(EndReason.DECLINED);
    expect(ringing.endReasonFor("bob", EndReason.BUSY)).toBe(EndReason.BUSY);
    expect(ringing.endReasonFor("bob", EndReason.NO_ANSWER)).toBe(EndReason.DECLINED);
    expect(ringing.endReasonFor("alice", EndReason.ERROR)).toBe(EndReason.ERROR);
    const active = callIn("active");
    expect(active.endReasonFor("alice", EndReason.CANCELED)).toBe(EndReason.HANGUP);
    expect(active.endReasonFor("bob", EndReason.PEER_GONE)).toBe(EndReason.HANGUP);
    expect(active.endReasonFor("bob", EndReason.ERROR)).toBe(EndReason.ERROR);
    expect(ringing.endReasonFor("bob", EndReason.CONNECT_FAILED)).toBe(EndReason.CONNECT_FAILED);
    expect(active.endReasonFor("alice", EndReason.CONNECT_FAILED)).toBe(EndReason.CONNECT_FAILED);
  });
});
