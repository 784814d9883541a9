import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CANDIDATE_TIMING, PeerCall, type CallSignaling, type CandidateBurst } from "../src/index.js";
import { StandInPeerConnection } from "./stand-in-peer-connection.js";

/*
 * When PeerCall lets its offers, answers and candidates go: timers, not media, so a stand-in
 * RTCPeerConnection that only gathers what the test tells it to (real calls are in e2e/).
 */

type Sent =
  | { at: number; kind: "offer"; candidates: string[]; end: boolean }
  | { at: number; kind: "answer" | "ringing answer"; candidates: string[]; end: boolean }
  | { at: number; kind: "candidates"; candidates: string[]; end: boolean };

function recordingSignaling(sent: Sent[]): CallSignaling {
  const names = (burst: CandidateBurst) => burst.candidates.map((c) => c.candidate ?? "");
  return {
    sendOffer: async (_sdp, burst) => void sent.push({ at: Date.now(), kind: "offer", candidates: names(burst), end: burst.endOfCandidates }),
    sendAnswer: async (_sdp, burst, ringing) =>
      void sent.push({ at: Date.now(), kind: ringing ? "ringing answer" : "answer", candidates: names(burst), end: burst.endOfCandidates }),
    sendCandidates: async (candidates, end) =>
      void sent.push({ at: Date.now(), kind: "candidates", candidates: candidates.map((c) => c.candidate ?? ""), end }),
  };
}

function newCall(sent: Sent[], held = false): { call: PeerCall; pc: StandInPeerConnection } {
  return StandInPeerConnection.newCall({ signaling: recordingSignaling(sent), polite: held, held });
}

/** The caller's first offer: set, with its setLocalDescription done, at t = 0. */
async function offering(sent: Sent[]) {
  const { call, pc } = newCall(sent);
  call.start();
  pc.onnegotiationneeded?.();
  await vi.advanceTimersByTimeAsync(0);
  return { call, pc };
}

describe("PeerCall candidate timing (CANDIDATE_TIMING)", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a call's first offer waits for the end of gathering and carries every candidate and the end", async () => {
    const sent: Sent[] = [];
    const { pc } = await offering(sent);
    await vi.advanceTimersByTimeAsync(10);
    pc.gather("udp");
    await vi.advanceTimersByTimeAsync(130);
    pc.gather("tcp");
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(10);
    pc.gather(null);
    expect(sent).toEqual([{ at: 150, kind: "offer", candidates: ["udp", "tcp"], end: true }]);
  });

  it(`a first offer goes after ${CANDIDATE_TIMING.firstOfferWaitMs} ms with what was gathered; later candidates trickle in batches`, async () => {
    const sent: Sent[] = [];
    const { pc } = await offering(sent);
    pc.gather("host");
    await vi.advanceTimersByTimeAsync(CANDIDATE_TIMING.firstOfferWaitMs);
    expect(sent).toEqual([{ at: CANDIDATE_TIMING.firstOfferWaitMs, kind: "offer", candidates: ["host"], end: false }]);
    await vi.advanceTimersByTimeAsync(100);
    pc.gather("relay-1");
    await vi.advanceTimersByTimeAsync(5);
    pc.gather("relay-2");
    await vi.advanceTimersByTimeAsync(CANDIDATE_TIMING.batchMs);
    pc.gather(null);
    expect(sent.slice(1)).toEqual([
      { at: 600 + CANDIDATE_TIMING.batchMs, kind: "candidates", candidates: ["relay-1", "relay-2"], end: false },
      { at: 605 + CANDIDATE_TIMING.batchMs, kind: "candidates", candidates: [], end: true },
    ]);
  });

  it("an offer later in the call (an ICE restart) waits one batch window, not for the end of gathering", async () => {
    const sent: Sent[] = [];
    const { call, pc } = await offering(sent);
    pc.gather(null);
    await call.handleDescription({ type: "answer", sdp: "answer-sdp" });
    pc.iceGatheringState = "new"; // a restart gathers afresh
    sent.length = 0;
    const restartAt = Date.now();
    pc.onnegotiationneeded?.();
    await vi.advanceTimersByTimeAsync(0);
    pc.gather("udp-2");
    await vi.advanceTimersByTimeAsync(CANDIDATE_TIMING.descriptionWaitMs);
    expect(sent).toEqual([{ at: restartAt + CANDIDATE_TIMING.descriptionWaitMs, kind: "offer", candidates: ["udp-2"], end: false }]);
  });

  it("a renegotiation with gathering complete (no ICE restart) goes at once", async () => {
    const sent: Sent[] = [];
    const { call, pc } = await offering(sent);
    pc.gather(null);
    await call.handleDescription({ type: "answer", sdp: "answer-sdp" });
    sent.length = 0;
    const at = Date.now();
    pc.onnegotiationneeded?.();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([{ at, kind: "offer", candidates: [], end: false }]);
  });

  it("a held answer goes at once as a ringing answer with no candidate, then again with everything gathered on Accept", async () => {
    const sent: Sent[] = [];
    const { call, pc } = newCall(sent, true);
    await call.handleDescription({ type: "offer", sdp: "offer-sdp" }, { candidates: [{ candidate: "caller-udp" }], endOfCandidates: true });
    expect(sent).toEqual([{ at: 0, kind: "ringing answer", candidates: [], end: false }]);
    pc.gather("udp");
    await vi.advanceTimersByTimeAsync(200);
    pc.gather("tcp");
    pc.gather(null);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(sent).toHaveLength(1);
    call.release();
    expect(sent.at(-1)).toEqual({ at: 2_200, kind: "answer", candidates: ["udp", "tcp"], end: true });
  });
});
