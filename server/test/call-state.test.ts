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

/** A fresh call brought to `state` through allowed transitions only. */
function callIn(state: CallState): Call {
  const call = new Call("call-1", "alice", "bob");
  if (state === "active") call.transition("active");
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
    expect(new Call("call-1", "alice", "bob").state).toBe("ringing");
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

  it.each(["active", "ended"] as const)("stops the ring timer on leaving ringing for %s", (to) => {
    vi.useFakeTimers();
    const call = new Call("call-1", "alice", "bob");
    const onTimeout = vi.fn();
    call.ringTimer = setTimeout(() => onTimeout(), 1_000);
    call.transition(to);
    vi.advanceTimersByTime(10_000);
    expect(onTimeout).not.toHaveBeenCalled();
  });
});

describe("call roles", () => {
  const call = new Call("call-1", "alice", "bob");

  it("knows its participants and their peers", () => {
    expect([call.has("alice"), call.has("bob"), call.has("carol")]).toEqual([true, true, false]);
    expect([call.peerOf("alice"), call.peerOf("bob")]).toEqual(["bob", "alice"]);
  });

  it("makes the callee the polite peer", () => {
    expect([call.isPolite("alice"), call.isPolite("bob")]).toEqual([false, true]);
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
